// Catalog: SQL for the unsettled_histories table (revert histories not yet
// written back; engine/settle.cc). See catalog.h.
#include <nlohmann/json.hpp>

#include "db/catalog.h"
#include "util/time_util.h"

namespace strata::db {

Status Catalog::AddUnsettledHistory(const UnsettledHistoryRecord& h) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "INSERT OR REPLACE INTO unsettled_histories (path, "
                         "volume_id, layers, file_check, created_at) "
                         "VALUES (?,?,?,?,?)"));
  st.Bind(1, h.path)
      .Bind(2, h.volume_id)
      .Bind(3, nlohmann::json(h.layers).dump())
      .BindOpt(4, h.file_check)
      .Bind(5, h.created_at ? h.created_at : NowMicros());
  return st.Run();
}

Status Catalog::SetUnsettledHistoryCheck(const std::string& path,
                                         const std::string& file_check) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_, "UPDATE unsettled_histories SET file_check=? WHERE path=?"));
  st.Bind(1, file_check).Bind(2, path);
  return st.Run();
}

Result<std::vector<UnsettledHistoryRecord>> Catalog::UnsettledHistories() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "SELECT path, volume_id, layers, file_check, "
                         "created_at FROM unsettled_histories "
                         "ORDER BY created_at, path"));
  std::vector<UnsettledHistoryRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    UnsettledHistoryRecord h;
    h.path = st.ColumnText(0);
    h.volume_id = st.ColumnText(1);
    auto layers = nlohmann::json::parse(st.ColumnText(2), nullptr, false);
    if (layers.is_array())
      for (const auto& l : layers)
        if (l.is_string()) h.layers.push_back(l.get<std::string>());
    h.file_check = st.ColumnOptText(3);
    h.created_at = st.ColumnInt(4);
    out.push_back(std::move(h));
  }
}

Status Catalog::RemoveUnsettledHistory(const std::string& path) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, "DELETE FROM unsettled_histories WHERE path=?"));
  st.Bind(1, path);
  return st.Run();
}

}  // namespace strata::db
