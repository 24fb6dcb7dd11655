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
          "INSERT OR REPLACE INTO memory_snapshots "
          "(snapshot_id, memory_state, memory_domain, memory_region, "
          "memory_figures, memory_error, memory_updated_at) "
          "VALUES (?,?,?,?,?,?,?)"));
  st.Bind(1, id)
      .Bind(2, state)
      .Bind(3, domain)
      .Bind(4, region)
      .Bind(5, figures)
      .Bind(6, error)
      .Bind(7, NowMicros());
  return st.Run();
}

}  // namespace strata::db
