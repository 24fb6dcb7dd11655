// Catalog: SQL for Cinder's generic volume groups (migration 16): group
// types and their specs, groups, group snapshots, and which volumes and
// snapshots are their members. See catalog.h. Messages are Cinder's.
// Thread-safety: every method holds mu_ (Catalog's contract).
#include <nlohmann/json.hpp>

#include "db/catalog.h"
#include "db/list_paging.h"
#include "db/type_specs.h"
#include "util/time_util.h"

namespace strata::db {
namespace {

// ---- group types ----

const char kTypeColumns[] =
    "id, name, description, is_public, created_at, updated_at";

GroupTypeRecord ReadType(const Statement& st) {
  GroupTypeRecord t;
  t.id = st.ColumnText(0);
  t.name = st.ColumnText(1);
  t.description = st.ColumnOptText(2);
  t.is_public = st.ColumnInt(3) != 0;
  t.created_at = st.ColumnInt(4);
  t.updated_at = st.ColumnInt(5);
  return t;
}

Status TypeNotFound(const std::string& id) {
  return Status::NotFound("Group type " + id + " could not be found.");
}

const SpecsTable kGroupSpecs = {"group_types", "group_type_specs",
                                "group_type_id", "Group type", "Group Type"};

Result<Metadata> TypeSpecs(const SqliteDb& db, const std::string& id) {
  return ReadSpecs(db, kGroupSpecs, id);
}

// The first row of `sql` with its one parameter `value`, or nullopt.
template <class T>
Result<std::optional<T>> FindOne(const SqliteDb& db, const std::string& sql,
                                 const std::string& value,
                                 T (*read)(const Statement&)) {
  STRATA_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db, sql));
  st.Bind(1, value);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<T>();
  return std::optional<T>(read(st));
}

// ---- groups ----

const char kGroupColumns[] =
    "id, project_id, user_id, name, description, status, availability_zone, "
    "group_type_id, volume_type_ids, group_snapshot_id, source_group_id, "
    "follows_members, created_at, updated_at";

GroupRecord ReadGroup(const Statement& st) {
  GroupRecord g;
  g.id = st.ColumnText(0);
  g.project_id = st.ColumnText(1);
  g.user_id = st.ColumnText(2);
  g.name = st.ColumnText(3);
  g.description = st.ColumnText(4);
  g.status = st.ColumnText(5);
  g.availability_zone = st.ColumnText(6);
  g.group_type_id = st.ColumnText(7);
  auto types = nlohmann::json::parse(st.ColumnText(8), nullptr, false);
  if (types.is_array())
    for (const auto& t : types)
      if (t.is_string()) g.volume_type_ids.push_back(t.get<std::string>());
  g.group_snapshot_id = st.ColumnOptText(9);
  g.source_group_id = st.ColumnOptText(10);
  g.follows_members = st.ColumnInt(11) != 0;
  g.created_at = st.ColumnInt(12);
  g.updated_at = st.ColumnInt(13);
  return g;
}

// Binds every column but id (1..13) then id (14), in kGroupColumns order.
void BindGroup(Statement& st, const GroupRecord& g) {
  st.Bind(1, g.project_id)
      .Bind(2, g.user_id)
      .Bind(3, g.name)
      .Bind(4, g.description)
      .Bind(5, g.status)
      .Bind(6, g.availability_zone)
      .Bind(7, g.group_type_id)
      .Bind(8, nlohmann::json(g.volume_type_ids).dump())
      .BindOpt(9, g.group_snapshot_id)
      .BindOpt(10, g.source_group_id)
      .Bind(11, static_cast<int64_t>(g.follows_members))
      .Bind(12, g.created_at)
      .Bind(13, g.updated_at)
      .Bind(14, g.id);
}

// ---- group snapshots ----

const char kGroupSnapshotColumns[] =
    "id, group_id, group_type_id, project_id, user_id, name, description, "
    "status, follows_members, created_at, updated_at";

GroupSnapshotRecord ReadGroupSnapshot(const Statement& st) {
  GroupSnapshotRecord g;
  g.id = st.ColumnText(0);
  g.group_id = st.ColumnText(1);
  g.group_type_id = st.ColumnText(2);
  g.project_id = st.ColumnText(3);
  g.user_id = st.ColumnText(4);
  g.name = st.ColumnText(5);
  g.description = st.ColumnText(6);
  g.status = st.ColumnText(7);
  g.follows_members = st.ColumnInt(8) != 0;
  g.created_at = st.ColumnInt(9);
  g.updated_at = st.ColumnInt(10);
  return g;
}

// Binds every column but id (1..10) then id (11), in order.
void BindGroupSnapshot(Statement& st, const GroupSnapshotRecord& g) {
  st.Bind(1, g.group_id)
      .Bind(2, g.group_type_id)
      .Bind(3, g.project_id)
      .Bind(4, g.user_id)
      .Bind(5, g.name)
      .Bind(6, g.description)
      .Bind(7, g.status)
      .Bind(8, static_cast<int64_t>(g.follows_members))
      .Bind(9, g.created_at)
      .Bind(10, g.updated_at)
      .Bind(11, g.id);
}

