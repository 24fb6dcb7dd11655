// Catalog: SQL for the snapshot_verifications table (the last verify of
// each snapshot's stored layer; engine/snapshot_verify.h). See catalog.h.
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

}  // namespace strata::db
