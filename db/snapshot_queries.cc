// Catalog: SQL for the snapshots and uploads tables. See catalog.h.
#include <map>
#include <nlohmann/json.hpp>

#include "db/catalog.h"
#include "db/list_paging.h"
#include "util/time_util.h"

namespace strata::db {
namespace {

const char kSnapshotColumns[] =
    "id, volume_id, project_id, user_id, name, description, status, "
    "progress, parent_id, layer_file, store_key, store_location, sha256, "
    "layer_bytes, virtual_size, covers, hidden, error, metadata, created_at, "
    "updated_at, layer_sha256, layer_check, group_snapshot_id, unmanaged";

std::vector<std::string> CoversFromJson(const std::string& s) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_array())
    for (const auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

SnapshotRecord ReadSnapshot(const Statement& st) {
  SnapshotRecord s;
  s.id = st.ColumnText(0);
  s.volume_id = st.ColumnText(1);
  s.project_id = st.ColumnText(2);
  s.user_id = st.ColumnText(3);
  s.name = st.ColumnText(4);
  s.description = st.ColumnText(5);
  s.status = st.ColumnText(6);
  s.progress = static_cast<int>(st.ColumnInt(7));
  s.parent_id = st.ColumnOptText(8);
  s.layer_file = st.ColumnOptText(9);
  s.store_key = st.ColumnOptText(10);
  s.store_location = st.ColumnOptText(11);
  s.sha256 = st.ColumnOptText(12);
  s.layer_bytes = st.ColumnInt(13);
  s.virtual_size = st.ColumnInt(14);
  s.covers = CoversFromJson(st.ColumnText(15));
  s.hidden = st.ColumnInt(16) != 0;
  s.error = st.ColumnText(17);
  s.metadata = MetadataFromJson(st.ColumnText(18));
  s.created_at = st.ColumnInt(19);
  s.updated_at = st.ColumnInt(20);
  s.layer_sha256 = st.ColumnOptText(21);
  s.layer_check = st.ColumnOptText(22);
  s.group_snapshot_id = st.ColumnOptText(23);
  s.unmanaged = st.ColumnInt(24) != 0;
  s.pinned = st.ColumnInt(25) != 0;
  s.verify_state = st.ColumnText(26);
  s.verified_at = st.ColumnInt(27);
  s.verify_error = st.ColumnText(28);
  s.memory_state = st.ColumnText(29);
  s.memory_domain = st.ColumnText(30);
  s.memory_region = st.ColumnText(31);
  s.memory_figures = st.ColumnText(32);
  s.memory_error = st.ColumnText(33);
  s.memory_store_key = st.ColumnText(34);
  s.memory_store_sha256 = st.ColumnText(35);
  s.memory_store_bytes = st.ColumnInt(36);
  return s;
}

// Binds every column but id (1..24) then id (25), in kSnapshotColumns order.
void BindSnapshot(Statement& st, const SnapshotRecord& s) {
  st.Bind(1, s.volume_id)
      .Bind(2, s.project_id)
      .Bind(3, s.user_id)
      .Bind(4, s.name)
      .Bind(5, s.description)
      .Bind(6, s.status)
      .Bind(7, static_cast<int64_t>(s.progress))
      .BindOpt(8, s.parent_id)
      .BindOpt(9, s.layer_file)
      .BindOpt(10, s.store_key)
      .BindOpt(11, s.store_location)
      .BindOpt(12, s.sha256)
      .Bind(13, s.layer_bytes)
      .Bind(14, s.virtual_size)
      .Bind(15, nlohmann::json(s.covers).dump())
      .Bind(16, static_cast<int64_t>(s.hidden))
      .Bind(17, s.error)
      .Bind(18, MetadataToJson(s.metadata))
      .Bind(19, s.created_at)
      .Bind(20, s.updated_at)
      .BindOpt(21, s.layer_sha256)
      .BindOpt(22, s.layer_check)
      .BindOpt(23, s.group_snapshot_id)
      .Bind(24, static_cast<int64_t>(s.unmanaged))
      .Bind(25, s.id);
}

Result<std::vector<SnapshotRecord>> Collect(Statement& st) {
  std::vector<SnapshotRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(ReadSnapshot(st));
  }
}

std::string Select(const std::string& where) {
  // The computed last columns: a backup's point (migration 12), the last
  // verify (migration 19), the memory part (migrations 20 and 21; NULL
  // reads as "" and 0).
  return std::string("SELECT ") + kSnapshotColumns +
         ", EXISTS (SELECT 1 FROM backups b WHERE b.point_id = snapshots.id), "
         "v.verify_state, v.verified_at, v.verify_error, m.memory_state, "
         "m.memory_domain, m.memory_region, m.memory_figures, m.memory_error, "
         "m.memory_store_key, m.memory_store_sha256, m.memory_store_bytes "
         "FROM snapshots LEFT JOIN snapshot_verifications v "
         "ON v.snapshot_id = snapshots.id LEFT JOIN memory_snapshots m "
         "ON m.snapshot_id = snapshots.id " +
         where;
}

}  // namespace

