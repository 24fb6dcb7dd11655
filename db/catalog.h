// Catalog: Strata's SQLite database of volumes, snapshots, uploads, tasks,
// the NBD exports' write history, volume types and quotas.
//
// Every SQL statement Strata runs lives in db/. The catalog opens the file in
// WAL mode with synchronous=FULL (a committed journal step survives power
// loss), applies migrations at open, and serialises access through one
// connection. Methods return NotFound for unknown ids; writes are atomic per
// call, and Transaction() groups several calls into one atomic unit.
//
// Thread-safety: every method may be called from any thread; calls are
// serialised on mu_. Transaction() holds mu_ for its whole body.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db/records.h"
#include "db/sqlite.h"

namespace strata::db {

template <class T>
struct ListResult {
  std::vector<T> rows;  // the requested page
  int64_t total = 0;    // rows matching the filters, before paging
  bool more = false;    // the page is full: a next link (Cinder's rule)
};

class Catalog {
 public:
  // Opens (creating if needed) the catalog at `path` and migrates it.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& path);

  int SchemaVersion();
  // Runs `fn` inside BEGIN IMMEDIATE … COMMIT; a non-ok Status rolls back.
  // Nested calls join the outermost transaction.
  Status Transaction(const std::function<Status()>& fn);

  // Read-modify-write of one record in a transaction, so concurrent edits
  // of other fields (an API rename, a task's progress) are not lost.
  Status ModifyVolume(const std::string& id,
                      const std::function<Status(VolumeRecord&)>& edit);
  Status ModifySnapshot(const std::string& id,
                        const std::function<Status(SnapshotRecord&)>& edit);

  // Volumes.
  Status InsertVolume(const VolumeRecord& v);
  Status UpdateVolume(const VolumeRecord& v);  // by id; bumps nothing itself
  Status DeleteVolume(const std::string& id);
  Result<VolumeRecord> GetVolume(const std::string& id);
  // NotFound when no volume has that (canonical) path.
  Result<VolumeRecord> GetVolumeByPath(const std::string& path);
  // Never lists "deleted" volumes: shells kept only for their backups'
  // layers (engine/volume_lifecycle.h), which RetainedVolumes returns.
  Result<ListResult<VolumeRecord>> ListVolumes(const ListQuery& q);
  Result<std::vector<VolumeRecord>> RetainedVolumes();

  // Snapshots.
  Status InsertSnapshot(const SnapshotRecord& s);
  Status UpdateSnapshot(const SnapshotRecord& s);  // by id
  Status DeleteSnapshot(const std::string& id);
  Result<SnapshotRecord> GetSnapshot(const std::string& id);
  // Visible snapshots only (hidden ones are never listed).
  Result<ListResult<SnapshotRecord>> ListSnapshots(const ListQuery& q);
  // Every snapshot of a volume, hidden included, oldest first.
  Result<std::vector<SnapshotRecord>> SnapshotsOfVolume(
      const std::string& volume_id);
  // R2.4: true when `id` names a snapshot whose layer was uploaded and
  // verified (hidden ones count: their layer is still stored).
  Result<bool> IsUploaded(const std::string& id);
  // Sets status/progress (and error when non-empty) in one statement.
  Status SetSnapshotStatus(const std::string& id, const std::string& status,
                           int progress, const std::string& error = "");
  // Records the state of a verify of the snapshot's stored layer (see
  // SnapshotRecord::verify_state), replacing the last one.
  Status SetSnapshotVerify(const std::string& id, const std::string& state,
                           const std::string& error = "");
  // At start: verifies a restart cut short become "interrupted".
  Status EndInterruptedVerifies();
  // The memory part of snapshot `id` (SnapshotRecord::memory_state …),
  // replacing what was recorded but where a store keeps it.
  Status SetSnapshotMemory(const std::string& id, const std::string& state,
                           const std::string& domain, const std::string& region,
                           const std::string& figures,
                           const std::string& error = "");
  // The regions (files or devices) that hold a snapshot's memory now: its
  // memory "writing" or "complete".
  Result<std::vector<std::string>> MemoryRegionsHeld();
  // Where a store keeps it (SnapshotRecord::memory_store_key …); NotFound
  // when the snapshot has no memory part.
  Status SetSnapshotMemoryStored(const std::string& id, const std::string& key,
                                 const std::string& sha256, int64_t bytes);

