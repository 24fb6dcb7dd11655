// Catalog: opening, migrations and transactions. Queries per record type are
// in volume_queries.cc, snapshot_queries.cc, task_queries.cc and
// write_history_queries.cc.
#include "db/catalog.h"

#include "db/schema.h"
#include "util/log.h"
#include "util/time_util.h"

namespace strata::db {

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path));
  STRATA_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL"));
  STRATA_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=FULL"));
  STRATA_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=ON"));
  STRATA_RETURN_IF_ERROR(Migrate(db));
  return std::unique_ptr<Catalog>(new Catalog(std::move(db)));
}

int Catalog::SchemaVersion() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto st = Statement::Prepare(db_, "PRAGMA user_version");
  if (!st.ok()) return -1;
  auto row = st->Step();
  return row.ok() && *row ? static_cast<int>(st->ColumnInt(0)) : -1;
}

Status Catalog::Transaction(const std::function<Status()>& fn) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (txn_depth_ > 0) return fn();  // nested: part of the outer transaction
  STRATA_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  // Rolls back and restores the depth on every exit that did not commit,
  // an exception from `fn` included.
  struct Guard {
    Catalog* c;
    bool done = false;
    ~Guard() {
      --c->txn_depth_;
      // A failed rollback leaves SQLite to roll back when the connection
      // closes; nothing better can be done from a destructor.
      if (!done) LogIfError(c->db_.Exec("ROLLBACK"), "catalog rollback");
    }
  } guard{this};
  ++txn_depth_;
  Status s = fn();
  if (!s.ok()) return s;
  s = db_.Exec("COMMIT");
  guard.done = s.ok();
  return s;
}

Status Catalog::ModifyVolume(const std::string& id,
                             const std::function<Status(VolumeRecord&)>& edit) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(VolumeRecord v, GetVolume(id));
    STRATA_RETURN_IF_ERROR(edit(v));
    v.updated_at = NowMicros();
    return UpdateVolume(v);
  });
}

Status Catalog::ModifySnapshot(
    const std::string& id, const std::function<Status(SnapshotRecord&)>& edit) {
  return Transaction([&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(SnapshotRecord s, GetSnapshot(id));
    STRATA_RETURN_IF_ERROR(edit(s));
    s.updated_at = NowMicros();
    return UpdateSnapshot(s);
  });
}

}  // namespace strata::db