const std::map<std::string, std::string> kSort = {{"created_at", "created_at"},
                                                  {"updated_at", "updated_at"},
                                                  {"name", "name"},
                                                  {"status", "status"},
                                                  {"id", "id"}};

// Runs `sql` (with `id` as its one parameter), expecting it to change a
// row; `missing` is the NotFound message otherwise.
Status RunOnId(const SqliteDb& db, const std::string& sql,
               const std::string& id, const std::string& missing) {
  STRATA_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db, sql));
  st.Bind(1, id);
  return st.RunUpdate(missing);
}

// A table of rows of T keyed by id, its columns listed id first; `bind`
// binds every column but id (1..n-1), then id (n).
template <class T>
struct RowTable {
  const char* name;
  const char* columns;
  T (*read)(const Statement&);
  void (*bind)(Statement&, const T&);
  const char* noun;  // "<noun> <id> could not be found."

  std::string Missing(const std::string& id) const {
    return std::string(noun) + " " + id + " could not be found.";
  }
  std::string Select(const std::string& where) const {
    return std::string("SELECT ") + columns + " FROM " + name + " WHERE " +
           where;
  }
  // The columns but id, in order.
  std::vector<std::string> Others() const {
    std::vector<std::string> out;
    std::string all = columns;
    for (size_t at = all.find(", "); at != std::string::npos;) {
      size_t next = all.find(", ", at + 2);
      out.push_back(all.substr(at + 2, next == std::string::npos
                                           ? std::string::npos
                                           : next - at - 2));
      at = next;
    }
    return out;
  }
  Status Insert(const SqliteDb& db, const T& row) const {
    std::string cols, marks;
    for (const auto& c : Others()) {
      cols += c + ", ";
      marks += "?,";
    }
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db, std::string("INSERT INTO ") + name + " (" +
                                   cols + "id) VALUES (" + marks + "?)"));
    bind(st, row);
    return st.Run();
  }
  Status Update(const SqliteDb& db, const T& row, const std::string& id) const {
    std::string set;
    for (const auto& c : Others()) set += (set.empty() ? "" : ", ") + c + "=?";
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(
            db, std::string("UPDATE ") + name + " SET " + set + " WHERE id=?"));
    bind(st, row);
    return st.RunUpdate(Missing(id));
  }
  Result<T> Get(const SqliteDb& db, const std::string& id) const {
    STRATA_ASSIGN_OR_RETURN(auto row, FindOne(db, Select("id=?"), id, read));
    if (!row) return Status::NotFound(Missing(id));
    return *row;
  }
  Status Delete(const SqliteDb& db, const std::string& id) const {
    return RunOnId(db, std::string("DELETE FROM ") + name + " WHERE id=?", id,
                   Missing(id));
  }
};

const RowTable<GroupRecord> kGroups = {"groups", kGroupColumns, &ReadGroup,
                                       &BindGroup, "Group"};
const RowTable<GroupSnapshotRecord> kGroupSnapshots = {
    "group_snapshots", kGroupSnapshotColumns, &ReadGroupSnapshot,
    &BindGroupSnapshot, "GroupSnapshot"};

}  // namespace

// ---- group types ----

Result<std::vector<GroupTypeRecord>> Catalog::ListGroupTypes(
    bool include_private) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("SELECT ") + kTypeColumns +
                                  " FROM group_types" +
                                  (include_private ? "" : " WHERE is_public") +
                                  " ORDER BY name, id"));
  std::vector<GroupTypeRecord> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadType(st));
  }
  for (auto& t : out) {
    STRATA_ASSIGN_OR_RETURN(t.group_specs, TypeSpecs(db_, t.id));
  }
  return out;
}

Result<GroupTypeRecord> Catalog::GetGroupType(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(auto t,
                          FindOne(db_,
                                  std::string("SELECT ") + kTypeColumns +
                                      " FROM group_types WHERE id=?",
                                  id, &ReadType));
  if (!t) return TypeNotFound(id);
  STRATA_ASSIGN_OR_RETURN(t->group_specs, TypeSpecs(db_, t->id));
  return *t;
}

Status Catalog::InsertGroupType(const GroupTypeRecord& t) {
  return Transaction([&]() -> Status {
    return InsertType(
        db_, kGroupSpecs,
        {t.id, t.name, t.description, t.is_public, t.created_at, t.updated_at},
        t.group_specs);
  });
}

