// Engine: Strata's incremental snapshot engine for qcow2 chains (R2).
//
// The API layer calls the Engine after parsing and authorising a request;
// the Engine decides, journals and orchestrates; qemu-img, the store and the
// catalog do the work. Requests that change a disk take the volume's lease
// (a second one gets Conflict → 409) and return at once; the work runs on a
// TaskRunner worker, journalled step by step (see journal.h) so Recover()
// can reconcile after a crash.
//
// Chain shape kept (at most 4 files; R2 "chain kept short"):
//   base (foreign, immutable) ← history-<S> ← snap-<T> ← disk (active top)
// at rest only base ← history ← disk; after a revert to a lineage of several
// layers on no base: root history ← history ← disk. See docs/engine.md.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "db/catalog.h"
#include "engine/chain.h"
#include "engine/chain_holder.h"
#include "engine/journal.h"
#include "hypervisor/hypervisor.h"
#include "storage-drivers/store.h"
#include "util/task_runner.h"
#include "util/volume_locks.h"

namespace strata::engine {

struct EngineOptions {
  // Canonical directories under which disks may be adopted (manage).
  std::vector<std::string> allowed_dirs;
  // Canonical directories whose files a disk may have as read-only backing
  // files (Nova's _base image cache): confinement.h.
  std::vector<std::string> shared_base_dirs;
  // Cluster size of the overlays Strata creates; 0 = qemu-img's default.
  uint64_t overlay_cluster_size = 0;
  int workers = 2;
  int upload_attempts = 3;  // tries per upload on retryable store errors
  // Nice increment of the worker threads and the qemu-img they start, so a
  // running VM's vCPU and I/O threads get the CPU first. (On the test guest
  // its effect on write stalls was within the benchmark's noise.)
  int worker_nice = 10;
};

struct ManageRequest {
  std::string project_id, user_id, name, description;
  std::string source_path;  // the existing qcow2 file to adopt
  bool bootable = false;
  db::Metadata metadata;
  // Skips the manage-directory check of the top (its backing files are
  // still confined): for paths the hypervisor's own configuration or the
  // operator names (a server's disks, NBD exports), never for user input.
  bool trusted_path = false;
};

// Backup rotation (R1.6, Nova's createBackup): once the new snapshot is
// stored, the volume's available snapshots whose metadata holds every entry
// of `match` (the new one included) are deleted oldest first until `keep`
// remain.
struct Rotation {
  db::Metadata match;
  int keep = 0;
};

struct CreateSnapshotRequest {
  std::string project_id, user_id, volume_id, name, description;
  db::Metadata metadata;
  std::optional<Rotation> rotation = std::nullopt;
};

// A volume's disk as a running domain uses it (R2.2: the VM is running).
struct LiveDisk {
  std::string domain_uuid;
  std::string target;  // "vda"
  bool has_guest_agent = false;
};

class Engine {
 public:
  // `hv` may be null: then no domain is ever considered running.
  Engine(db::Catalog* catalog, store::Store* store, EngineOptions opts,
         hypervisor::Hypervisor* hv = nullptr);
  ~Engine();

  // Reconciles every operation a crash interrupted, then tidies each volume's
  // chain. Call once before serving requests.
  Status Recover();
  // Lets queued work finish and stops the workers.
  void Stop();
  // Blocks until no operation is queued or running (tests, shutdown).
  void WaitIdle() {
    runner_.WaitIdle();
    reaper_.WaitIdle();
  }

  // Adopts an existing qcow2 disk (Cinder manage-existing). Synchronous.
  Result<db::VolumeRecord> ManageVolume(const ManageRequest& req);
  // The volume of a server's disk, registered on first sight (no manual
  // adopt: the hypervisor's own configuration names the file, so the
  // manage directories do not apply). Owned by the domain's Nova project,
  // or `default_project` when it has none. A disk with a serial (Nova's
  // mark of an attached Cinder volume) is Cinder's: Conflict. A network
  // disk on one of Strata's NBD export sockets is that export's volume.
  Result<db::VolumeRecord> ServerDiskVolume(const hypervisor::DomainInfo& dom,
                                            const hypervisor::DomainDisk& disk,
                                            const std::string& default_project);
  // Registers the file-backed qcow2 disks of every domain on this host as
  // volumes (ServerDiskVolume), so a server's disks show up without an
  // adopt step. Domains or disks that cannot be read are skipped, and so
  // are Cinder's volumes (disks with a serial).
  void RegisterServerDisks(const std::string& default_project);
  // The NBD export serving the volume at `disk` got its first client
  // (attached) or lost its last one: "available" ↔ "in-use", as Cinder
  // shows an attached volume. A volume bound to a libvirt domain (whose
  // state decides), or in any other state, is left as it is.
  Status SetExportAttached(const std::string& disk, bool attached);
  // Forgets a volume (Cinder unmanage): its files stay as they are.
  Status UnmanageVolume(const std::string& volume_id);

