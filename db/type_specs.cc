// Type specs tables. See type_specs.h.
#include "db/type_specs.h"

#include "util/time_util.h"

namespace strata::db {

Status TypeNameFree(const SqliteDb& db, const SpecsTable& t,
                    const std::string& name) {
  STRATA_ASSIGN_OR_RETURN(
      Statement st, Statement::Prepare(db, std::string("SELECT 1 FROM ") +
                                               t.types + " WHERE name=?"));
  st.Bind(1, name);
  STRATA_ASSIGN_OR_RETURN(bool taken, st.Step());
  if (taken)
    return Status::AlreadyExists(std::string(t.name_noun) + " " + name +
                                 " already exists.");
  return Status::OK();
}

Status InsertType(const SqliteDb& db, const SpecsTable& t, const TypeRow& row,
                  const Metadata& specs) {
  STRATA_RETURN_IF_ERROR(TypeNameFree(db, t, row.name));
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db, std::string("INSERT INTO ") + t.types +
                                 " (id, name, description, is_public, "
                                 "created_at, updated_at) "
                                 "VALUES (?,?,?,?,?,?)"));
  st.Bind(1, row.id)
      .Bind(2, row.name)
      .BindOpt(3, row.description)
      .Bind(4, static_cast<int64_t>(row.is_public))
      .Bind(5, row.created_at)
      .Bind(6, row.updated_at);
  STRATA_RETURN_IF_ERROR(st.Run());
  return UpsertSpecs(db, t, row.id, specs);
}

Result<Metadata> ReadSpecs(const SqliteDb& db, const SpecsTable& t,
                           const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db, std::string("SELECT key, value FROM ") + t.specs +
                                 " WHERE " + t.type_id + "=?"));
  st.Bind(1, id);
  Metadata out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return out;
    out[st.ColumnText(0)] = st.ColumnText(1);
  }
}

Status UpsertSpecs(const SqliteDb& db, const SpecsTable& t,
                   const std::string& id, const Metadata& specs) {
  // First, so an unknown type is a NotFound, not a foreign-key failure.
  STRATA_ASSIGN_OR_RETURN(
      Statement touch,
      Statement::Prepare(db, std::string("UPDATE ") + t.types +
                                 " SET updated_at=? WHERE id=?"));
  touch.Bind(1, NowMicros()).Bind(2, id);
  STRATA_RETURN_IF_ERROR(touch.RunUpdate(std::string(t.type_noun) + " " + id +
                                         " could not be found."));
  for (const auto& [k, v] : specs) {
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::Prepare(db, std::string("INSERT OR REPLACE INTO ") +
                                   t.specs + " (" + t.type_id +
                                   ", key, value) VALUES (?,?,?)"));
    st.Bind(1, id).Bind(2, k).Bind(3, v);
    STRATA_RETURN_IF_ERROR(st.Run());
  }
  return Status::OK();
}

Status DeleteSpec(const SqliteDb& db, const SpecsTable& t,
                  const std::string& id, const std::string& key,
                  const std::string& missing) {
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db, std::string("DELETE FROM ") + t.specs + " WHERE " +
                                 t.type_id + "=? AND key=?"));
  st.Bind(1, id).Bind(2, key);
  return st.RunUpdate(missing);
}

}  // namespace strata::db
