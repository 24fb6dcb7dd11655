// Catalog: SQL for the volume_types and volume_type_extra_specs tables
// (migration 9). See catalog.h. Messages are Cinder's, as the API shows
// them. Thread-safety: every method holds mu_ (Catalog's contract).
#include <algorithm>
#include <map>

#include "db/catalog.h"
#include "db/type_specs.h"
#include "util/time_util.h"

namespace strata::db {
namespace {

const char kTypeColumns[] =
    "id, name, description, is_public, created_at, updated_at, qos_specs_id";

VolumeTypeRecord ReadType(const Statement& st) {
  VolumeTypeRecord t;
  t.id = st.ColumnText(0);
  t.name = st.ColumnText(1);
  t.description = st.ColumnOptText(2);
  t.is_public = st.ColumnInt(3) != 0;
  t.created_at = st.ColumnInt(4);
  t.updated_at = st.ColumnInt(5);
  t.qos_specs_id = st.ColumnOptText(6);
  return t;
}

Status TypeNotFound(const std::string& id_or_name) {
  return Status::NotFound("Volume type " + id_or_name + " could not be found.");
}

// The row where `column` = `value` (id or name), without its specs.
Result<std::optional<VolumeTypeRecord>> FindType(SqliteDb& db,
                                                 const std::string& column,
                                                 const std::string& value) {
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db, std::string("SELECT ") + kTypeColumns +
                                 " FROM volume_types WHERE " + column + "=?"));
  st.Bind(1, value);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<VolumeTypeRecord>();
  return std::optional<VolumeTypeRecord>(ReadType(st));
}

const SpecsTable kExtraSpecs = {"volume_types", "volume_type_extra_specs",
                                "volume_type_id", "Volume type", "Volume Type"};

Result<Metadata> SpecsOf(SqliteDb& db, const std::string& id) {
  return ReadSpecs(db, kExtraSpecs, id);
}

}  // namespace

Result<std::vector<VolumeTypeRecord>> Catalog::ListVolumeTypes(
    bool include_private, const std::string& project) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_, std::string("SELECT ") + kTypeColumns + " FROM volume_types" +
                   (include_private
                        ? ""
                        : " WHERE is_public OR id IN (SELECT volume_type_id "
                          "FROM volume_type_access WHERE project_id=?)") +
                   " ORDER BY name, id"));
  if (!include_private) st.Bind(1, project);
  std::vector<VolumeTypeRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadType(st));
  }
  for (auto& t : out) {
    STRATA_ASSIGN_OR_RETURN(t.extra_specs, SpecsOf(db_, t.id));
  }
  return out;
}

Result<VolumeTypeRecord> Catalog::GetVolumeType(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(auto t, FindType(db_, "id", id));
  if (!t) return TypeNotFound(id);
  STRATA_ASSIGN_OR_RETURN(t->extra_specs, SpecsOf(db_, t->id));
  return *t;
}

Result<VolumeTypeRecord> Catalog::ResolveVolumeType(
    const std::optional<std::string>& id_or_name, bool include_private,
    const std::string& project) {
  if (!id_or_name || id_or_name->empty())
    return GetVolumeType(kDefaultVolumeTypeId);
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(auto t, FindType(db_, "id", *id_or_name));
  if (!t) {
    STRATA_ASSIGN_OR_RETURN(t, FindType(db_, "name", *id_or_name));
  }
  if (t && !t->is_public && !include_private) {
    STRATA_ASSIGN_OR_RETURN(auto shared, VolumeTypeAccess(t->id));
    if (std::find(shared.begin(), shared.end(), project) == shared.end())
      t.reset();
  }
  if (!t) return TypeNotFound(*id_or_name);
  STRATA_ASSIGN_OR_RETURN(t->extra_specs, SpecsOf(db_, t->id));
  return *t;
}

Status Catalog::InsertVolumeType(const VolumeTypeRecord& t) {
  return Transaction([&]() -> Status {
    return InsertType(
        db_, kExtraSpecs,
        {t.id, t.name, t.description, t.is_public, t.created_at, t.updated_at},
        t.extra_specs);
  });
}

