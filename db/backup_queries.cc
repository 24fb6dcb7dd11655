// Catalog: SQL for the backups table (migration 12). See catalog.h.
// Thread-safety: every method holds mu_ (Catalog's contract).
#include <map>

#include "db/catalog.h"
#include "db/list_paging.h"
#include "util/time_util.h"

namespace strata::db {
namespace {

const char kColumns[] =
    "id, project_id, user_id, volume_id, point_id, snapshot_id, parent_id, "
    "name, description, status, fail_reason, container, availability_zone, "
    "size_gib, is_incremental, metadata, base_path, base_format, "
    "volume_metadata, volume_bootable, restore_volume_id, created_at, "
    "updated_at, data_timestamp";

std::string Select(const std::string& where) {
  // The computed last column: an incremental backup follows this one.
  return std::string("SELECT ") + kColumns +
         ", EXISTS (SELECT 1 FROM backups c WHERE c.parent_id = backups.id) "
         "FROM backups " +
         where;
}

BackupRecord ReadBackup(const Statement& st) {
  BackupRecord b;
  b.id = st.ColumnText(0);
  b.project_id = st.ColumnText(1);
  b.user_id = st.ColumnText(2);
  b.volume_id = st.ColumnText(3);
  b.point_id = st.ColumnText(4);
  b.snapshot_id = st.ColumnOptText(5);
  b.parent_id = st.ColumnOptText(6);
  b.name = st.ColumnText(7);
  b.description = st.ColumnText(8);
  b.status = st.ColumnText(9);
  b.fail_reason = st.ColumnText(10);
  b.container = st.ColumnOptText(11);
  b.availability_zone = st.ColumnText(12);
  b.size_gib = st.ColumnInt(13);
  b.is_incremental = st.ColumnInt(14) != 0;
  b.metadata = MetadataFromJson(st.ColumnText(15));
  b.base_path = st.ColumnOptText(16);
  b.base_format = st.ColumnOptText(17);
  b.volume_metadata = MetadataFromJson(st.ColumnText(18));
  b.volume_bootable = st.ColumnInt(19) != 0;
  b.restore_volume_id = st.ColumnOptText(20);
  b.created_at = st.ColumnInt(21);
  b.updated_at = st.ColumnInt(22);
  b.data_timestamp = st.ColumnInt(23);
  b.has_dependent_backups = st.ColumnInt(24) != 0;
  return b;
}

// Binds every column but id (1..23) then id (24), in kColumns order.
void BindBackup(Statement& st, const BackupRecord& b) {
  st.Bind(1, b.project_id)
      .Bind(2, b.user_id)
      .Bind(3, b.volume_id)
      .Bind(4, b.point_id)
      .BindOpt(5, b.snapshot_id)
      .BindOpt(6, b.parent_id)
      .Bind(7, b.name)
      .Bind(8, b.description)
      .Bind(9, b.status)
      .Bind(10, b.fail_reason)
      .BindOpt(11, b.container)
      .Bind(12, b.availability_zone)
      .Bind(13, b.size_gib)
      .Bind(14, static_cast<int64_t>(b.is_incremental))
      .Bind(15, MetadataToJson(b.metadata))
      .BindOpt(16, b.base_path)
      .BindOpt(17, b.base_format)
      .Bind(18, MetadataToJson(b.volume_metadata))
      .Bind(19, static_cast<int64_t>(b.volume_bootable))
      .BindOpt(20, b.restore_volume_id)
      .Bind(21, b.created_at)
      .Bind(22, b.updated_at)
      .Bind(23, b.data_timestamp)
      .Bind(24, b.id);
}

Result<std::vector<BackupRecord>> Collect(Statement& st) {
  std::vector<BackupRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(ReadBackup(st));
  }
}

}  // namespace

Status Catalog::InsertBackup(const BackupRecord& b) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "INSERT INTO backups (project_id, user_id, volume_id, point_id, "
          "snapshot_id, parent_id, name, description, status, fail_reason, "
          "container, availability_zone, size_gib, is_incremental, metadata, "
          "base_path, base_format, volume_metadata, volume_bootable, "
          "restore_volume_id, created_at, updated_at, data_timestamp, id) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  BindBackup(st, b);
  return st.Run();
}

Result<BackupRecord> Catalog::GetBackup(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(Statement st,
                          Statement::Prepare(db_, Select("WHERE id=?")));
  st.Bind(1, id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("Backup " + id + " could not be found.");
  return ReadBackup(st);
}

Result<ListResult<BackupRecord>> Catalog::ListBackups(const ListQuery& q) {
  static const std::map<std::string, std::string> kFilters = {
      {"name", "name"},
      {"status", "status"},
      {"volume_id", "volume_id"},
      {"project_id", "project_id"}};
  static const std::map<std::string, std::string> kSort = {
      {"created_at", "created_at"},
      {"updated_at", "updated_at"},
      {"name", "name"},
      {"status", "status"},
      {"id", "id"},
      {"volume_id", "volume_id"},
      {"size", "size_gib"}};
  std::vector<std::string> binds;
  std::string sql = Select("WHERE 1=1");
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

Result<std::vector<BackupRecord>> Catalog::BackupsOfVolume(
    const std::string& volume_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_, Select("WHERE volume_id=? ORDER BY data_timestamp, created_at, "
                      "id")));
  st.Bind(1, volume_id);
  return Collect(st);
}

Result<std::vector<BackupRecord>> Catalog::BackupsAtPoint(
    const std::string& point_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, Select("WHERE point_id=? ORDER BY id")));
  st.Bind(1, point_id);
  return Collect(st);
}

Status Catalog::ModifyBackup(const std::string& id,
                             const std::function<Status(BackupRecord&)>& edit) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(BackupRecord b, GetBackup(id));
    STRATA_RETURN_IF_ERROR(edit(b));
    b.updated_at = NowMicros();
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(
            db_,
            "UPDATE backups SET project_id=?, user_id=?, volume_id=?, "
            "point_id=?, snapshot_id=?, parent_id=?, name=?, description=?, "
            "status=?, fail_reason=?, container=?, availability_zone=?, "
            "size_gib=?, is_incremental=?, metadata=?, base_path=?, "
            "base_format=?, volume_metadata=?, volume_bootable=?, "
            "restore_volume_id=?, created_at=?, updated_at=?, data_timestamp=? "
            "WHERE id=?"));
    BindBackup(st, b);
    return st.RunUpdate("Backup " + id + " could not be found.");
  });
}

Status Catalog::DeleteBackup(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st, Statement::Prepare(db_, "DELETE FROM backups WHERE id=?"));
  st.Bind(1, id);
  return st.Run();
}

}  // namespace strata::db
