// The specs of a type, shared by volume types' extra specs
// (volume_type_queries.cc) and group types' group specs
// (group_queries.cc): a table of (type id, key, value) rows that go with
// their type. REQUIRES: the catalog's mutex (callers are Catalog methods).
// Thread-safety: as the caller's.
#pragma once

#include <string>

#include "db/records.h"
#include "db/sqlite.h"

namespace strata::db {

struct SpecsTable {
  const char* types;      // "volume_types"
  const char* specs;      // "volume_type_extra_specs"
  const char* type_id;    // "volume_type_id"
  const char* type_noun;  // "Volume type": "<noun> <id> could not be found."
};

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