  // Uploads.
  Result<int64_t> BeginUpload(const UploadRecord& u);
  Status FinishUpload(int64_t id, const std::string& status, int64_t bytes,
                      const std::string& sha256, const std::string& error);
  Result<std::vector<UploadRecord>> UploadsOfSnapshot(
      const std::string& snapshot_id);

  // Store objects to delete once the store answers again (R1.9). Adding a
  // key already queued counts one more attempt and keeps the first time.
  Status AddPendingDelete(const std::string& store_key,
                          const std::string& error);
  Result<std::vector<std::string>> PendingDeletes();
  Status RemovePendingDelete(const std::string& store_key);

  // Histories not yet written back (engine/settle.cc), oldest first.
  // Adding a path already there replaces its row.
  Status AddUnsettledHistory(const UnsettledHistoryRecord& h);
  Status SetUnsettledHistoryCheck(const std::string& path,
                                  const std::string& file_check);
  Result<std::vector<UnsettledHistoryRecord>> UnsettledHistories();
  Status RemoveUnsettledHistory(const std::string& path);

  // Tasks (the journal of disk operations).
  Status InsertTask(const TaskRecord& t);
  // Records the step about to act (and its resume state) durably.
  Status SetTaskStep(const std::string& id, const std::string& step,
                     int progress, const std::string& state);
  Status FinishTask(const std::string& id, const std::string& status,
                    const std::string& error);
  Result<TaskRecord> GetTask(const std::string& id);
  Result<std::vector<TaskRecord>> UnfinishedTasks();
  // The tasks of `kind`, newest first, at most `limit`.
  Result<std::vector<TaskRecord>> TasksOfKind(const std::string& kind,
                                              int limit);
  // The tasks of `kind` for snapshot `snapshot_id` (a group snapshot's
  // coordination, for one), newest first.
  Result<std::vector<TaskRecord>> TasksOfSnapshot(
      const std::string& kind, const std::string& snapshot_id);
  // Tasks newest first, at most `limit`: of volumes of `project_id` (""
  // for every project), and of `volume_id`, `status` when not "".
  struct TaskFilter {
    std::string project_id, volume_id, status;
    int limit = 100;
  };
  Result<std::vector<TaskRecord>> ListTasks(const TaskFilter& f);

  // Write history of NBD exports (R0.11), per time-of-day slot of
  // `slot_seconds`. Adds each of `deltas` to its slot's sums (periods,
  // writes, bytes; a missing row starts at 0), all in one transaction.
  // InvalidArgument for a negative slot or count (nothing is added).
  Status AddWriteHistory(const std::string& export_name, int64_t slot_seconds,
                         const std::vector<WriteSlotRecord>& deltas);
  // The export's slots at that slot length, by slot; only slots with a
  // row (none: empty).
  Result<std::vector<WriteSlotRecord>> WriteHistoryOf(
      const std::string& export_name, int64_t slot_seconds);

  // ---- Volume types, quotas and quota usage (issue 18) ----
  // SQL in volume_type_queries.cc and quota_queries.cc.