Status Catalog::ModifyVolumeType(
    const std::string& id,
    const std::function<Status(VolumeTypeRecord&)>& edit) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(VolumeTypeRecord t, GetVolumeType(id));
    const std::string old_name = t.name;
    STRATA_RETURN_IF_ERROR(edit(t));
    if (t.name != old_name) {
      STRATA_RETURN_IF_ERROR(TypeNameFree(db_, kExtraSpecs, t.name));
      // Per-type quotas follow the type's name (Cinder's
      // update_quota_resource).
      for (const char* table : {"quotas", "quota_classes"})
        for (const char* part : {"volumes_", "snapshots_", "gigabytes_"}) {
          STRATA_ASSIGN_OR_RETURN(
              Statement st,
              Statement::Prepare(db_, std::string("UPDATE ") + table +
                                          " SET resource=? WHERE resource=?"));
          st.Bind(1, part + t.name).Bind(2, part + old_name);
          STRATA_RETURN_IF_ERROR(st.Run());
        }
    }
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db_,
                           "UPDATE volume_types SET name=?, description=?, "
                           "is_public=?, updated_at=?, qos_specs_id=? WHERE "
                           "id=?"));
    st.Bind(1, t.name)
        .BindOpt(2, t.description)
        .Bind(3, static_cast<int64_t>(t.is_public))
        .Bind(4, NowMicros())
        .BindOpt(5, t.qos_specs_id)
        .Bind(6, id);
    return st.RunUpdate("Volume type " + id + " could not be found.");
  });
}

Result<int64_t> Catalog::CountVolumesOfType(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  const bool is_default = id == kDefaultVolumeTypeId;
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(
          db_, std::string("SELECT COUNT(*) FROM volumes "
                           "WHERE status != 'deleted' AND "
                           "(volume_type_id=?") +
                   (is_default ? " OR volume_type_id IS NULL" : "") + ")"));
  st.Bind(1, id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : 0;
}

Status Catalog::DeleteVolumeType(const std::string& id) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(VolumeTypeRecord t, GetVolumeType(id));
    if (id == kDefaultVolumeTypeId)
      return Status::InvalidArgument("The volume type " + id +
                                     " is a default volume type and cannot "
                                     "be deleted.");
    STRATA_ASSIGN_OR_RETURN(int64_t users, CountVolumesOfType(id));
    if (users > 0)
      return Status::InvalidArgument("Target volume type is still in use.");
    for (const char* table : {"quotas", "quota_classes"}) {
      STRATA_ASSIGN_OR_RETURN(
          Statement st,
          Statement::Prepare(db_, std::string("DELETE FROM ") + table +
                                      " WHERE resource IN (?,?,?)"));
      st.Bind(1, "volumes_" + t.name)
          .Bind(2, "snapshots_" + t.name)
          .Bind(3, "gigabytes_" + t.name);
      STRATA_RETURN_IF_ERROR(st.Run());
    }
    // Extra specs go with the row (ON DELETE CASCADE).
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db_, "DELETE FROM volume_types WHERE id=?"));
    st.Bind(1, id);
    return st.Run();
  });
}

Status Catalog::SetVolumeTypeExtraSpecs(const std::string& id,
                                        const Metadata& specs) {
  return Transaction(
      [&]() -> Status { return UpsertSpecs(db_, kExtraSpecs, id, specs); });
}

Status Catalog::DeleteVolumeTypeExtraSpec(const std::string& id,
                                          const std::string& key) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return DeleteSpec(
      db_, kExtraSpecs, id, key,
      "Volume Type " + id + " has no extra specs with key " + key + ".");
}

Status Catalog::AddVolumeTypeAccess(const std::string& type_id,
                                    const std::string& project) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(auto shared, VolumeTypeAccess(type_id));
  if (std::find(shared.begin(), shared.end(), project) != shared.end())
    return Status::Conflict("Volume type access for " + type_id + "/" +
                            project + " already exists.");
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "INSERT INTO volume_type_access (volume_type_id, "
                         "project_id) VALUES (?,?)"));
  st.Bind(1, type_id).Bind(2, project);
  return st.Run();
}

Status Catalog::RemoveVolumeTypeAccess(const std::string& type_id,
                                       const std::string& project) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st, Statement::Prepare(db_,
                                       "DELETE FROM volume_type_access WHERE "
                                       "volume_type_id=? AND project_id=?"));
  st.Bind(1, type_id).Bind(2, project);
  return st.RunUpdate("Volume type access not found for " + type_id + "/" +
                      project + ".");
}

Result<std::vector<std::string>> Catalog::VolumeTypeAccess(
    const std::string& type_id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_,
                         "SELECT project_id FROM volume_type_access WHERE "
                         "volume_type_id=? ORDER BY project_id"));
  st.Bind(1, type_id);
  std::vector<std::string> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out.push_back(st.ColumnText(0));
  }
}

}  // namespace strata::db
