// Catalog migrations. See schema.h and docs/catalog-schema.md.
#include "db/schema.h"

#include <string>
#include <vector>

#include "util/log.h"

namespace strata::db {
namespace {

const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> m = {
      // 1: volumes, snapshots, uploads, tasks.
      R"sql(
CREATE TABLE volumes (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  path TEXT NOT NULL UNIQUE,
  base_path TEXT,
  base_format TEXT,
  virtual_size INTEGER NOT NULL,
  head_snapshot_id TEXT,
  bootable INTEGER NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX volumes_project ON volumes(project_id, created_at);
CREATE TABLE snapshots (
  id TEXT PRIMARY KEY,
  volume_id TEXT NOT NULL REFERENCES volumes(id),
  project_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  progress INTEGER NOT NULL DEFAULT 0,
  parent_id TEXT,
  layer_file TEXT,
  store_key TEXT,
  store_location TEXT,
  sha256 TEXT,
  layer_bytes INTEGER NOT NULL DEFAULT 0,
  virtual_size INTEGER NOT NULL DEFAULT 0,
  covers TEXT NOT NULL DEFAULT '[]',
  hidden INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  metadata TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX snapshots_volume ON snapshots(volume_id, created_at);
CREATE INDEX snapshots_project ON snapshots(project_id, created_at);
CREATE TABLE uploads (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  snapshot_id TEXT NOT NULL,
  store TEXT NOT NULL,
  store_key TEXT NOT NULL,
  status TEXT NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX uploads_snapshot ON uploads(snapshot_id);
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  volume_id TEXT NOT NULL,
  snapshot_id TEXT,
  status TEXT NOT NULL,
  step TEXT NOT NULL DEFAULT '',
  progress INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT '{}',
  error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX tasks_status ON tasks(status);
)sql",
      // 2: the libvirt domain (and its disk) a volume belongs to, if any.
      R"sql(
ALTER TABLE volumes ADD COLUMN domain_uuid TEXT;
ALTER TABLE volumes ADD COLUMN disk_target TEXT;
)sql",
      // 3: store objects whose delete failed (R1.9): retried until gone.
      R"sql(
CREATE TABLE pending_deletes (
  store_key TEXT PRIMARY KEY,
  attempts INTEGER NOT NULL DEFAULT 1,
  last_error TEXT NOT NULL DEFAULT '',
  since INTEGER NOT NULL
);
)sql",
      // 4: the SHA-256 of the layer file itself (R1.3: before any relay
      // stage), checked again after a download has undone the stages.
      R"sql(
ALTER TABLE snapshots ADD COLUMN layer_sha256 TEXT;
)sql",
      // 5: NBD exports' write history per time-of-day slot (R0.11). The
      // slot length is part of the key: a changed length starts afresh
      // instead of mixing slots of different spans.
      R"sql(
CREATE TABLE write_history (
  export_name TEXT NOT NULL,
  slot_seconds INTEGER NOT NULL,
  slot INTEGER NOT NULL,
  periods INTEGER NOT NULL DEFAULT 0,
  writes INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (export_name, slot_seconds, slot)
);
)sql",
      // 6: the fast check (util/file_check.h) of the stored bytes, recorded
      // at upload when they are the layer's own, for reverts that link the
      // local store's file instead of downloading it.
      R"sql(
ALTER TABLE snapshots ADD COLUMN layer_check TEXT;
)sql",
      // 7: histories a revert merged and installed before they reached the
      // disk (engine/settle.cc): written back in the background, rebuilt
      // from their layers after a crash that may have lost them.
      R"sql(
CREATE TABLE unsettled_histories (
  path TEXT PRIMARY KEY,
  volume_id TEXT NOT NULL,
  layers TEXT NOT NULL,
  file_check TEXT,
  created_at INTEGER NOT NULL
);
)sql",
      // 8: Cinder's volume fields for volumes Strata creates (issue 18):
      // the volume type, what it was made from, and the admin metadata
      // (readonly, attach state) Cinder keeps apart from the user's.
      R"sql(
ALTER TABLE volumes ADD COLUMN volume_type_id TEXT;
ALTER TABLE volumes ADD COLUMN snapshot_id TEXT;
ALTER TABLE volumes ADD COLUMN source_volid TEXT;
ALTER TABLE volumes ADD COLUMN admin_metadata TEXT NOT NULL DEFAULT '{}';
)sql",
      // 9: volume types with their extra specs, and Cinder's quotas per
      // project and per quota class (issue 18). The default type, named
      // "__DEFAULT__" as Cinder's, is the type of every volume without
      // one (records.h kDefaultVolumeTypeId).
      R"sql(
