// InstantRollbacks: R1.8, seconds-level rollback of a server's disk. The
// server runs again at once on a mirror of the stored snapshot (the local
// store's layers, hard-linked and opened read-only through an explicit
// backing chain in the domain's definition); the disk's normal chain is
// built from them in the background; at the user's confirmation, or at
// once when the policy is "auto", the writes the server made meanwhile move
// onto that chain with one shallow block mirror and the mirror goes.
// instant_rollback.cc says why, step by step, and how each crash settles.
//
// A rollback is a journalled task of kind "instant_rollback" (its id is the
// rollback's id); the catalog's task row is its record, which the API shows.
// Thread-safety: every method may be called from any thread; a rollback's
// steps run on workers under the volume's lease, which it holds from the
// request to its end (also while it waits for a confirmation).
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/chain_maintenance.h"
#include "engine/engine_part.h"
#include "engine/journal.h"
#include "engine/live_disk.h"
#include "engine/revert.h"
#include "engine/snapshot_delete.h"
#include "engine/streamed_layer.h"
#include "nbd/server.h"

namespace strata::engine {

// The phases a rollback shows (from its journalled step and status).
std::string InstantRollbackPhase(const db::TaskRecord& task);

class InstantRollbacks : public EnginePart {
 public:
  InstantRollbacks(EngineContext& ctx, LiveDisks* live, ChainMaintenance* chain,
                   SnapshotDeleter* deleter, Reverter* reverter);
  ~InstantRollbacks();

  // Starts the rollback of disk `target` of domain `dom` (whose volume is
  // `vol`) to `snap`; returns its task row. `auto_switch`: the switch
  // follows the copy; else it waits for Confirm. Conflict when a layer of
  // the lineage is not stored, when the domain is transient, or when the
  // volume is busy.
  Result<db::TaskRecord> Start(const hypervisor::DomainInfo& dom,
                               const std::string& target,
                               const db::VolumeRecord& vol,
                               const db::SnapshotRecord& snap,
                               bool auto_switch);
  // The switch of a rollback that is ready (copy done). Conflict otherwise.
  Status Confirm(const std::string& id);
  // Ends a rollback before its switch: the server goes back to its disk as
  // it was before the rollback (the writes it made on the mirror are
  // dropped) and to its power state then. Conflict once the switch began.
  Status Abort(const std::string& id);

  // Recovery (recover.cc): settles an interrupted rollback's task. One that
  // carries on is left running and resumed by ResumeInterrupted.
  Status RecoverTask(const db::TaskRecord& task);
  // True while a rollback holds the volume (recovery does not tidy it).
  bool Holds(const std::string& volume_id);
  // Carries on the rollbacks RecoverTask left running (after the engine
  // serves).
  void ResumeInterrupted();
  // stratad stops: downloads end, the layers are no longer served, and a
  // rollback that was waiting for them is left for the next start (before
  // the workers are joined).
  void Stop();

 private:
  struct Entry {
    std::shared_ptr<VolumeLease> lease;  // held until the rollback ends
    bool busy = false;                   // a worker runs its steps
    bool abort_requested = false;
  };
  // Continue on a worker for the user's confirmation or abort (TakeForStep
  // gave the rollback to it).
  Status ContinueOnWorker(const std::string& id, bool confirm);
  // The steps from the journal's step on, until the rollback waits for a
  // confirmation or ends. Runs on a worker.
  void Continue(Journal j, db::VolumeRecord vol, db::SnapshotRecord snap);
  // The phases (instant_rollback.cc).
  // The step that serves the layers it could not link (ServeUnlinked).
  Status FetchUnlinked(Journal& j);
  // The layers Start could not link, served over NBD while they download
  // (or, once whole, from their files): after a restart too.
  Status ServeUnlinked(Journal& j);
  // Waits until every served layer is whole and verified.
  Status AwaitServed(const std::string& task_id);
  // Each second while layers are served: a server paused on a read that
  // failed (stratad was down, or QEMU's NBD client had to reconnect) is
  // resumed, and QEMU retries the read. The watcher thread's loop.
  void WatchServed();
  Status ResumeIfPausedOnError(const std::string& dom);
  // Ends the serving of the task's layers (none left: OK).
  void StopServing(const std::string& task_id);
  // The chain the server runs on: the mirror's layers (or their exports),
  // top first, then the volume's base.
  std::vector<hypervisor::BackingFile> MirrorChain(const nlohmann::json& state,
                                                   const std::string& task_id);
  Status PowerOffAndInstall(Journal& j, const db::VolumeRecord& vol);
  Status StartOnMirror(Journal& j, const db::VolumeRecord& vol);
  Status BuildHistory(Journal& j, const db::VolumeRecord& vol,
                      const std::vector<db::SnapshotRecord>& lineage);
  Status Switch(Journal& j, const db::VolumeRecord& vol);
  Status Finish(Journal& j, const db::VolumeRecord& vol,
                const db::SnapshotRecord& snap);
  Status RunAbort(Journal& j, const db::VolumeRecord& vol);
  // Whether the server already runs on the new history (a switch's end).
  Result<bool> Switched(const nlohmann::json& state,
                        const db::VolumeRecord& vol);
  // The rollback's end: the journal settled, the lease released, the
  // volume's and snapshot's statuses given back.
  void End(Journal& j, const db::VolumeRecord& vol,
           const db::SnapshotRecord& snap, const Status& s);
  Result<std::shared_ptr<VolumeLease>> TakeForStep(const std::string& id,
                                                   bool abort);

  LiveDisks* const live_;
  ChainMaintenance* const chain_;
  SnapshotDeleter* const deleter_;
  Reverter* const reverter_;
  std::mutex mu_;
  std::map<std::string, Entry> active_;    // GUARDED_BY(mu_), by task id
  std::vector<db::TaskRecord> resumable_;  // GUARDED_BY(mu_)
  std::set<std::string> held_volumes_;     // GUARDED_BY(mu_)
  // Stored layers served over NBD (ServeUnlinked), by task id: each one's
  // export name and, while it downloads, its stream.
  struct Served {
    std::string export_name;
    std::string domain;  // the server that reads it
    std::shared_ptr<StreamedLayer> stream;
  };
  std::unique_ptr<nbd::NbdServer> layer_server_;  // null: not served
  std::atomic<bool> stopping_{false};
  std::condition_variable watch_cv_;  // wakes WatchServed at Stop
  std::thread watcher_;
  std::map<std::string, std::vector<Served>> served_;  // GUARDED_BY(mu_)
};

}  // namespace strata::engine