  // Volume types by name; private ones only with `include_private`.
  // Public types, and private ones when `include_private` or, for
  // `project`, those it was given access to.
  [[nodiscard]] Result<std::vector<VolumeTypeRecord>> ListVolumeTypes(
      bool include_private, const std::string& project = "");
  // Access of projects to a private type (migration 11): AlreadyExists for
  // a project that has it, NotFound to remove one that has not.
  [[nodiscard]] Status AddVolumeTypeAccess(const std::string& type_id,
                                           const std::string& project);
  [[nodiscard]] Status RemoveVolumeTypeAccess(const std::string& type_id,
                                              const std::string& project);
  [[nodiscard]] Result<std::vector<std::string>> VolumeTypeAccess(
      const std::string& type_id);
  // NotFound "Volume type ID could not be found." for an unknown id.
  [[nodiscard]] Result<VolumeTypeRecord> GetVolumeType(const std::string& id);
  // The type a volume create names: unset or empty → the default type;
  // else by id, then by name (Cinder's get_by_name_or_id). Unknown, or
  // private without `include_private` (a non-admin caller, as Cinder
  // hides private types from them) → NotFound "Volume type X could not be
  // found.".
  // A private type is also found for `project`, when it was given access.
  [[nodiscard]] Result<VolumeTypeRecord> ResolveVolumeType(
      const std::optional<std::string>& id_or_name, bool include_private = true,
      const std::string& project = "");
  // AlreadyExists "Volume Type NAME already exists." for a taken name.
  [[nodiscard]] Status InsertVolumeType(const VolumeTypeRecord& t);
  // Read-modify-write of name, description, is_public (extra specs are
  // not touched); a new name renames the type's per-type quota resources
  // (volumes_<name>, …) as Cinder does. AlreadyExists for a taken name.
  [[nodiscard]] Status ModifyVolumeType(
      const std::string& id,
      const std::function<Status(VolumeTypeRecord&)>& edit);
  // Deletes a type, its extra specs and its per-type quota rows.
  // InvalidArgument for the default type or one a volume uses (messages
  // as Cinder's), NotFound for an unknown id.
  [[nodiscard]] Status DeleteVolumeType(const std::string& id);
  // Volumes of the type (the default type: also those with none set).
  [[nodiscard]] Result<int64_t> CountVolumesOfType(const std::string& id);
  // Snapshots by status (hidden ones left out), and the bytes their stored
  // layers hold: /metrics' view of the catalog.
  struct SnapshotTotals {
    std::map<std::string, int64_t> count_by_status;
    int64_t stored_bytes = 0;  // layer_bytes of the available ones
  };
  [[nodiscard]] Result<SnapshotTotals> SnapshotTotalsByStatus();
  // Adds or replaces the given extra specs, other keys untouched.
  [[nodiscard]] Status SetVolumeTypeExtraSpecs(const std::string& id,
                                               const Metadata& specs);
  // NotFound "Volume Type ID has no extra specs with key KEY.".
  [[nodiscard]] Status DeleteVolumeTypeExtraSpec(const std::string& id,
                                                 const std::string& key);

  // Explicit quotas of a project, or of a quota class (`class_name`), as
  // resource → hard limit; resources without a row are absent.
  [[nodiscard]] Result<std::map<std::string, int64_t>> ProjectQuotas(
      const std::string& project_id);
  [[nodiscard]] Result<std::map<std::string, int64_t>> QuotaClass(
      const std::string& class_name);
  // Sets the given limits (insert or replace), all in one transaction.
  [[nodiscard]] Status SetProjectQuotas(
      const std::string& project_id,
      const std::map<std::string, int64_t>& limits);
  [[nodiscard]] Status SetQuotaClass(
      const std::string& class_name,
      const std::map<std::string, int64_t>& limits);
  // Removes every explicit quota of the project (back to the defaults).
  [[nodiscard]] Status DeleteProjectQuotas(const std::string& project_id);
  // The project's volumes and visible snapshots (every project's when
  // `project_id` is empty), each with its volume type.
  [[nodiscard]] Result<std::vector<QuotaUsageRow>> QuotaUsageRows(
      const std::string& project_id);

