// Plain records stored in the catalog: volumes (managed disks), snapshots,
// uploads, tasks and NBD exports' write history. Times are microseconds
// since the epoch.
// See docs/catalog-schema.md for what each field means and when it changes.
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace strata::db {

using Metadata = std::map<std::string, std::string>;

struct VolumeRecord {
  std::string id;
  std::string project_id;
  std::string user_id;
  std::string name;
  std::string description;
  std::string status;  // available, in-use, error, maintenance
  std::string path;    // canonical path of the active top; never changes
  std::optional<std::string> base_path;  // immutable base below Strata's layers
  std::optional<std::string> base_format;  // its format (qcow2, raw)
  int64_t virtual_size = 0;                // bytes
  // The snapshot whose state the disk's local history layer holds: the
  // parent of the next snapshot. Empty before the first snapshot.
  std::optional<std::string> head_snapshot_id;
  bool bootable = false;
  Metadata metadata;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // The libvirt domain whose disk this is (a server's disk), and the disk's
  // target there ("vda"); unset for disks no domain uses.
  std::optional<std::string> domain_uuid;
  std::optional<std::string> disk_target;
  // Cinder's fields (issue 18): the volume type's id (unset: the default
  // type), the snapshot or volume a created volume was made from, and the
  // admin metadata ("readonly", "attached_mode", …) that Cinder keeps apart
  // from the user's and shows in `metadata` beside it.
  std::optional<std::string> volume_type_id;
  std::optional<std::string> snapshot_id;
  std::optional<std::string> source_volid;
  Metadata admin_metadata;
  // The Cinder group (issue 18; api/groups.cc) the volume belongs to.
  std::optional<std::string> group_id;
};

struct SnapshotRecord {
  std::string id;
  std::string volume_id;
  std::string project_id;
  std::string user_id;
  std::string name;
  std::string description;
  std::string status;  // creating, available, error, deleting, error_deleting,
                       // restoring
  int progress = 0;    // percent
  // The snapshot whose state this one's layer is relative to; empty when the
  // layer sits directly on the volume's base.
  std::optional<std::string> parent_id;
  std::optional<std::string> layer_file;  // the renamed top, while on the host
  std::optional<std::string> store_key;   // set once the upload is verified
  std::optional<std::string> store_location;
  std::optional<std::string> sha256;  // of the stored layer's bytes
  // Of the layer file itself, before relay stages (compression, encryption)
  // changed it; unset for snapshots stored before migration 4.
  std::optional<std::string> layer_sha256;
  // The fast check of the stored bytes (util/file_check.h), set at upload
  // when no relay stage changed them; unset before migration 6. A revert
  // that links a local store's file checks it with this, not SHA-256.
  std::optional<std::string> layer_check;
  int64_t layer_bytes = 0;   // size of the stored layer
  int64_t virtual_size = 0;  // disk size at the snapshot (bytes)
  // Failed snapshots whose writes this layer also holds (R2.6).
  std::vector<std::string> covers;
  // Deleted by the user, kept only because a descendant or the volume's
  // live chain still needs its layer. Never listed.
  bool hidden = false;
  // A Cinder backup's stored point (issue 18): a backups row names this
  // snapshot as its point, so its layer stays whatever else is deleted.
  // Read only: computed by the catalog from the backups table.
  bool pinned = false;
  // The last check of the stored layer against its recorded SHA-256
  // (os-verify, issue 20; Proxmox's verify state): state "" (never since
  // the upload), "verifying", "ok", "failed" or "interrupted" (a restart
  // cut it short); `verified_at` when it ended (or began, while verifying);
  // `verify_error` says why it failed. Read only: computed by the catalog
  // from the snapshot_verifications table.
  std::string verify_state;
  int64_t verified_at = 0;
  std::string verify_error;
  // The memory taken with the snapshot, at the disk's cut instant (issue
  // 21, R3: createImage with os-strata:memory): state "" (none),
  // "writing", "complete" or "error"; the domain it was taken of, the
  // region's path, its figures (JSON: region_bytes, allocated_bytes,
  // vm_paused_ms, …) and why it failed. Read only: computed by the catalog
  // from the memory_snapshots table.
  std::string memory_state, memory_domain, memory_region, memory_figures,
      memory_error;
  // Where the store keeps it (its restore image), once stored with the
  // layer: the key ("" until then), the stored bytes' SHA-256 and length.
  std::string memory_store_key, memory_store_sha256;
  int64_t memory_store_bytes = 0;
  std::string error;  // why it is in error, for operators
  Metadata metadata;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // The group snapshot this snapshot is one member of (one consistent cut
  // of a group's volumes; engine/group_lifecycle.h).
  std::optional<std::string> group_snapshot_id;
  // Cinder's unmanage (volume_adoption.h): hidden, its stored layer kept
  // until a manage brings the snapshot back or its volume is deleted.
  bool unmanaged = false;
};

// A history file a revert merged and put in a disk's chain before it was
// written back to the disk (engine/settle.cc). While the row exists, a
// crash may have lost part of the file; the layers rebuild it.
struct UnsettledHistoryRecord {
  std::string path;  // the history file
  std::string volume_id;
  // The snapshots whose stored layers were merged into it, bottom first, on
  // the file's own backing.
  std::vector<std::string> layers;
  // The file's fast check (util/file_check.h) once taken, of the content
  // it had in the page cache; unset before.
  std::optional<std::string> file_check;
  int64_t created_at = 0;
};

struct UploadRecord {
  int64_t id = 0;
  std::string snapshot_id;
  std::string store;  // driver name
  std::string store_key;
  std::string status;  // running, done, failed
  int64_t bytes = 0;
  std::string sha256;
  std::string error;
  int64_t started_at = 0;
  int64_t finished_at = 0;
};

struct TaskRecord {
  std::string id;
  std::string kind;  // snapshot_create, snapshot_delete, revert
  std::string volume_id;
  std::optional<std::string> snapshot_id;
  std::string status;  // running, succeeded, failed
  std::string step;    // the journalled step about to act (see engine)
  int progress = 0;
  std::string state;  // JSON: paths and ids the step needs to resume
  std::string error;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// One time-of-day slot of an NBD export's write history (R0.11): how many
// periods of the slot were observed and what they received, summed. A
// slot's average per period is writes / periods.
struct WriteSlotRecord {
  int64_t slot = 0;     // index in the (UTC) day, 0-based
  int64_t periods = 0;  // slot periods observed
  int64_t writes = 0;   // writes (write, zero, trim requests) in them
  int64_t bytes = 0;    // write payload bytes in them
};

// A page request over a list: filters, sort, marker/offset/limit.
struct ListQuery {
  std::string project_id;  // empty: every project (admin all_tenants)
  std::map<std::string, std::string> filters;  // column = value
  Metadata metadata;                           // all must match
  // (key, ascending) pairs; the id is always the final tie-break.
  std::vector<std::pair<std::string, bool>> sort;
  std::optional<std::string> marker;  // id of the last row of the prior page
  int64_t offset = 0;
  int64_t limit = -1;  // -1: no limit
};

}  // namespace strata::db

namespace strata::db {

// A Cinder volume type (issue 18): a name and extra specs that volumes
// refer to. Migration 9 creates the default type, kDefaultVolumeTypeId,
// named "__DEFAULT__" as Cinder names its own; a volume whose
// volume_type_id is unset has that type.
inline constexpr char kDefaultVolumeTypeId[] =
    "8f2ae5ba-0a2c-4d6c-8d8e-6b8c3f1f0d01";
struct VolumeTypeRecord {
  std::string id;
  std::string name;                        // unique
  std::optional<std::string> description;  // Cinder shows null when unset
  bool is_public = true;  // private types: admins only (no access lists)
  Metadata extra_specs;
  std::optional<std::string> qos_specs_id;  // the associated QoS specs
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// What counts against a project's quotas: one row per volume and per
// visible (not hidden) snapshot, with the volume type it counts under.
struct QuotaUsageRow {
  std::string project_id;
  bool is_snapshot = false;
  bool is_backup = false;  // a backup: backups and backup_gigabytes
  std::optional<std::string> volume_type_id;  // unset: the default type
  int64_t virtual_size = 0;                   // bytes
};

// A pending volume transfer (Cinder's os-volume-transfer): the volume goes
// to the project that accepts it with the auth key, whose salted SHA-256
// is all that is kept.
struct TransferRecord {
  std::string id;
  std::string volume_id;
  std::string project_id;  // the volume's owner, who offers it
  std::optional<std::string> name;
  std::string salt, key_hash;
  bool no_snapshots = false;  // the snapshots stay behind (≥ 3.55)
  int64_t created_at = 0;
};

// Cinder's QoS specs (issue 18, api/qos_specs.cc): named key/value specs
// for a consumer ("front-end": the hypervisor applies them, as Nova does
// from a volume's connection info; "back-end": the storage; "both"),
// associated with volume types.
struct QosSpecsRecord {
  std::string id;
  std::string name;  // unique
  std::string consumer;
  Metadata specs;
  int64_t created_at = 0;
};

// Cinder's encryption type of a volume type (issue 18,
// api/volume_type_encryption.cc).
struct EncryptionTypeRecord {
  std::string volume_type_id;
  std::string encryption_id;
  std::string provider;
  std::string control_location;  // front-end, back-end
  std::optional<std::string> cipher;
  std::optional<int64_t> key_size;
  int64_t created_at = 0, updated_at = 0;
};

// A Cinder user message (issue 18, api/messages.cc): why a request's
// resource failed, for its project, until expires_at (Cinder's
// guaranteed_until).
struct MessageRecord {
  std::string id;
  std::string project_id;
  std::string request_id;
  std::string resource_type;  // VOLUME, SNAPSHOT, BACKUP, …
  std::optional<std::string> resource_uuid;
  std::string event_id;       // Cinder's VOLUME_VOL_001_002 form
  std::string message_level;  // ERROR
  std::string user_message;
  int64_t created_at = 0, expires_at = 0;
};

// A backup policy (issue 19, migration 18; policy/): what it protects
// (R1.1), when (R1.5) and how many points it keeps (R1.6). The JSON fields
// are kept as the API validated them (policy/policy_spec.h reads them).
struct PolicyRecord {
  std::string id;
  std::string project_id;
  std::string user_id;
  std::string name;
  std::string description;
  bool enabled = true;
  std::string targets = "{}";    // JSON: {"volumes": [...], "servers": [...]}
  std::string schedule;          // a calendar event or an interval
  std::string timezone;          // empty: the host's
  bool run_missed = true;        // a time stratad was down for runs at start
  std::string retention = "{}";  // JSON: policy/retention.h's rules
  int retry_attempts = 0;        // further attempts after a failed run
  int retry_delay_seconds = 300;
  // The last scheduled time (Unix µs) the runner has dealt with: ran,
  // skipped or recorded as missed. The next run is the schedule's first
  // time after it.
  int64_t last_scheduled_at = 0;
  int64_t created_at = 0, updated_at = 0;
};

// One run of a policy: scheduled, missed (run at start), manual or a retry.
struct PolicyRunRecord {
  std::string id;
  std::string policy_id;
  std::string project_id;
  std::string trigger;  // schedule, missed, manual, retry
  int64_t scheduled_at = 0, started_at = 0, finished_at = 0;  // Unix µs
  // running, success, error, skipped (the previous run still going)
  std::string status;
  int attempt = 1;
  std::string snapshots = "[]";  // JSON: [{volume_id, snapshot_id, status}]
  std::string pruned = "[]";     // JSON: [{volume_id, snapshot_id, reason}]
  std::string error;
};

// A Cinder backup (issue 18, api/backups.cc): a stored point of a volume,
// the snapshot `point_id`, whose layers in the store hold the volume's
// state when it was taken. Backups and snapshots share Strata's one kind of
// stored layer; docs/api.md says how the two views map onto it.
struct BackupRecord {
  std::string id;
  std::string project_id, user_id;
  std::string volume_id;  // the source volume
  std::string point_id;   // the snapshot row holding the backup's state
  // Cinder's snapshot_id: the user's snapshot the backup was made from;
  // unset for a backup of the volume's current state.
  std::optional<std::string> snapshot_id;
  // The backup an incremental one follows (Cinder's parent_id).
  std::optional<std::string> parent_id;
  std::string name, description;
  std::string status;  // creating, available, error, restoring
  std::string fail_reason;
  std::optional<std::string> container;
  std::string availability_zone;
  int64_t size_gib = 0;
  bool is_incremental = false;
  Metadata metadata;
  // The source volume's foreign base below its layers, which a restore
  // builds on (it stays on this host: docs/api.md).
  std::optional<std::string> base_path, base_format;
  // The source volume's metadata and bootable flag when it was taken: a
  // volume restored from the backup gets them, as in Cinder.
  Metadata volume_metadata;
  bool volume_bootable = false;
  // The volume a running restore builds ("restoring" until it settles).
  std::optional<std::string> restore_volume_id;
  int64_t created_at = 0, updated_at = 0;
  int64_t data_timestamp = 0;  // when the state it holds was the volume's
  // Computed: an incremental backup names this one as its parent.
  bool has_dependent_backups = false;
};

// Cinder's group types (issue 18; api/group_types.cc): a name and group
// specs, as a volume type has a name and extra specs.
struct GroupTypeRecord {
  std::string id;
  std::string name;  // unique
  std::optional<std::string> description;
  bool is_public = true;
  Metadata group_specs;
  int64_t created_at = 0, updated_at = 0;
};

// A Cinder generic volume group (issue 18; engine/group_lifecycle.h): volumes
// snapshotted together in one consistent cut. `follows_members`: the status
// is one the engine settles from the members' (a create from a source
// settles once every member volume is built; a delete once they are gone);
// an admin's reset clears it, so the status it sets stays.
struct GroupRecord {
  std::string id;
  std::string project_id, user_id;
  std::string name, description;
  std::string status;  // creating, available, error, deleting, error_deleting
  std::string availability_zone;
  std::string group_type_id;
  std::vector<std::string> volume_type_ids;
  std::optional<std::string> group_snapshot_id;  // created from it
  std::optional<std::string> source_group_id;    // cloned from it
  bool follows_members = false;
  int64_t created_at = 0, updated_at = 0;
};

// A Cinder group snapshot: one snapshot of every member volume, cut at one
// instant (engine/group_lifecycle.h). `follows_members` as for a group.
struct GroupSnapshotRecord {
  std::string id;
  std::string group_id, group_type_id;
  std::string project_id, user_id;
  std::string name, description;
  std::string status;  // creating, available, error, deleting, error_deleting
  bool follows_members = false;
  int64_t created_at = 0, updated_at = 0;
};

}  // namespace strata::db