  // R2.1: starts a snapshot; returns it in status "creating".
  Result<db::SnapshotRecord> CreateSnapshot(const CreateSnapshotRequest& req);
  // Deletes a snapshot (status available or error; `force` also allows
  // creating/deleting/error_deleting after a crash). Returns at once.
  Status DeleteSnapshot(const std::string& snapshot_id, bool force);
  // R2.10–R2.11: reverts the volume to any of its available snapshots.
  Status RevertVolume(const std::string& volume_id,
                      const std::string& snapshot_id);
  // Nova's rebuild onto one of Strata's snapshots (R2.11): powers the
  // domain off (if it runs), reverts the volume of its disk to the snapshot,
  // and starts the domain again if it was running. Journalled as a
  // "rebuild" task: after a crash, recovery settles the revert and starts
  // the domain. Returns at once.
  Status RebuildServer(const std::string& domain_uuid,
                       const std::string& volume_id,
                       const std::string& snapshot_id);

  // Disks `h` holds (NBD exports) are snapshotted by releasing their chain
  // around the quiet-disk flow (chain_holder.h), are never "live" for
  // libvirt, and are not reverted while held. Attach after Recover() (which
  // runs on quiet files) and before serving requests; `h` outlives the
  // engine's tasks.
  void AttachChainHolder(ChainHolder* h) { holder_ = h; }
  ChainHolder* chain_holder() { return holder_; }

  db::Catalog* catalog() { return catalog_; }
  hypervisor::Hypervisor* hypervisor() { return hv_; }
  store::Store* store() { return store_; }

 private:
  // Task bodies (snapshot_create.cc, revert.cc, snapshot_delete.cc).
  // RunCreate releases a held chain around RunCreateSteps.
  Status RunCreate(Journal& j, const db::VolumeRecord& vol,
                   db::SnapshotRecord snap);
  Status RunCreateSteps(Journal& j, const db::VolumeRecord& vol,
                        db::SnapshotRecord snap);
  // R0.3's expected snapshot duration for `volume_id`: how long its last
  // successful snapshot took, with a margin; a default without one.
  double ExpectedSnapshotSeconds(const std::string& volume_id);
  // True when the attached holder serves `vol`'s chain.
  bool Held(const db::VolumeRecord& vol) {
    return holder_ && holder_->Holds(vol.path);
  }
  Status RunRevert(Journal& j, db::VolumeRecord vol,
                   const db::SnapshotRecord& target);
  // RunRevert's case of the head snapshot whose history is the disk's
  // backing: a new empty overlay on `history` (revert.cc).
  Status RevertOntoHistory(Journal& j, const db::VolumeRecord& vol,
                           const db::SnapshotRecord& target,
                           const std::string& history);
  // Write-back of the histories a revert merged (settle.cc). SettleLater
  // has the reaper settle `history` (SettleHistory: take its fast check,
  // fsync it, drop its unsettled row). SettleAfterCrash, at start, settles
  // every row left, rebuilding from its layers a history whose content a
  // crash may have lost (RebuildHistory: the history is chain.layers[h]).
  void SettleLater(const std::string& history);
  Status SettleHistory(const std::string& history);
  Status SettleAfterCrash();
  Status RebuildHistory(const db::UnsettledHistoryRecord& u, const Chain& chain,
                        size_t h);
  // Does the store-side work of a delete under the lease; PublishDelete then
  // makes it visible (row gone, or hidden while others build on it).
  Status RunDelete(const std::string& snapshot_id);
  // What a revert needs of the volume and snapshot (both revert and rebuild).
  Status CheckRevertable(const db::VolumeRecord& vol,
                         const db::SnapshotRecord& snap);
  // The task of a revert or rebuild: marks the volume "reverting" and the
  // snapshot "restoring", runs `run` under `lease` off the request thread,
  // ends the journal by its result (`what` names it in the log), then gives
  // both their statuses back.
  Status LaunchRevertTask(std::shared_ptr<VolumeLease> lease, Journal j,
                          const db::VolumeRecord& vol,
                          const db::SnapshotRecord& snap,
                          std::function<Status(Journal&)> run,
                          const std::string& what);
  // Rotation under the create task's lease: marks the snapshots beyond
  // `r.keep` "deleting" (recovery finishes what a crash interrupts), then
  // deletes their layers. Returns them, for PublishDelete after the lease.
  std::vector<std::string> RotateOut(const std::string& volume_id,
                                     const Rotation& r);
  Status PublishDelete(const std::string& snapshot_id);