Status Catalog::ModifyGroupType(
    const std::string& id,
    const std::function<Status(GroupTypeRecord&)>& edit) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(GroupTypeRecord t, GetGroupType(id));
    const std::string old_name = t.name;
    STRATA_RETURN_IF_ERROR(edit(t));
    if (t.name != old_name)
      STRATA_RETURN_IF_ERROR(TypeNameFree(db_, kGroupSpecs, t.name));
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db_,
                           "UPDATE group_types SET name=?, description=?, "
                           "is_public=?, updated_at=? WHERE id=?"));
    st.Bind(1, t.name)
        .BindOpt(2, t.description)
        .Bind(3, static_cast<int64_t>(t.is_public))
        .Bind(4, NowMicros())
        .Bind(5, id);
    return st.RunUpdate("Group type " + id + " could not be found.");
  });
}

Status Catalog::DeleteGroupType(const std::string& id) {
  return Transaction([&]() -> Status {
    STRATA_RETURN_IF_ERROR(GetGroupType(id).status());
    STRATA_ASSIGN_OR_RETURN(
        auto user, FindOne(
                       db_, "SELECT id FROM groups WHERE group_type_id=?", id,
                       +[](const Statement& s) { return s.ColumnText(0); }));
    if (user)
      return Status::InvalidArgument("Group Type " + id +
                                     " deletion is not allowed with groups "
                                     "present with the type.");
    // Specs go with the row (ON DELETE CASCADE).
    return RunOnId(db_, "DELETE FROM group_types WHERE id=?", id,
                   "Group type " + id + " could not be found.");
  });
}

Status Catalog::SetGroupTypeSpecs(const std::string& id,
                                  const Metadata& specs) {
  return Transaction(
      [&]() -> Status { return UpsertSpecs(db_, kGroupSpecs, id, specs); });
}

Status Catalog::DeleteGroupTypeSpec(const std::string& id,
                                    const std::string& key) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return DeleteSpec(db_, kGroupSpecs, id, key,
                    "Group Type " + id + " has no specs with key " + key + ".");
}

// ---- groups ----

Status Catalog::InsertGroup(const GroupRecord& g) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return kGroups.Insert(db_, g);
}

Result<GroupRecord> Catalog::GetGroup(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return kGroups.Get(db_, id);
}

Result<ListResult<GroupRecord>> Catalog::ListGroups(const ListQuery& q) {
  static const std::map<std::string, std::string> kFilters = {
      {"name", "name"},
      {"status", "status"},
      {"project_id", "project_id"},
      {"group_type", "group_type_id"}};
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return ListRows(db_, kGroups.Select("1"), q, kFilters, kSort, kGroups.read);
}

Status Catalog::ModifyGroup(const std::string& id,
                            const std::function<Status(GroupRecord&)>& edit) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(GroupRecord g, GetGroup(id));
    STRATA_RETURN_IF_ERROR(edit(g));
    g.updated_at = NowMicros();
    return kGroups.Update(db_, g, id);
  });
}

Status Catalog::DeleteGroup(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return kGroups.Delete(db_, id);
}

Result<std::vector<VolumeRecord>> Catalog::VolumesOfGroup(
    const std::string& group_id) {
  ListQuery q;
  q.filters["group_id"] = group_id;
  q.sort = {{"created_at", true}};
  STRATA_ASSIGN_OR_RETURN(auto listed, ListVolumes(q));
  return std::move(listed.rows);
}

// ---- group snapshots ----

Status Catalog::InsertGroupSnapshot(const GroupSnapshotRecord& g) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return kGroupSnapshots.Insert(db_, g);
}

Result<GroupSnapshotRecord> Catalog::GetGroupSnapshot(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return kGroupSnapshots.Get(db_, id);
}

Result<ListResult<GroupSnapshotRecord>> Catalog::ListGroupSnapshots(
    const ListQuery& q) {
  static const std::map<std::string, std::string> kFilters = {
      {"name", "name"},
      {"status", "status"},
      {"project_id", "project_id"},
      {"group_id", "group_id"}};
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return ListRows(db_, kGroupSnapshots.Select("1"), q, kFilters, kSort,
                  kGroupSnapshots.read);
}

Status Catalog::ModifyGroupSnapshot(
    const std::string& id,
    const std::function<Status(GroupSnapshotRecord&)>& edit) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(GroupSnapshotRecord g, GetGroupSnapshot(id));
    STRATA_RETURN_IF_ERROR(edit(g));
    g.updated_at = NowMicros();
    return kGroupSnapshots.Update(db_, g, id);
  });
}

Status Catalog::DeleteGroupSnapshot(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  return kGroupSnapshots.Delete(db_, id);
}

Result<std::vector<SnapshotRecord>> Catalog::SnapshotsOfGroupSnapshot(
    const std::string& group_snapshot_id) {
  ListQuery q;
  q.filters["group_snapshot_id"] = group_snapshot_id;
  q.sort = {{"created_at", true}};
  STRATA_ASSIGN_OR_RETURN(auto listed, ListSnapshots(q));
  return std::move(listed.rows);
}

}  // namespace strata::db
