// Engine: Strata's incremental snapshot engine for qcow2 chains (R2).
//
// The API layer calls the Engine after parsing and authorising a request;
// the Engine's parts (engine_part.h: adoption, create, revert, delete and
// retention, recovery) decide, journal and orchestrate; qemu-img, the store and
// the catalog do the work. Requests that change a disk take the volume's lease
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
#include "engine/backup_lifecycle.h"
#include "engine/catalog_rebuild.h"
#include "engine/chain_holder.h"
#include "engine/chain_maintenance.h"
#include "engine/engine_part.h"
#include "engine/engine_types.h"
#include "engine/group_lifecycle.h"
#include "engine/instant_rollback.h"
#include "engine/layer_transfer.h"
#include "engine/live_disk.h"
#include "engine/recover.h"
#include "engine/revert.h"
#include "engine/snapshot_create.h"
#include "engine/snapshot_delete.h"
#include "engine/snapshot_verify.h"
#include "engine/volume_adoption.h"
#include "engine/volume_lifecycle.h"
#include "hypervisor/hypervisor.h"
#include "storage-drivers/store.h"

namespace strata::engine {

class Engine {
 public:
  // `hv` may be null: then no domain is ever considered running.
  Engine(db::Catalog* catalog, store::Store* store, EngineOptions opts,
         hypervisor::Hypervisor* hv = nullptr);
  ~Engine();

  // Reconciles every operation a crash interrupted, then tidies each volume's
  // chain. Call once before serving requests.
  Status Recover();
  // Carries on on workers what Recover left to carry on: snapshot uploads a
  // restart interrupted (SnapshotCreator::ResumeUpload). Call after
  // AttachChainHolder, once.
  void ResumeInterrupted();
  // Adds to the catalog the volumes and snapshots the store's layers name
  // that it lacks (catalog_rebuild.h): a lost catalog rebuilt. Run alone,
  // before Recover and serving (stratad --rebuild-catalog).
  Result<RebuildReport> RebuildCatalog();
  // Lets queued work finish and stops the workers.
  void Stop();
  // Each worker pool's jobs waiting and running (/metrics' queue depth):
  // "runner" (snapshots, reverts, rollbacks), "reaper" (merges, spares),
  // "remover" (store deletes).
  struct RunnerLoad {
    std::string name;
    size_t queued = 0;
    int running = 0;
  };
  std::vector<RunnerLoad> RunnerLoads();
  // Blocks until no operation is queued or running (tests, shutdown).
  void WaitIdle() {
    ctx_.runner.WaitIdle();
    ctx_.reaper.WaitIdle();
    ctx_.remover.WaitIdle();
  }
  // Blocks until no operation is queued or running; the reaper's work and
  // the removals of files no chain uses may still go on in the background
  // (benchmarks).
  void WaitTasksDone() { ctx_.runner.WaitIdle(); }

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
  // Cinder's snapshot unmanage and manage-existing (volume_adoption.h).
  Status UnmanageSnapshot(const std::string& snapshot_id);
  Result<db::SnapshotRecord> ManageSnapshot(const std::string& volume_id,
                                            const std::string& snapshot_id,
                                            const std::string& name,
                                            const std::string& description,
                                            const db::Metadata& metadata);

  // Cinder's volume create, delete and extend (volume_lifecycle.h).
  Result<db::VolumeRecord> CreateVolume(const CreateVolumeRequest& req);
  Status DeleteVolume(const std::string& volume_id, bool cascade,
                      bool force = false);
  Status ExtendVolume(const std::string& volume_id, int64_t new_size_gib);

  // Cinder's backups as stored points (backup_lifecycle.h).
  BackupLifecycle& backups() { return backups_; }
  // Cinder's generic volume groups and group snapshots (group_lifecycle.h).
  GroupLifecycle& groups() { return groups_; }

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
  // Restores a server from a snapshot taken with its memory (issue 21):
  // its disk reverted, then the domain resumed where it was.
  Status RestoreServerMemory(const std::string& domain_uuid,
                             const std::string& volume_id,
                             const std::string& snapshot_id) {
    return reverter_.RestoreServerMemory(domain_uuid, volume_id, snapshot_id);
  }

  // Reads a snapshot's stored layer back and checks its SHA-256
  // (snapshot_verify.h); the result is the snapshot's verify state.
  Status VerifySnapshot(const std::string& snapshot_id) {
    return verifier_.Start(snapshot_id);
  }

  // R1.8's seconds-level rollbacks of a server's disk (instant_rollback.h).
  InstantRollbacks& instant_rollbacks() { return instant_; }

  // Disks `h` holds (NBD exports) are snapshotted by releasing their chain
  // around the quiet-disk flow (chain_holder.h), are never "live" for
  // libvirt, and are not reverted while held. Attach after Recover() (which
  // runs on quiet files) and before serving requests; `h` outlives the
  // engine's tasks.
  void AttachChainHolder(ChainHolder* h) { ctx_.holder = h; }
  ChainHolder* chain_holder() { return ctx_.holder; }

  // What a disk's chain is made of now, for views (chain.h).
  Result<ChainUsage> ChainUsageOf(const std::string& disk);

  db::Catalog* catalog() { return ctx_.catalog; }
  hypervisor::Hypervisor* hypervisor() { return ctx_.hv; }
  store::Store* store() { return ctx_.store; }

 private:
  EngineContext ctx_;
  // The parts, each given the ones it calls (engine_part.h).
  LiveDisks live_{ctx_};
  ChainMaintenance chain_{ctx_, &live_};
  LayerTransfer transfer_{ctx_};
  SnapshotDeleter deleter_{ctx_, &transfer_};
  SnapshotCreator creator_{ctx_, &live_, &chain_, &transfer_, &deleter_};
  Reverter reverter_{ctx_, &live_, &chain_, &deleter_};
  InstantRollbacks instant_{ctx_, &live_, &chain_, &deleter_, &reverter_};
  VolumeAdoption adoption_{ctx_, &live_, &chain_, &transfer_};
  VolumeLifecycle lifecycle_{ctx_, &live_, &chain_, &transfer_, &deleter_};
  BackupLifecycle backups_{ctx_, &creator_, &deleter_, &lifecycle_};
  GroupLifecycle groups_{ctx_, &creator_, &deleter_, &lifecycle_};
  Recovery recovery_{ctx_,      &live_,     &chain_,     &transfer_,
                     &deleter_, &reverter_, &lifecycle_, &instant_};
  CatalogRebuilder rebuilder_{ctx_, &live_};
  SnapshotVerifier verifier_{ctx_};
};

}  // namespace strata::engine