  // Chain maintenance (chain_ops.cc). REQUIRES: the volume's lease.
  // R2.6: merges the failed layers just below the new snapshot layer
  // (layers[2..last]) into it; returns the ids of the snapshots merged.
  Result<std::vector<std::string>> MergeFailedLayers(
      Journal& j, const db::VolumeRecord& vol, const Chain& chain, size_t last);
  // R2.8–R2.9: merges every uploaded snapshot layer into the history layer
  // (or makes it the history when there is none), until none is left.
  Status CompactChain(Journal* j, const db::VolumeRecord& vol);
  // R2.9's backup of the history chain.layers[h] at `backup`: rebuilt from
  // the history's spare and delta when both are there (*rebuilt = true),
  // else copied. Its backing relation is made equal to the history's.
  Status BackupHistory(Journal* j, const Chain& chain, size_t h,
                       const std::string& backup, bool* rebuilt);
  // After a merge: keeps the replaced history and the merged layer as the
  // new history's spare and delta. False (nothing renamed) if not possible.
  bool RetireIntoSpare(const std::string& disk, const std::string& old_history,
                       const std::string& layer,
                       const std::string& new_history);
  // R1.9: deletes a store object, or, when the store does not answer,
  // queues the key in the catalog (pending_deletes) and returns OK: the
  // object is deleted by RetryPendingDeletes, never forgotten.
  Status DeleteStored(const std::string& key);
  // A task's last word on a snapshot's status. A failed write here would
  // leave it "creating" or "deleting" for good (the journal is already
  // settled), so it is retried for a few seconds (a busy or briefly full
  // database), then logged as an error.
  void SettleSnapshotStatus(const std::string& id, const std::string& status,
                            int progress, const std::string& error = "");
  // PublishDelete, retried the same way, its failure logged.
  void PublishDeleteDurably(const std::string& snapshot_id);
  // The same for a volume's status after a revert.
  void SettleVolumeStatus(const std::string& id, const std::string& status);
  // Deletes queued objects, oldest first, until the store fails again.
  // Runs at start-up (Recover) and after every successful upload.
  void RetryPendingDeletes();
  // Removes the spare and delta of `disk`'s history (best effort).
  void DropSpares(const std::string& disk);
  // Points `above` (a file of the volume's chain) at `backing`: a header
  // rewrite, or for a running VM's top, RepointLiveTop.
  Status Repoint(Journal* j, const db::VolumeRecord& vol,
                 const std::string& above, const std::string& backing);
  // Removes every Strata-named file of the disk its chain does not use.
  // Large ones are renamed to a ".strata-trash-" name and removed by the
  // reaper after the task, unless `now`.
  Status CollectGarbage(const db::VolumeRecord& vol, bool now = false);
  // Renames `path` (a file next to `disk`) to a trash name and has the
  // reaper remove it; removes it at once if the rename fails.
  Status Discard(const std::string& disk, const std::string& path);

