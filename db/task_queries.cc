// Catalog: SQL for the tasks table, the journal of disk operations.
#include "db/catalog.h"
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
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "UPDATE tasks SET status=?, error=?, progress=CASE "
                         "WHEN ?='succeeded' THEN 100 ELSE progress END, "
                         "updated_at=? WHERE id=?"));
  st.Bind(1, status)
      .Bind(2, error)
      .Bind(3, status)
      .Bind(4, NowMicros())
      .Bind(5, id);
  return st.RunUpdate("Task " + id + " could not be found.");
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
  std::vector<TaskRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(ReadTask(st));
  }
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
  std::vector<TaskRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(ReadTask(st));
  }
}

}  // namespace strata::db
