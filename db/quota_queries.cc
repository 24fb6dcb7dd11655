// Catalog: SQL for the quotas and quota_classes tables (migration 9) and
// the rows quota usage is counted from. See catalog.h; what the limits
// mean and their defaults are api/quotas.h's.
// Thread-safety: every method holds mu_ (Catalog's contract).
#include <map>

#include "db/catalog.h"

namespace strata::db {
namespace {

// `table` is quotas (keyed by project_id) or quota_classes (class_name).
Result<std::map<std::string, int64_t>> LimitsIn(SqliteDb& db,
                                                const std::string& table,
                                                const std::string& key_column,
                                                const std::string& key) {
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db, "SELECT resource, hard_limit FROM " + table +
                                 " WHERE " + key_column + "=?"));
  st.Bind(1, key);
  std::map<std::string, int64_t> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out[st.ColumnText(0)] = st.ColumnInt(1);
  }
}

Status SetLimitsIn(SqliteDb& db, const std::string& table,
                   const std::string& key_column, const std::string& key,
                   const std::map<std::string, int64_t>& limits) {
  for (const auto& [resource, limit] : limits) {
    STRATA_ASSIGN_OR_RETURN(
        Statement st, Statement::Prepare(db, "INSERT OR REPLACE INTO " + table +
                                                 " (" + key_column +
                                                 ", resource, hard_limit) "
                                                 "VALUES (?,?,?)"));
    st.Bind(1, key).Bind(2, resource).Bind(3, limit);
    STRATA_RETURN_IF_ERROR(st.Run());
  }
  return Status::OK();
}

}  // namespace

Result<std::map<std::string, int64_t>> Catalog::ProjectQuotas(
    const std::string& project_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return LimitsIn(db_, "quotas", "project_id", project_id);
}

Result<std::map<std::string, int64_t>> Catalog::QuotaClass(
    const std::string& class_name) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return LimitsIn(db_, "quota_classes", "class_name", class_name);
}

Status Catalog::SetProjectQuotas(const std::string& project_id,
                                 const std::map<std::string, int64_t>& limits) {
  return Transaction([&] {
    return SetLimitsIn(db_, "quotas", "project_id", project_id, limits);
  });
}

Status Catalog::SetQuotaClass(const std::string& class_name,
                              const std::map<std::string, int64_t>& limits) {
  return Transaction([&] {
    return SetLimitsIn(db_, "quota_classes", "class_name", class_name, limits);
  });
}

Status Catalog::DeleteProjectQuotas(const std::string& project_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, "DELETE FROM quotas WHERE project_id=?"));
  st.Bind(1, project_id);
  return st.Run();
}

Result<std::vector<QuotaUsageRow>> Catalog::QuotaUsageRows(
    const std::string& project_id) {
  // A snapshot counts under its own project and its volume's type; a
  // backup under its project only (Cinder has no per-type backup quota).
  const std::string where = project_id.empty() ? "" : " WHERE project_id=?";
  // A "deleted" volume (a shell kept for its backups) uses nothing.
  const std::string sql =
      "SELECT project_id, 0, volume_type_id, virtual_size FROM volumes WHERE "
      "status != 'deleted'" +
      std::string(project_id.empty() ? "" : " AND project_id=?") +
      " UNION ALL SELECT s.project_id, 1, v.volume_type_id, s.virtual_size "
      "FROM snapshots s LEFT JOIN volumes v ON v.id = s.volume_id "
      "WHERE NOT s.hidden" +
      (project_id.empty() ? "" : " AND s.project_id=?") +
      " UNION ALL SELECT project_id, 2, NULL, size_gib * 1073741824 FROM "
      "backups" +
      where;
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db_, sql));
  if (!project_id.empty())
    st.Bind(1, project_id).Bind(2, project_id).Bind(3, project_id);
  std::vector<QuotaUsageRow> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back({st.ColumnText(0), st.ColumnInt(1) == 1, st.ColumnInt(1) == 2,
                   st.ColumnOptText(2), st.ColumnInt(3)});
  }
}

}  // namespace strata::db