CREATE TABLE volume_types (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT,
  is_public INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE volume_type_extra_specs (
  volume_type_id TEXT NOT NULL REFERENCES volume_types(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (volume_type_id, key)
);
INSERT INTO volume_types (id, name, description, is_public, created_at,
                          updated_at)
  VALUES ('8f2ae5ba-0a2c-4d6c-8d8e-6b8c3f1f0d01', '__DEFAULT__',
          'Default Volume Type', 1,
          CAST(strftime('%s', 'now') AS INTEGER) * 1000000,
          CAST(strftime('%s', 'now') AS INTEGER) * 1000000);
CREATE TABLE quotas (
  project_id TEXT NOT NULL,
  resource TEXT NOT NULL,
  hard_limit INTEGER NOT NULL,
  PRIMARY KEY (project_id, resource)
);
CREATE TABLE quota_classes (
  class_name TEXT NOT NULL,
  resource TEXT NOT NULL,
  hard_limit INTEGER NOT NULL,
  PRIMARY KEY (class_name, resource)
);
)sql",
      // 10: volume transfers (Cinder's os-volume-transfer): a pending
      // offer of a volume to whichever project presents its auth key.
      R"sql(
CREATE TABLE volume_transfers (
  id TEXT PRIMARY KEY,
  volume_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  name TEXT,
  salt TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  no_snapshots INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE INDEX volume_transfers_project ON volume_transfers(project_id);
)sql",
      // 11: the projects a private volume type is shared with (Cinder's
      // volume type access).
      R"sql(
CREATE TABLE volume_type_access (
  volume_type_id TEXT NOT NULL REFERENCES volume_types(id) ON DELETE CASCADE,
  project_id TEXT NOT NULL,
  PRIMARY KEY (volume_type_id, project_id)
);
)sql",
      // 12: Cinder's backups, each a stored point (a snapshot row) of a
      // volume; the row pins the point's layer (snapshot_queries.cc).
      R"sql(
CREATE TABLE backups (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  volume_id TEXT NOT NULL,
  point_id TEXT NOT NULL,
  snapshot_id TEXT,
  parent_id TEXT,
  name TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  fail_reason TEXT NOT NULL DEFAULT '',
  container TEXT,
  availability_zone TEXT NOT NULL DEFAULT '',
  size_gib INTEGER NOT NULL,
  is_incremental INTEGER NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL DEFAULT '{}',
  base_path TEXT,
  base_format TEXT,
  volume_metadata TEXT NOT NULL DEFAULT '{}',
  volume_bootable INTEGER NOT NULL DEFAULT 0,
  restore_volume_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  data_timestamp INTEGER NOT NULL
);
CREATE INDEX backups_project ON backups(project_id);
CREATE INDEX backups_volume ON backups(volume_id);
CREATE INDEX backups_point ON backups(point_id);
CREATE INDEX backups_parent ON backups(parent_id);
)sql",
      // 13: Cinder's QoS specs, and the one a volume type is associated
      // with.
      R"sql(
CREATE TABLE qos_specs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  consumer TEXT NOT NULL,
  specs TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
ALTER TABLE volume_types ADD COLUMN qos_specs_id TEXT;
)sql",
      // 14: Cinder's user messages: what went wrong with a request's
      // resource, for the project that made it.
      R"sql(
CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_uuid TEXT,
  event_id TEXT NOT NULL,
  message_level TEXT NOT NULL,
  user_message TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX messages_project ON messages(project_id);
)sql",
      // 15: Cinder's encryption types: how volumes of a type are to be
      // encrypted (Strata refuses to create them: it has no key manager).
      R"sql(
CREATE TABLE volume_type_encryption (
  volume_type_id TEXT PRIMARY KEY REFERENCES volume_types(id)
    ON DELETE CASCADE,
  encryption_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  control_location TEXT NOT NULL,
  cipher TEXT,
  key_size INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
)sql",
      // 16: Cinder's generic volume groups, their types and their
      // snapshots (one consistent cut of the members).
      R"sql(
