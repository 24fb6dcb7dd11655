// Catalog: SQL for write_history, NBD exports' writes per time-of-day slot
// (R0.11), summed over the slot periods observed.
#include "db/catalog.h"
#include "util/time_util.h"

namespace strata::db {

Status Catalog::AddWriteHistory(const std::string& export_name,
                                int64_t slot_seconds,
                                const std::vector<WriteSlotRecord>& deltas) {
  // One transaction: a day's worth of slots costs one commit, not 96.
  return Transaction([&]() -> Status {
    const int64_t now = NowMicros();
    for (const WriteSlotRecord& d : deltas) {
      if (d.slot < 0 || d.periods < 0 || d.writes < 0 || d.bytes < 0)
        return Status::InvalidArgument("write history of " + export_name +
                                       ": negative slot or count");
      STRATA_ASSIGN_OR_RETURN(
          Statement st,
          Statement::Prepare(
              db_,
              "INSERT INTO write_history (export_name, slot_seconds, slot, "
              "periods, writes, bytes, updated_at) VALUES (?,?,?,?,?,?,?) "
              "ON CONFLICT(export_name, slot_seconds, slot) DO UPDATE SET "
              "periods = periods + excluded.periods, "
              "writes = writes + excluded.writes, "
              "bytes = bytes + excluded.bytes, "
              "updated_at = excluded.updated_at"));
      st.Bind(1, export_name)
          .Bind(2, slot_seconds)
          .Bind(3, d.slot)
          .Bind(4, d.periods)
          .Bind(5, d.writes)
          .Bind(6, d.bytes)
          .Bind(7, now);
      STRATA_RETURN_IF_ERROR(st.Run());
    }
    return Status::OK();
  });
}

Result<std::vector<WriteSlotRecord>> Catalog::WriteHistoryOf(
    const std::string& export_name, int64_t slot_seconds) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "SELECT slot, periods, writes, bytes FROM "
                         "write_history WHERE export_name=? AND "
                         "slot_seconds=? ORDER BY slot"));
  st.Bind(1, export_name).Bind(2, slot_seconds);
  std::vector<WriteSlotRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(
        {st.ColumnInt(0), st.ColumnInt(1), st.ColumnInt(2), st.ColumnInt(3)});
  }
}

}  // namespace strata::db
