// The catalog's schema, as an ordered list of migrations.
//
// Migration N moves the database from user_version N-1 to N; each runs in
// its own transaction at start-up. Never edit a migration that has shipped:
// add a new one. The schema is documented in docs/catalog-schema.md.
// Thread-safety: called once, before the catalog is shared.
#pragma once

#include "db/sqlite.h"

namespace strata::db {

// The user_version the code expects.
int LatestSchemaVersion();
// Applies every pending migration; refuses a database newer than the code.
Status Migrate(SqliteDb& db);

}  // namespace strata::db
