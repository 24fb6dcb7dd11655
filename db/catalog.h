// Catalog: Strata's SQLite database of volumes, snapshots, uploads, tasks
// and the NBD exports' write history.
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
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "db/records.h"
#include "db/sqlite.h"

namespace strata::db {

template <class T>
struct ListResult {
  std::vector<T> rows;  // the requested page
  int64_t total = 0;    // rows matching the filters, before paging
  bool more = false;    // rows remain after this page
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
  Result<ListResult<VolumeRecord>> ListVolumes(const ListQuery& q);

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

 private:
  explicit Catalog(SqliteDb db) : db_(std::move(db)) {}

  std::recursive_mutex mu_;  // guards db_ and txn_depth_
  SqliteDb db_;
  int txn_depth_ = 0;  // Transaction() nesting; inner ones join the outer
};

}  // namespace strata::db
