// SnapshotCreator: R2.1-R2.7, a snapshot from request to stored layer
// (snapshot_create.cc says each journalled step). A running VM's top is cut
// over live (LiveDisks); a chain an NBD export holds is released around the
// quiet-disk steps (chain_holder.h).
// Thread-safety: CreateSnapshot from any thread; the task runs on a worker
// under the volume's lease.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/chain_maintenance.h"
#include "engine/engine_part.h"
#include "engine/group_hold.h"
#include "engine/journal.h"
#include "engine/layer_transfer.h"
#include "engine/live_disk.h"
#include "engine/snapshot_delete.h"

namespace strata::engine {

class SnapshotCreator : public EnginePart {
 public:
  SnapshotCreator(EngineContext& ctx, LiveDisks* live, ChainMaintenance* chain,
                  LayerTransfer* transfer, SnapshotDeleter* deleter)
      : EnginePart(ctx),
        live_(live),
        chain_(chain),
        transfer_(transfer),
        deleter_(deleter) {}

  // R2.1: starts a snapshot; returns it in status "creating".
  Result<db::SnapshotRecord> CreateSnapshot(const CreateSnapshotRequest& req);
  // One snapshot of each volume of `reqs`, all cut at one instant
  // (group_cut.cc): the running domains writing to any of them are held
  // while every top is cut. Each member is then stored as any snapshot
  // is. Returns them "creating"; Conflict (nothing recorded) when a volume
  // is busy or not snapshottable. With a driven `gate` the phases wait for
  // its driver (group_hold.h); without one they follow each other at once.
  Result<std::vector<db::SnapshotRecord>> CreateGroupSnapshot(
      const std::vector<CreateSnapshotRequest>& reqs,
      std::shared_ptr<GroupCutGate> gate = nullptr);
  // Carries on a create a restart interrupted at create.upload (its layer
  // cut and complete in the chain): the upload runs again on a worker, as
  // a store resumes it (a Swift Put reuses the segments stored and
  // verified), and the snapshot ends as any does. Conflict when the
  // volume is busy; nothing started then.
  Status ResumeUpload(const db::TaskRecord& task);

 private:
  // A disk's top after its cut: the layer holding the writes so far, and
  // for a running VM the temporary overlay it writes to until it is
  // pivoted back onto the disk's path.
  struct Cut {
    std::string layer;
    std::optional<LiveDisk> live;
    std::string live_cut;  // the running VM's temporary overlay
    std::string overlay;   // a quiet disk's new top, at its temporary name
    uint64_t size = 0;
  };
  // The volume, when its status allows a snapshot (else Conflict).
  Result<db::VolumeRecord> SnapshottableVolume(const std::string& volume_id);
  // The snapshot's row ("creating") and its task's journal.
  Result<std::pair<Journal, db::SnapshotRecord>> BeginSnapshot(
      const CreateSnapshotRequest& req, const db::VolumeRecord& vol);
  // A task's end: journal settled, lease released, status published (and
  // a rotation's deletes).
  void Conclude(Journal& j, const db::VolumeRecord& vol,
                const std::string& snap_id, const Status& s,
                const std::optional<Rotation>& rotation,
                std::shared_ptr<VolumeLease>& held);
  // A snapshot with the running VM's memory (snapshot_memory.cc): the
  // running domain whose disk the volume is, or why it cannot be taken.
  Result<LiveDisk> MemorySnapshottable(const db::VolumeRecord& vol);
  // The memory taken, and the top cut while the vCPUs stand still at its
  // end; then StoreLayer.
  Status RunCreateWithMemory(Journal& j, const db::VolumeRecord& vol,
                             db::SnapshotRecord snap);
  // R2.3: the top becomes the snapshot's layer (quiesce: a running VM's
  // guest agent freezes its file systems first, when it has one).
  Result<Cut> CutTop(Journal& j, const db::VolumeRecord& vol,
                     const std::string& snap_id, bool quiesce);
  // CutTop's halves, for a cut whose instant comes later (a group's, whose
  // hold then covers only the instant): PrepareCut makes the files the cut
  // needs, journalled, and changes nothing a VM sees; FinishCut is the
  // instant (a quiet disk's renames, a running VM's switch); DropCut undoes
  // a prepared cut that is not finished.
  Result<Cut> PrepareCut(Journal& j, const db::VolumeRecord& vol,
                         const std::string& snap_id, bool quiesce);
  Status FinishCut(Journal& j, const db::VolumeRecord& vol, const Cut& c);
  void DropCut(const Cut& c);
  // Everything after the cut: a running VM back on the disk's path, then
  // R2.4-R2.6 and R2.8.
  Status StoreLayer(Journal& j, const db::VolumeRecord& vol,
                    db::SnapshotRecord snap, const Cut& c);
  // R2.5 and R2.8: the cut layer uploaded, verified and recorded, then
  // merged into history.
  Status UploadLayer(Journal& j, const db::VolumeRecord& vol,
                     db::SnapshotRecord snap, const std::string& layer);
  // The group cut's task body (group_cut.cc).
  void RunGroupCut(std::vector<Journal>& journals,
                   const std::vector<db::VolumeRecord>& vols,
                   const std::vector<db::SnapshotRecord>& snaps,
                   std::vector<std::shared_ptr<VolumeLease>>& leases,
                   GroupCutGate& gate);
  // A held chain's files let go before the chain work (the VM's writes go
  // to the redirect cache, R0.3, sized for ExpectedSnapshotSeconds), and
  // taken back after it, whatever its outcome (a failure is logged: the
  // writes stay safe in the cache until a later Reacquire succeeds).
  Status ReleaseChain(Journal& j, const db::VolumeRecord& vol);
  void ReacquireChain(const db::VolumeRecord& vol);
  // `body`, with a held chain let go around it (ReleaseChain, journalled
  // when `j` is given) and taken back after; as is when nothing holds it.
  Status WithChainReleased(const db::VolumeRecord& vol, Journal* j,
                           const std::function<Status()>& body);
  // RunCreate releases a held chain around RunCreateSteps.
  Status RunCreate(Journal& j, const db::VolumeRecord& vol,
                   db::SnapshotRecord snap);
  Status RunCreateSteps(Journal& j, const db::VolumeRecord& vol,
                        db::SnapshotRecord snap);
  // R0.3's expected snapshot duration for `volume_id`: how long its last
  // successful snapshot took, with a margin; a default without one.
  double ExpectedSnapshotSeconds(const std::string& volume_id);

  LiveDisks* const live_;
  ChainMaintenance* const chain_;
  LayerTransfer* const transfer_;
  SnapshotDeleter* const deleter_;
};

}  // namespace strata::engine
