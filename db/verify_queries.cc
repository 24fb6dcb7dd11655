// Catalog: SQL for the snapshot_verifications table (the last verify of
// each snapshot's stored layer; engine/snapshot_verify.h) and the
// memory_snapshots table (the memory taken with a snapshot;
// engine/memory_snapshot.h): the rows a snapshot's views join. See
// catalog.h.
#include "db/catalog.h"
#include "util/time_util.h"

namespace strata::db {

Status Catalog::SetSnapshotVerify(const std::string& id,
                                  const std::string& state,
                                  const std::string& error) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "INSERT OR REPLACE INTO snapshot_verifications "
          "(snapshot_id, verify_state, verified_at, verify_error) "
          "VALUES (?,?,?,?)"));
  st.Bind(1, id).Bind(2, state).Bind(3, NowMicros()).Bind(4, error);
  return st.Run();
}

Status Catalog::EndInterruptedVerifies() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "UPDATE snapshot_verifications SET verify_state='interrupted', "
          "verify_error='a restart of stratad cut the verify short' "
          "WHERE verify_state='verifying'"));
  return st.Run();
}

Status Catalog::SetSnapshotMemory(const std::string& id,
                                  const std::string& state,
                                  const std::string& domain,
                                  const std::string& region,
                                  const std::string& figures,
                                  const std::string& error) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "INSERT INTO memory_snapshots "
          "(snapshot_id, memory_state, memory_domain, memory_region, "
          "memory_figures, memory_error, memory_updated_at) "
          "VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT (snapshot_id) DO UPDATE "
          "SET memory_state=?2, memory_domain=?3, memory_region=?4, "
          "memory_figures=?5, memory_error=?6, memory_updated_at=?7"));
  st.Bind(1, id)
      .Bind(2, state)
      .Bind(3, domain)
      .Bind(4, region)
      .Bind(5, figures)
      .Bind(6, error)
      .Bind(7, NowMicros());
  return st.Run();
}

Result<std::vector<std::string>> Catalog::MemoryRegionsHeld() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "SELECT memory_region FROM memory_snapshots WHERE "
                         "memory_state IN ('writing', 'complete')"));
  std::vector<std::string> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(st.ColumnText(0));
  }
}

Status Catalog::SetSnapshotMemoryStored(const std::string& id,
                                        const std::string& key,
                                        const std::string& sha256,
                                        int64_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "UPDATE memory_snapshots SET memory_store_key=?, "
                         "memory_store_sha256=?, memory_store_bytes=?, "
                         "memory_updated_at=? WHERE snapshot_id=?"));
  st.Bind(1, key)
      .Bind(2, sha256)
      .Bind(3, bytes)
      .Bind(4, NowMicros())
      .Bind(5, id);
  return st.RunUpdate("snapshot " + id + " has no memory part");
}

}  // namespace strata::db
