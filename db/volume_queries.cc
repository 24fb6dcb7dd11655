// Catalog: SQL for the volumes table. See catalog.h.
#include <map>

#include "db/catalog.h"
#include "db/list_paging.h"

namespace strata::db {
namespace {

const char kVolumeColumns[] =
    "id, project_id, user_id, name, description, status, path, base_path, "
    "base_format, virtual_size, head_snapshot_id, bootable, metadata, "
    "created_at, updated_at, domain_uuid, disk_target, volume_type_id, "
    "snapshot_id, source_volid, admin_metadata, group_id";

VolumeRecord ReadVolume(const Statement& st) {
  VolumeRecord v;
  v.id = st.ColumnText(0);
  v.project_id = st.ColumnText(1);
  v.user_id = st.ColumnText(2);
  v.name = st.ColumnText(3);
  v.description = st.ColumnText(4);
  v.status = st.ColumnText(5);
  v.path = st.ColumnText(6);
  v.base_path = st.ColumnOptText(7);
  v.base_format = st.ColumnOptText(8);
  v.virtual_size = st.ColumnInt(9);
  v.head_snapshot_id = st.ColumnOptText(10);
  v.bootable = st.ColumnInt(11) != 0;
  v.metadata = MetadataFromJson(st.ColumnText(12));
  v.created_at = st.ColumnInt(13);
  v.updated_at = st.ColumnInt(14);
  v.domain_uuid = st.ColumnOptText(15);
  v.disk_target = st.ColumnOptText(16);
  v.volume_type_id = st.ColumnOptText(17);
  v.snapshot_id = st.ColumnOptText(18);
  v.source_volid = st.ColumnOptText(19);
  v.admin_metadata = MetadataFromJson(st.ColumnText(20));
  v.group_id = st.ColumnOptText(21);
  return v;
}

// Binds every column but id (1..21) then id (22), in kVolumeColumns order.
void BindVolume(Statement& st, const VolumeRecord& v) {
  st.Bind(1, v.project_id)
      .Bind(2, v.user_id)
      .Bind(3, v.name)
      .Bind(4, v.description)
      .Bind(5, v.status)
      .Bind(6, v.path)
      .BindOpt(7, v.base_path)
      .BindOpt(8, v.base_format)
      .Bind(9, v.virtual_size)
      .BindOpt(10, v.head_snapshot_id)
      .Bind(11, static_cast<int64_t>(v.bootable))
      .Bind(12, MetadataToJson(v.metadata))
      .Bind(13, v.created_at)
      .Bind(14, v.updated_at)
      .BindOpt(15, v.domain_uuid)
      .BindOpt(16, v.disk_target)
      .BindOpt(17, v.volume_type_id)
      .BindOpt(18, v.snapshot_id)
      .BindOpt(19, v.source_volid)
      .Bind(20, MetadataToJson(v.admin_metadata))
      .BindOpt(21, v.group_id)
      .Bind(22, v.id);
}

Result<std::vector<VolumeRecord>> Collect(Statement& st) {
  std::vector<VolumeRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(ReadVolume(st));
  }
}

}  // namespace

Status Catalog::InsertVolume(const VolumeRecord& v) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "INSERT INTO volumes (project_id, user_id, name, "
          "description, status, path, base_path, base_format, "
          "virtual_size, head_snapshot_id, bootable, metadata, "
          "created_at, updated_at, domain_uuid, disk_target, "
          "volume_type_id, snapshot_id, source_volid, "
          "admin_metadata, group_id, id) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  BindVolume(st, v);
  return st.Run();
}

Status Catalog::UpdateVolume(const VolumeRecord& v) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_,
          "UPDATE volumes SET project_id=?, user_id=?, name=?, description=?, "
          "status=?, path=?, base_path=?, base_format=?, virtual_size=?, "
          "head_snapshot_id=?, "
          "bootable=?, metadata=?, created_at=?, updated_at=?, domain_uuid=?, "
          "disk_target=?, volume_type_id=?, snapshot_id=?, source_volid=?, "
          "admin_metadata=?, group_id=? WHERE id=?"));
  BindVolume(st, v);
  return st.RunUpdate("Volume " + v.id + " could not be found.");
}

Status Catalog::DeleteVolume(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st, Statement::Prepare(db_, "DELETE FROM volumes WHERE id=?"));
  st.Bind(1, id);
  return st.Run();
}

Result<VolumeRecord> Catalog::GetVolume(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("SELECT ") + kVolumeColumns +
                                  " FROM volumes WHERE id=?"));
  st.Bind(1, id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("Volume " + id + " could not be found.");
  return ReadVolume(st);
}

Result<VolumeRecord> Catalog::GetVolumeByPath(const std::string& path) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("SELECT ") + kVolumeColumns +
                                  " FROM volumes WHERE path=?"));
  st.Bind(1, path);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("no volume manages " + path);
  return ReadVolume(st);
}

Result<ListResult<VolumeRecord>> Catalog::ListVolumes(const ListQuery& q) {
  static const std::map<std::string, std::string> kFilters = {
      {"name", "name"},
      {"status", "status"},
      {"bootable", "bootable"},
      {"project_id", "project_id"},
      {"group_id", "group_id"}};
  static const std::map<std::string, std::string> kSort = {
      {"created_at", "created_at"},
      {"updated_at", "updated_at"},
      {"name", "name"},
      {"status", "status"},
      {"id", "id"},
      {"size", "virtual_size"}};
  std::vector<std::string> binds;
  // A "deleted" volume is a shell kept for its backups' layers: never
  // listed (RetainedVolumes finds them).
  std::string sql = std::string("SELECT ") + kVolumeColumns +
                    " FROM volumes WHERE status != 'deleted'";
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

Result<std::vector<VolumeRecord>> Catalog::RetainedVolumes() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("SELECT ") + kVolumeColumns +
                                  " FROM volumes WHERE status = 'deleted'"));
  return Collect(st);
}

}  // namespace strata::db
