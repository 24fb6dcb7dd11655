// Catalog: SQL for the policies and policy_runs tables (migration 18). See
// catalog.h. Thread-safety: every method holds mu_ (Catalog's contract).
#include "db/catalog.h"
#include "util/time_util.h"

namespace strata::db {
namespace {

const char kPolicyColumns[] =
    "id, project_id, user_id, name, description, enabled, targets, schedule, "
    "timezone, run_missed, retention, retry_attempts, retry_delay_seconds, "
    "last_scheduled_at, created_at, updated_at";

const char kRunColumns[] =
    "id, policy_id, project_id, trigger, scheduled_at, started_at, "
    "finished_at, status, attempt, snapshots, pruned, error";

PolicyRecord ReadPolicy(const Statement& st) {
  PolicyRecord p;
  p.id = st.ColumnText(0);
  p.project_id = st.ColumnText(1);
  p.user_id = st.ColumnText(2);
  p.name = st.ColumnText(3);
  p.description = st.ColumnText(4);
  p.enabled = st.ColumnInt(5) != 0;
  p.targets = st.ColumnText(6);
  p.schedule = st.ColumnText(7);
  p.timezone = st.ColumnText(8);
  p.run_missed = st.ColumnInt(9) != 0;
  p.retention = st.ColumnText(10);
  p.retry_attempts = static_cast<int>(st.ColumnInt(11));
  p.retry_delay_seconds = static_cast<int>(st.ColumnInt(12));
  p.last_scheduled_at = st.ColumnInt(13);
  p.created_at = st.ColumnInt(14);
  p.updated_at = st.ColumnInt(15);
  return p;
}

void BindPolicy(Statement& st, const PolicyRecord& p) {
  st.Bind(1, p.id)
      .Bind(2, p.project_id)
      .Bind(3, p.user_id)
      .Bind(4, p.name)
      .Bind(5, p.description)
      .Bind(6, int64_t{p.enabled})
      .Bind(7, p.targets)
      .Bind(8, p.schedule)
      .Bind(9, p.timezone)
      .Bind(10, int64_t{p.run_missed})
      .Bind(11, p.retention)
      .Bind(12, int64_t{p.retry_attempts})
      .Bind(13, int64_t{p.retry_delay_seconds})
      .Bind(14, p.last_scheduled_at)
      .Bind(15, p.created_at)
      .Bind(16, p.updated_at);
}

PolicyRunRecord ReadRun(const Statement& st) {
  PolicyRunRecord r;
  r.id = st.ColumnText(0);
  r.policy_id = st.ColumnText(1);
  r.project_id = st.ColumnText(2);
  r.trigger = st.ColumnText(3);
  r.scheduled_at = st.ColumnInt(4);
  r.started_at = st.ColumnInt(5);
  r.finished_at = st.ColumnInt(6);
  r.status = st.ColumnText(7);
  r.attempt = static_cast<int>(st.ColumnInt(8));
  r.snapshots = st.ColumnText(9);
  r.pruned = st.ColumnText(10);
  r.error = st.ColumnText(11);
  return r;
}

void BindRun(Statement& st, const PolicyRunRecord& r) {
  st.Bind(1, r.id)
      .Bind(2, r.policy_id)
      .Bind(3, r.project_id)
      .Bind(4, r.trigger)
      .Bind(5, r.scheduled_at)
      .Bind(6, r.started_at)
      .Bind(7, r.finished_at)
      .Bind(8, r.status)
      .Bind(9, int64_t{r.attempt})
      .Bind(10, r.snapshots)
      .Bind(11, r.pruned)
      .Bind(12, r.error);
}

std::string NotFoundMessage(const std::string& id) {
  return "Policy " + id + " could not be found.";
}

}  // namespace

Status Catalog::InsertPolicy(const PolicyRecord& p) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_, std::string("INSERT INTO policies (") + kPolicyColumns +
                   ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  BindPolicy(st, p);
  return st.Run();
}

Result<PolicyRecord> Catalog::GetPolicy(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("SELECT ") + kPolicyColumns +
                                  " FROM policies WHERE id=?"));
  st.Bind(1, id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound(NotFoundMessage(id));
  return ReadPolicy(st);
}

Result<std::vector<PolicyRecord>> Catalog::ListPolicies(
    const std::string& project_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  std::string sql = std::string("SELECT ") + kPolicyColumns + " FROM policies";
  if (!project_id.empty()) sql += " WHERE project_id=?";
  sql += " ORDER BY created_at, id";
  STRATA_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db_, sql));
  if (!project_id.empty()) st.Bind(1, project_id);
  std::vector<PolicyRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadPolicy(st));
  }
  return out;
}

Status Catalog::ModifyPolicy(const std::string& id,
                             const std::function<Status(PolicyRecord&)>& edit) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(PolicyRecord p, GetPolicy(id));
    STRATA_RETURN_IF_ERROR(edit(p));
    p.id = id;
    p.updated_at = NowMicros();
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(
            db_,
            "UPDATE policies SET id=?, project_id=?, user_id=?, name=?, "
            "description=?, enabled=?, targets=?, schedule=?, timezone=?, "
            "run_missed=?, retention=?, retry_attempts=?, "
            "retry_delay_seconds=?, last_scheduled_at=?, created_at=?, "
            "updated_at=? WHERE id=?"));
    BindPolicy(st, p);
    st.Bind(17, id);
    return st.RunUpdate(NotFoundMessage(id));
  });
}

Status Catalog::DeletePolicy(const std::string& id) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(
        Statement runs,
        Statement::Prepare(db_, "DELETE FROM policy_runs WHERE policy_id=?"));
    runs.Bind(1, id);
    STRATA_RETURN_IF_ERROR(runs.Run());
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db_, "DELETE FROM policies WHERE id=?"));
    st.Bind(1, id);
    return st.RunUpdate(NotFoundMessage(id));
  });
}

Status Catalog::InsertPolicyRun(const PolicyRunRecord& r) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("INSERT INTO policy_runs (") +
                                  kRunColumns +
                                  ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"));
  BindRun(st, r);
  return st.Run();
}

Status Catalog::UpdatePolicyRun(const PolicyRunRecord& r) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "UPDATE policy_runs SET id=?, policy_id=?, project_id=?, trigger=?, "
          "scheduled_at=?, started_at=?, finished_at=?, status=?, attempt=?, "
          "snapshots=?, pruned=?, error=? WHERE id=?"));
  BindRun(st, r);
  st.Bind(13, r.id);
  return st.RunUpdate("Policy run " + r.id + " could not be found.");
}

Result<std::vector<PolicyRunRecord>> Catalog::ListPolicyRuns(
    const std::string& policy_id, int64_t limit) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("SELECT ") + kRunColumns +
                                  " FROM policy_runs WHERE policy_id=? "
                                  "ORDER BY started_at DESC, id LIMIT ?"));
  st.Bind(1, policy_id).Bind(2, limit);
  std::vector<PolicyRunRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadRun(st));
  }
  return out;
}

Result<int64_t> Catalog::EndInterruptedPolicyRuns(const std::string& why,
                                                  int64_t now) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "UPDATE policy_runs SET status='error', error=?, "
                         "finished_at=? WHERE status='running'"));
  st.Bind(1, why).Bind(2, now);
  STRATA_RETURN_IF_ERROR(st.Run());
  STRATA_ASSIGN_OR_RETURN(Statement n,
                          Statement::Prepare(db_, "SELECT changes()"));
  STRATA_ASSIGN_OR_RETURN(bool row, n.Step());
  return row ? n.ColumnInt(0) : int64_t{0};
}

}  // namespace strata::db