  // A layer as stored: the object (its bytes after any relay stage), the
  // SHA-256 of the layer file itself, and the fast check of the stored
  // bytes ("" when a relay stage changed them).
  struct StoredLayer {
    store::ObjectInfo object;
    std::string layer_sha256;
    std::string check;
  };
  // Uploads a layer file with retries, verifying what the store holds.
  // `labels` describe it to stores that keep metadata (glance).
  Result<StoredLayer> UploadLayer(
      const std::string& snapshot_id, const std::string& key,
      const std::string& path,
      const std::map<std::string, std::string>& labels);
  // Deletes hidden snapshots nothing depends on any more (and their objects).
  // `going` names a snapshot about to be deleted: it counts as gone.
  Status DropUnneededLayers(const std::string& volume_id,
                            const std::string& going = "");
  // Live disks (live_disk.cc). R2.2: the running domain using the volume's
  // disk, or nullopt when none runs.
  Result<std::optional<LiveDisk>> LiveDiskOf(const db::VolumeRecord& vol);
  // R2.3 for a running VM: the top's writes so far become `layer` (a hard
  // link, then the only name of that file) and the VM continues on a new,
  // empty overlay at the disk's path. See live_disk.cc for why it is done
  // through a temporary overlay and a pivot back.
  Status LiveCutOver(Journal& j, const db::VolumeRecord& vol,
                     const LiveDisk& live, const std::string& layer,
                     uint64_t virtual_size);
  // Repoints the running domain's top (the disk's path) onto `backing`: the
  // top is renamed aside, a new overlay on `backing` takes the path, a
  // shallow block copy with pivot moves the top's own writes into it, and
  // the old top is deleted. REQUIRES: the volume's lease.
  Status RepointLiveTop(Journal* j, const db::VolumeRecord& vol,
                        const LiveDisk& live, const std::string& backing);
  // Crash recovery for a running VM: aborts a block job a crash left behind
  // and, when the VM runs on one of Strata's temporary overlays, moves it
  // back onto a fresh overlay at the disk's path. Runs before any file of
  // the volume is judged garbage.
  Status ReconcileLiveDisk(const db::VolumeRecord& vol);
  // The common last leg of a cut-over, a repoint and recovery: a fresh
  // overlay on `backing` takes the disk's path (journalling `step`, if
  // given, once it is there), the VM pivots onto it from the temporary top
  // `from`, and `from` is deleted.
  Status PivotOntoDisk(Journal* j, const char* step,
                       const db::VolumeRecord& vol, const LiveDisk& live,
                       const std::string& backing, uint64_t virtual_size,
                       const std::string& from);
  // Makes the hypervisor's view of the disk's chain match the files: when
  // they differ, repoints the top onto its true backing file.
  Status SyncHypervisorView(Journal* j, const db::VolumeRecord& vol);
  // Finds the domain (and target) whose disk is `path`, if any.
  Result<std::optional<std::pair<hypervisor::DomainInfo, std::string>>>
  DomainUsing(const std::string& path);

  // Runs `body` on a worker, handing it the volume's lease. A body releases
  // the lease (lease.reset()) before it publishes the final status, so a
  // client that sees "available" can start the next operation at once.
  void Launch(std::shared_ptr<VolumeLease> lease,
              std::function<void(std::shared_ptr<VolumeLease>&)> body);

  // Reconciliation of one interrupted task (recover.cc).
  Status RecoverTask(const db::TaskRecord& task);

  db::Catalog* catalog_;
  store::Store* store_;
  hypervisor::Hypervisor* hv_;
  ChainHolder* holder_ = nullptr;
  EngineOptions opts_;
  // Where every layer of every chain this engine reads may lie.
  Confinement confinement_;
  VolumeLocks locks_;
  // Deletes large files a task no longer needs, after the task: freeing a
  // big file's extents takes ~0.25 s per 512 MiB here (ext4), which a
  // caller should not wait for. Declared before runner_, whose tasks feed it.
  TaskRunner reaper_;
  TaskRunner runner_;
};

// True when snapshot `id`'s layer must stay stored: it is the volume's head
// (the live chain builds on it) or another snapshot's layer is relative to
// it. `ignoring` names a snapshot about to go, whose link does not count.
bool LayerIsNeeded(const db::VolumeRecord& vol,
                   const std::vector<db::SnapshotRecord>& snaps,
                   const std::string& id, const std::string& ignoring = "");

// The store key of a snapshot's layer: "volumes/<volume>/<snapshot>.qcow2".
std::string LayerKey(const std::string& volume_id,
                     const std::string& snapshot_id);
// Size in GiB, rounded up, as Cinder reports it.
int64_t SizeGiB(int64_t bytes);

}  // namespace strata::engine