  // Volume transfers (migration 10; api/volume_transfers.cc).
  // Records the offer and marks the volume "awaiting-transfer", in one
  // transaction: InvalidArgument unless the volume is "available".
  [[nodiscard]] Status OfferVolume(const TransferRecord& t);
  [[nodiscard]] Result<TransferRecord> GetTransfer(const std::string& id);
  // Offers of `project_id`'s volumes (every project's when empty).
  [[nodiscard]] Result<std::vector<TransferRecord>> ListTransfers(
      const std::string& project_id);
  // Withdraws the offer: the row goes, the volume is "available" again.
  [[nodiscard]] Status CancelTransfer(const std::string& id);
  // The volume (and, unless no_snapshots, its snapshots) now belong to
  // `project_id` / `user_id`; the offer goes; the volume is "available".
  // One transaction. InvalidArgument if the volume is no longer awaiting it.
  [[nodiscard]] Status AcceptTransfer(const std::string& id,
                                      const std::string& project_id,
                                      const std::string& user_id);

  // Backups (migration 12; api/backups.cc, engine/backup_lifecycle.cc).
  [[nodiscard]] Status InsertBackup(const BackupRecord& b);
  [[nodiscard]] Result<BackupRecord> GetBackup(const std::string& id);
  // Filters: name, status, volume_id, project_id; sort keys: created_at,
  // updated_at, name, status, id, volume_id, size.
  [[nodiscard]] Result<ListResult<BackupRecord>> ListBackups(
      const ListQuery& q);
  // Every backup of a volume, oldest data first.
  [[nodiscard]] Result<std::vector<BackupRecord>> BackupsOfVolume(
      const std::string& volume_id);
  // Every backup whose point is `point_id` (an imported record shares it).
  [[nodiscard]] Result<std::vector<BackupRecord>> BackupsAtPoint(
      const std::string& point_id);
  [[nodiscard]] Status ModifyBackup(
      const std::string& id, const std::function<Status(BackupRecord&)>& edit);
  [[nodiscard]] Status DeleteBackup(const std::string& id);

  // QoS specs (migration 13; api/qos_specs.cc). Names are unique
  // (Conflict).
  [[nodiscard]] Status InsertQosSpecs(const QosSpecsRecord& q);
  [[nodiscard]] Result<QosSpecsRecord> GetQosSpecs(const std::string& id);
  [[nodiscard]] Result<std::vector<QosSpecsRecord>> ListQosSpecs();
  [[nodiscard]] Status ModifyQosSpecs(
      const std::string& id,
      const std::function<Status(QosSpecsRecord&)>& edit);
  // Deletes the specs and every association with them.
  [[nodiscard]] Status DeleteQosSpecs(const std::string& id);
  // The volume types associated with `id`, by name.
  [[nodiscard]] Result<std::vector<VolumeTypeRecord>> TypesWithQosSpecs(
      const std::string& id);

  // User messages (migration 14; api/messages.cc). Listing drops the
  // expired ones first.
  [[nodiscard]] Status InsertMessage(const MessageRecord& m);
  [[nodiscard]] Result<MessageRecord> GetMessage(const std::string& id);
  // Filters: event_id, resource_type, resource_uuid, message_level,
  // request_id, project_id; sort keys: created_at, id, event_id,
  // resource_type, message_level.
  [[nodiscard]] Result<ListResult<MessageRecord>> ListMessages(
      const ListQuery& q, int64_t now);
  [[nodiscard]] Status DeleteMessage(const std::string& id);

  // Encryption types (migration 15): at most one a volume type; it goes
  // with its type.
  [[nodiscard]] Result<std::optional<EncryptionTypeRecord>> GetEncryptionType(
      const std::string& volume_type_id);
  // Inserts or replaces the type's row.
  [[nodiscard]] Status PutEncryptionType(const EncryptionTypeRecord& e);
  [[nodiscard]] Status DeleteEncryptionType(const std::string& volume_type_id);

