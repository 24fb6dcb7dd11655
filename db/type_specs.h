// What volume types (volume_type_queries.cc) and group types
// (group_queries.cc) share: a table of types (id, name, description,
// is_public, created_at, updated_at, …) and a table of their specs (type
// id, key, value) that go with their type. REQUIRES: the catalog's mutex
// (callers are Catalog methods).
// Thread-safety: as the caller's.
#pragma once

#include <optional>
#include <string>

#include "db/records.h"
#include "db/sqlite.h"

namespace strata::db {

struct SpecsTable {
  const char* types;      // "volume_types"
  const char* specs;      // "volume_type_extra_specs"
  const char* type_id;    // "volume_type_id"
  const char* type_noun;  // "Volume type": "<noun> <id> could not be found."
  const char* name_noun;  // "Volume Type": "<noun> <name> already exists."
};

// OK when no type of the table has `name`; else AlreadyExists, in
// Cinder's words.
[[nodiscard]] Status TypeNameFree(const SqliteDb& db, const SpecsTable& t,
                                  const std::string& name);
// Inserts a type's row and its specs; AlreadyExists when its name is
// taken (TypeNameFree). Run it in a transaction.
struct TypeRow {
  const std::string& id;
  const std::string& name;
  const std::optional<std::string>& description;
  bool is_public;
  int64_t created_at, updated_at;
};
[[nodiscard]] Status InsertType(const SqliteDb& db, const SpecsTable& t,
                                const TypeRow& row, const Metadata& specs);

[[nodiscard]] Result<Metadata> ReadSpecs(const SqliteDb& db,
                                         const SpecsTable& t,
                                         const std::string& id);
// Adds or replaces `specs`, other keys untouched, and bumps the type's
// updated_at; NotFound for an unknown type. Run it in a transaction.
[[nodiscard]] Status UpsertSpecs(const SqliteDb& db, const SpecsTable& t,
                                 const std::string& id, const Metadata& specs);
// NotFound `missing` when the type has no such key.
[[nodiscard]] Status DeleteSpec(const SqliteDb& db, const SpecsTable& t,
                                const std::string& id, const std::string& key,
                                const std::string& missing);

}  // namespace strata::db