Status Catalog::InsertSnapshot(const SnapshotRecord& s) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "INSERT INTO snapshots (volume_id, project_id, user_id, name, "
          "description, status, progress, parent_id, layer_file, store_key, "
          "store_location, sha256, layer_bytes, virtual_size, covers, hidden, "
          "error, metadata, created_at, updated_at, layer_sha256, layer_check, "
          "group_snapshot_id, unmanaged, id) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  BindSnapshot(st, s);
  return st.Run();
}

Status Catalog::UpdateSnapshot(const SnapshotRecord& s) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "UPDATE snapshots SET volume_id=?, project_id=?, user_id=?, name=?, "
          "description=?, status=?, progress=?, parent_id=?, layer_file=?, "
          "store_key=?, store_location=?, sha256=?, layer_bytes=?, "
          "virtual_size=?, covers=?, hidden=?, error=?, metadata=?, "
          "created_at=?, updated_at=?, layer_sha256=?, layer_check=?, "
          "group_snapshot_id=?, unmanaged=? WHERE id=?"));
  BindSnapshot(st, s);
  return st.RunUpdate("Snapshot " + s.id + " could not be found.");
}

Status Catalog::DeleteSnapshot(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, "DELETE FROM snapshots WHERE id=?"));
  st.Bind(1, id);
  STRATA_RETURN_IF_ERROR(st.Run());
  // Its last verify goes with it (a row left by a crash in between is
  // never read: rows are found by their snapshot's id).
  STRATA_ASSIGN_OR_RETURN(
      Statement v,
      Statement::Prepare(
          db_, "DELETE FROM snapshot_verifications WHERE snapshot_id=?"));
  v.Bind(1, id);
  STRATA_RETURN_IF_ERROR(v.Run());
  STRATA_ASSIGN_OR_RETURN(
      Statement m,
      Statement::Prepare(db_,
                         "DELETE FROM memory_snapshots WHERE snapshot_id=?"));
  m.Bind(1, id);
  return m.Run();
}

Result<SnapshotRecord> Catalog::GetSnapshot(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(Statement st,
                          Statement::Prepare(db_, Select("WHERE id=?")));
  st.Bind(1, id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("Snapshot " + id + " could not be found.");
  return ReadSnapshot(st);
}

Result<ListResult<SnapshotRecord>> Catalog::ListSnapshots(const ListQuery& q) {
  static const std::map<std::string, std::string> kFilters = {
      {"name", "name"},
      {"status", "status"},
      {"volume_id", "volume_id"},
      {"project_id", "project_id"},
      {"group_snapshot_id", "group_snapshot_id"}};
  static const std::map<std::string, std::string> kSort = {
      {"created_at", "created_at"},
      {"updated_at", "updated_at"},
      {"name", "name"},
      {"status", "status"},
      {"id", "id"},
      {"volume_id", "volume_id"},
      {"size", "virtual_size"}};
  std::vector<std::string> binds;
  std::string sql = Select("WHERE hidden = 0");
  if (!q.project_id.empty()) {
    sql += " AND project_id = ?";
    binds.push_back(q.project_id);
  }
  STRATA_ASSIGN_OR_RETURN(std::string where, WhereFilters(q, kFilters, &binds));
  STRATA_ASSIGN_OR_RETURN(std::string order, OrderBy(q, kSort));
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(Statement st,
                          Statement::Prepare(db_, sql + where + order));
  for (size_t i = 0; i < binds.size(); ++i)
    st.Bind(static_cast<int>(i + 1), binds[i]);
  STRATA_ASSIGN_OR_RETURN(auto rows, Collect(st));
  return Paginate(std::move(rows), q);
}

Result<std::vector<SnapshotRecord>> Catalog::SnapshotsOfVolume(
    const std::string& volume_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_, Select("WHERE volume_id=? ORDER BY created_at ASC, id ASC")));
  st.Bind(1, volume_id);
  return Collect(st);
}