  // ---- Generic volume groups (migration 16; group_queries.cc) ----
  // Group types by name; private ones only with `include_private`.
  [[nodiscard]] Result<std::vector<GroupTypeRecord>> ListGroupTypes(
      bool include_private);
  // NotFound "Group type ID could not be found.".
  [[nodiscard]] Result<GroupTypeRecord> GetGroupType(const std::string& id);
  // AlreadyExists "Group Type NAME already exists." for a taken name.
  [[nodiscard]] Status InsertGroupType(const GroupTypeRecord& t);
  // Read-modify-write of name, description, is_public (specs untouched).
  [[nodiscard]] Status ModifyGroupType(
      const std::string& id,
      const std::function<Status(GroupTypeRecord&)>& edit);
  // InvalidArgument while a group has the type.
  [[nodiscard]] Status DeleteGroupType(const std::string& id);
  // Adds or replaces the given specs, other keys untouched.
  [[nodiscard]] Status SetGroupTypeSpecs(const std::string& id,
                                         const Metadata& specs);
  [[nodiscard]] Status DeleteGroupTypeSpec(const std::string& id,
                                           const std::string& key);

  [[nodiscard]] Status InsertGroup(const GroupRecord& g);
  [[nodiscard]] Result<GroupRecord> GetGroup(const std::string& id);
  // Filters: name, status, project_id, group_type; sort keys: created_at,
  // updated_at, name, status, id.
  [[nodiscard]] Result<ListResult<GroupRecord>> ListGroups(const ListQuery& q);
  // Read-modify-write in a transaction; bumps updated_at.
  [[nodiscard]] Status ModifyGroup(
      const std::string& id, const std::function<Status(GroupRecord&)>& edit);
  [[nodiscard]] Status DeleteGroup(const std::string& id);
  // The group's (listed) volumes, oldest first.
  [[nodiscard]] Result<std::vector<VolumeRecord>> VolumesOfGroup(
      const std::string& group_id);

  [[nodiscard]] Status InsertGroupSnapshot(const GroupSnapshotRecord& g);
  [[nodiscard]] Result<GroupSnapshotRecord> GetGroupSnapshot(
      const std::string& id);
  // Filters: name, status, project_id, group_id; sort keys as groups'.
  [[nodiscard]] Result<ListResult<GroupSnapshotRecord>> ListGroupSnapshots(
      const ListQuery& q);
  [[nodiscard]] Status ModifyGroupSnapshot(
      const std::string& id,
      const std::function<Status(GroupSnapshotRecord&)>& edit);
  [[nodiscard]] Status DeleteGroupSnapshot(const std::string& id);
  // The group snapshot's (visible) member snapshots, oldest first.
  [[nodiscard]] Result<std::vector<SnapshotRecord>> SnapshotsOfGroupSnapshot(
      const std::string& group_snapshot_id);

  // ---- Backup policies and their runs (migration 18; policy_queries.cc) --
  [[nodiscard]] Status InsertPolicy(const PolicyRecord& p);
  // NotFound "Policy ID could not be found.".
  [[nodiscard]] Result<PolicyRecord> GetPolicy(const std::string& id);
  // A project's policies (every project's when `project_id` is empty),
  // oldest first.
  [[nodiscard]] Result<std::vector<PolicyRecord>> ListPolicies(
      const std::string& project_id);
  // Read-modify-write in a transaction; bumps updated_at.
  [[nodiscard]] Status ModifyPolicy(
      const std::string& id, const std::function<Status(PolicyRecord&)>& edit);
  // The policy and its runs.
  [[nodiscard]] Status DeletePolicy(const std::string& id);
  [[nodiscard]] Status InsertPolicyRun(const PolicyRunRecord& r);
  [[nodiscard]] Status UpdatePolicyRun(const PolicyRunRecord& r);
  // Newest first, at most `limit`.
  [[nodiscard]] Result<std::vector<PolicyRunRecord>> ListPolicyRuns(
      const std::string& policy_id, int64_t limit);
  // Runs still "running" (stratad stopped under them): "error", with
  // `why`, finished at `now`. Returns how many.
  [[nodiscard]] Result<int64_t> EndInterruptedPolicyRuns(const std::string& why,
                                                         int64_t now);

 private:
  explicit Catalog(SqliteDb db) : db_(std::move(db)) {}

  std::recursive_mutex mu_;  // guards db_ and txn_depth_
  SqliteDb db_;
  int txn_depth_ = 0;  // Transaction() nesting; inner ones join the outer
};

}  // namespace strata::db