CREATE TABLE group_types (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT,
  is_public INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE group_type_specs (
  group_type_id TEXT NOT NULL REFERENCES group_types(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (group_type_id, key)
);
CREATE TABLE groups (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  availability_zone TEXT NOT NULL,
  group_type_id TEXT NOT NULL,
  volume_type_ids TEXT NOT NULL DEFAULT '[]',
  group_snapshot_id TEXT,
  source_group_id TEXT,
  follows_members INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE group_snapshots (
  id TEXT PRIMARY KEY,
  group_id TEXT NOT NULL,
  group_type_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  follows_members INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX group_snapshots_group ON group_snapshots(group_id);
ALTER TABLE volumes ADD COLUMN group_id TEXT;
ALTER TABLE snapshots ADD COLUMN group_snapshot_id TEXT;
CREATE INDEX volumes_group ON volumes(group_id);
CREATE INDEX snapshots_group_snapshot ON snapshots(group_snapshot_id);
)sql",
      // 17: Cinder's snapshot unmanage: a hidden snapshot whose layer stays
      // until it is managed again.
      R"sql(
ALTER TABLE snapshots ADD COLUMN unmanaged INTEGER NOT NULL DEFAULT 0;
)sql",
      // 18: backup policies (issue 19, R1.1/R1.5/R1.6) and their runs.
      R"sql(
CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  enabled INTEGER NOT NULL DEFAULT 1,
  targets TEXT NOT NULL DEFAULT '{}',
  schedule TEXT NOT NULL,
  timezone TEXT NOT NULL DEFAULT '',
  run_missed INTEGER NOT NULL DEFAULT 1,
  retention TEXT NOT NULL DEFAULT '{}',
  retry_attempts INTEGER NOT NULL DEFAULT 0,
  retry_delay_seconds INTEGER NOT NULL DEFAULT 300,
  last_scheduled_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX policies_project ON policies(project_id, created_at);
CREATE TABLE policy_runs (
  id TEXT PRIMARY KEY,
  policy_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  trigger TEXT NOT NULL,
  scheduled_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1,
  snapshots TEXT NOT NULL DEFAULT '[]',
  pruned TEXT NOT NULL DEFAULT '[]',
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX policy_runs_policy ON policy_runs(policy_id, started_at);
)sql",
      // 19: the last verify of each snapshot's stored layer (issue 20).
      R"sql(
CREATE TABLE snapshot_verifications (
  snapshot_id TEXT PRIMARY KEY,
  verify_state TEXT NOT NULL,
  verified_at INTEGER NOT NULL,
  verify_error TEXT NOT NULL DEFAULT ''
);
)sql",
      // 20: the memory taken with a snapshot (issue 21).
      R"sql(
CREATE TABLE memory_snapshots (
  snapshot_id TEXT PRIMARY KEY,
  memory_state TEXT NOT NULL,
  memory_domain TEXT NOT NULL,
  memory_region TEXT NOT NULL,
  memory_figures TEXT NOT NULL DEFAULT '{}',
  memory_error TEXT NOT NULL DEFAULT '',
  memory_updated_at INTEGER NOT NULL
);
)sql",
      // 21: where a store keeps the memory taken with a snapshot (issue
      // 21: its restore image, memsnap/restore_image.h).
      R"sql(
ALTER TABLE memory_snapshots ADD COLUMN memory_store_key TEXT NOT NULL DEFAULT '';
ALTER TABLE memory_snapshots ADD COLUMN memory_store_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE memory_snapshots ADD COLUMN memory_store_bytes INTEGER NOT NULL DEFAULT 0;
)sql",
  };
  return m;
}

Result<int> UserVersion(SqliteDb& db) {
  STRATA_ASSIGN_OR_RETURN(Statement st,
                          Statement::Prepare(db, "PRAGMA user_version"));
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::Internal("PRAGMA user_version returned no row");
  return static_cast<int>(st.ColumnInt(0));
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

Status Migrate(SqliteDb& db) {
  STRATA_ASSIGN_OR_RETURN(int version, UserVersion(db));
  const auto& migrations = Migrations();
  if (version > static_cast<int>(migrations.size()))
    return Status::NotSupported("catalog schema version " +
                                std::to_string(version) +
                                " is newer than this stratad understands (" +
                                std::to_string(migrations.size()) + ")");
  for (size_t i = version; i < migrations.size(); ++i) {
    STRATA_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    Status s = db.Exec(migrations[i]);
    if (s.ok()) s = db.Exec("PRAGMA user_version = " + std::to_string(i + 1));
    if (!s.ok()) {
      LogIfError(db.Exec("ROLLBACK"), "rolling back a failed migration");
      return s.WithContext("migration " + std::to_string(i + 1));
    }
    STRATA_RETURN_IF_ERROR(db.Exec("COMMIT"));
  }
  return Status::OK();
}

}  // namespace strata::db