Result<bool> Catalog::IsUploaded(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "SELECT 1 FROM snapshots WHERE id=? AND store_key IS "
                         "NOT NULL AND sha256 IS NOT NULL"));
  st.Bind(1, id);
  return st.Step();
}

Status Catalog::SetSnapshotStatus(const std::string& id,
                                  const std::string& status, int progress,
                                  const std::string& error) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "UPDATE snapshots SET status=?, progress=?, "
                         "error=CASE WHEN ?='' THEN error ELSE ? END, "
                         "updated_at=? WHERE id=?"));
  st.Bind(1, status)
      .Bind(2, static_cast<int64_t>(progress))
      .Bind(3, error)
      .Bind(4, error)
      .Bind(5, NowMicros())
      .Bind(6, id);
  return st.RunUpdate("Snapshot " + id + " could not be found.");
}

Result<int64_t> Catalog::BeginUpload(const UploadRecord& u) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "INSERT INTO uploads (snapshot_id, store, store_key, "
                         "status, started_at) VALUES (?,?,?,'running',?)"));
  st.Bind(1, u.snapshot_id)
      .Bind(2, u.store)
      .Bind(3, u.store_key)
      .Bind(4, u.started_at);
  STRATA_RETURN_IF_ERROR(st.Run());
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_.get()));
}

Status Catalog::FinishUpload(int64_t id, const std::string& status,
                             int64_t bytes, const std::string& sha256,
                             const std::string& error) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "UPDATE uploads SET status=?, bytes=?, sha256=?, "
                         "error=?, finished_at=? WHERE id=?"));
  st.Bind(1, status)
      .Bind(2, bytes)
      .Bind(3, sha256)
      .Bind(4, error)
      .Bind(5, NowMicros())
      .Bind(6, id);
  return st.Run();
}

Status Catalog::AddPendingDelete(const std::string& store_key,
                                 const std::string& error) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "INSERT INTO pending_deletes (store_key, last_error, since) "
          "VALUES (?,?,?) ON CONFLICT(store_key) DO UPDATE SET "
          "attempts = attempts + 1, last_error = excluded.last_error"));
  st.Bind(1, store_key).Bind(2, error).Bind(3, NowMicros());
  return st.Run();
}

Result<std::vector<std::string>> Catalog::PendingDeletes() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_, "SELECT store_key FROM pending_deletes ORDER BY since"));
  std::vector<std::string> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(st.ColumnText(0));
  }
}

Status Catalog::RemovePendingDelete(const std::string& store_key) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "DELETE FROM pending_deletes WHERE store_key = ?"));
  st.Bind(1, store_key);
  return st.Run();
}

Result<std::vector<UploadRecord>> Catalog::UploadsOfSnapshot(
    const std::string& snapshot_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "SELECT id, snapshot_id, store, store_key, status, "
                         "bytes, sha256, error, started_at, finished_at FROM "
                         "uploads WHERE snapshot_id=? ORDER BY id"));
  st.Bind(1, snapshot_id);
  std::vector<UploadRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    UploadRecord u;
    u.id = st.ColumnInt(0);
    u.snapshot_id = st.ColumnText(1);
    u.store = st.ColumnText(2);
    u.store_key = st.ColumnText(3);
    u.status = st.ColumnText(4);
    u.bytes = st.ColumnInt(5);
    u.sha256 = st.ColumnText(6);
    u.error = st.ColumnText(7);
    u.started_at = st.ColumnInt(8);
    u.finished_at = st.ColumnInt(9);
    out.push_back(std::move(u));
  }
}

Result<Catalog::SnapshotTotals> Catalog::SnapshotTotalsByStatus() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "SELECT status, COUNT(*), COALESCE(SUM(layer_bytes), "
                         "0) FROM snapshots WHERE hidden=0 GROUP BY status"));
  SnapshotTotals out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const std::string status = st.ColumnText(0);
    out.count_by_status[status] = st.ColumnInt(1);
    if (status == "available") out.stored_bytes = st.ColumnInt(2);
  }
  return out;
}

}  // namespace strata::db
