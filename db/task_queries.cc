// Catalog: SQL for the tasks table, the journal of disk operations.
#include "db/catalog.h"
#include "util/metrics.h"
#include "util/time_util.h"

namespace strata::db {
namespace {

const char kTaskSelect[] =
    "SELECT id, kind, volume_id, snapshot_id, status, step, progress, state, "
    "error, created_at, updated_at FROM tasks ";

TaskRecord ReadTask(const Statement& st) {
  TaskRecord t;
  t.id = st.ColumnText(0);
  t.kind = st.ColumnText(1);
  t.volume_id = st.ColumnText(2);
  t.snapshot_id = st.ColumnOptText(3);
  t.status = st.ColumnText(4);
  t.step = st.ColumnText(5);
  t.progress = static_cast<int>(st.ColumnInt(6));
  t.state = st.ColumnText(7);
  t.error = st.ColumnText(8);
  t.created_at = st.ColumnInt(9);
  t.updated_at = st.ColumnInt(10);
  return t;
}

// Every row `st` answers.
Result<std::vector<TaskRecord>> ReadTasks(Statement& st) {
  std::vector<TaskRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(ReadTask(st));
  }
}

}  // namespace

Status Catalog::InsertTask(const TaskRecord& t) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "INSERT INTO tasks (id, kind, volume_id, snapshot_id, "
                         "status, step, progress, state, error, created_at, "
                         "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
  st.Bind(1, t.id)
      .Bind(2, t.kind)
      .Bind(3, t.volume_id)
      .BindOpt(4, t.snapshot_id)
      .Bind(5, t.status)
      .Bind(6, t.step)
      .Bind(7, static_cast<int64_t>(t.progress))
      .Bind(8, t.state)
      .Bind(9, t.error)
      .Bind(10, t.created_at)
      .Bind(11, t.updated_at);
  return st.Run();
}

Status Catalog::SetTaskStep(const std::string& id, const std::string& step,
                            int progress, const std::string& state) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "UPDATE tasks SET step=?, progress=?, state=?, "
                         "updated_at=? WHERE id=?"));
  st.Bind(1, step)
      .Bind(2, static_cast<int64_t>(progress))
      .Bind(3, state)
      .Bind(4, NowMicros())
      .Bind(5, id);
  return st.RunUpdate("Task " + id + " could not be found.");
}

Status Catalog::FinishTask(const std::string& id, const std::string& status,
                           const std::string& error) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  // Its kind and age, for the task metrics (/metrics): every long
  // operation ends here, whichever part of the engine ran it.
  std::string kind = "unknown";
  int64_t created_at = 0;
  {
    STRATA_ASSIGN_OR_RETURN(
        Statement q, Statement::Prepare(
                         db_, "SELECT kind, created_at FROM tasks WHERE id=?"));
    q.Bind(1, id);
    STRATA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      kind = q.ColumnText(0);
      created_at = q.ColumnInt(1);
    }
  }
  const int64_t now = NowMicros();
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "UPDATE tasks SET status=?, error=?, progress=CASE "
                         "WHEN ?='succeeded' THEN 100 ELSE progress END, "
                         "updated_at=? WHERE id=?"));
  st.Bind(1, status).Bind(2, error).Bind(3, status).Bind(4, now).Bind(5, id);
  STRATA_RETURN_IF_ERROR(st.RunUpdate("Task " + id + " could not be found."));
  static const bool described = [] {
    metrics::Describe("strata_tasks_total", metrics::Type::kCounter,
                      "Long operations (snapshot create and delete, revert, "
                      "instant rollback, backup, ...) ended, by kind and "
                      "outcome.");
    metrics::Describe("strata_task_duration_seconds", metrics::Type::kHistogram,
                      "From a long operation's start to its end, by kind "
                      "and outcome.");
    return true;
  }();
  (void)described;
  metrics::Add("strata_tasks_total", {{"kind", kind}, {"status", status}});
  if (created_at > 0 && now >= created_at)
    metrics::Observe("strata_task_duration_seconds",
                     {{"kind", kind}, {"status", status}},
                     (now - created_at) / 1e6);
  return Status::OK();
}

Result<TaskRecord> Catalog::GetTask(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string(kTaskSelect) + "WHERE id=?"));
  st.Bind(1, id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("Task " + id + " could not be found.");
  return ReadTask(st);
}

Result<std::vector<TaskRecord>> Catalog::UnfinishedTasks() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st, Statement::Prepare(
                        db_, std::string(kTaskSelect) +
                                 "WHERE status='running' ORDER BY created_at"));
  return ReadTasks(st);
}

Result<std::vector<TaskRecord>> Catalog::TasksOfKind(const std::string& kind,
                                                     int limit) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string(kTaskSelect) +
                                  "WHERE kind=? ORDER BY created_at DESC, id "
                                  "LIMIT ?"));
  st.Bind(1, kind).Bind(2, static_cast<int64_t>(limit));
  return ReadTasks(st);
}

Result<std::vector<TaskRecord>> Catalog::TasksOfSnapshot(
    const std::string& kind, const std::string& snapshot_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string(kTaskSelect) +
                                  "WHERE kind=? AND snapshot_id=? ORDER BY "
                                  "created_at DESC, id"));
  st.Bind(1, kind).Bind(2, snapshot_id);
  return ReadTasks(st);
}

Result<std::vector<TaskRecord>> Catalog::ListTasks(const TaskFilter& f) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  // A task belongs to its volume's project.
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "SELECT t.id, t.kind, t.volume_id, t.snapshot_id, t.status, t.step, "
          "t.progress, t.state, t.error, t.created_at, t.updated_at "
          "FROM tasks t LEFT JOIN volumes v ON v.id = t.volume_id "
          "WHERE (?1 = '' OR v.project_id = ?1) AND (?2 = '' OR t.volume_id "
          "= ?2) AND (?3 = '' OR t.status = ?3) "
          "ORDER BY t.created_at DESC, t.id LIMIT ?4"));
  st.Bind(1, f.project_id)
      .Bind(2, f.volume_id)
      .Bind(3, f.status)
      .Bind(4, static_cast<int64_t>(f.limit));
  return ReadTasks(st);
}

}  // namespace strata::db
