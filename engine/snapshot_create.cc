// The snapshot-create task (R2.1–R2.6). A running VM's cut-over is
// live_disk.cc's (CutTop, then LivePivotBack in StoreLayer); a disk no running
// VM holds takes these steps, each journalled before it acts (recover.cc undoes
// or finishes them):
//   create.prepare_overlay  new empty overlay at a temp name, backing = the
//                           name the top is about to get
//   create.rename_top       R2.3: disk → <stem>.snap-<id>.qcow2 (nothing is
//                           copied: the renamed file holds exactly the writes
//                           since the previous snapshot)
//   create.install_overlay  temp overlay → the disk's path (path unchanged)
//   create.check_previous   R2.4: UUIDs of every Strata layer below the new
//                           layer looked up in the catalog
//   create.merge_failed     R2.6: layers of failed snapshots merged into it
//   create.upload           R2.5: upload, verify, record (first the memory
//                           taken with the snapshot, when there is one)
//   compact.*               R2.8–R2.9 (chain_ops.cc)
// A chain that an NBD export holds (chain_holder.h) is released for all of
// these steps — the VM's writes go to the redirect cache — and taken back
// after them, whatever their outcome; the files are quiet meanwhile, so it
// takes the same steps as a disk no VM runs on.
#include "engine/snapshot_create.h"

#include "engine/qemu_img.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/space_reserve.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {

double SnapshotCreator::ExpectedSnapshotSeconds(const std::string& volume_id) {
  constexpr double kDefaultSeconds = 10, kMargin = 2;
  auto snaps = catalog_->SnapshotsOfVolume(volume_id);
  if (!snaps.ok()) return kDefaultSeconds;
  const db::SnapshotRecord* last = nullptr;
  for (const auto& s : *snaps)
    if (s.status == "available" && (!last || s.created_at > last->created_at))
      last = &s;
  if (!last || last->updated_at <= last->created_at) return kDefaultSeconds;
  return kMargin * static_cast<double>(last->updated_at - last->created_at) /
         1e6;
}

Status SnapshotCreator::RunCreate(Journal& j, const db::VolumeRecord& vol,
                                  db::SnapshotRecord snap) {
  return WithChainReleased(
      vol, &j, [&] { return RunCreateSteps(j, vol, std::move(snap)); });
}

Status SnapshotCreator::WithChainReleased(const db::VolumeRecord& vol,
                                          Journal* j,
                                          const std::function<Status()>& body) {
  if (!Held(vol)) return body();
  if (j)
    STRATA_RETURN_IF_ERROR(ReleaseChain(*j, vol));
  else
    STRATA_RETURN_IF_ERROR(
        holder_->Release(vol.path, ExpectedSnapshotSeconds(vol.id)));
  Status s = body();
  ReacquireChain(vol);
  return s;
}

Status SnapshotCreator::ReleaseChain(Journal& j, const db::VolumeRecord& vol) {
  const double expected = ExpectedSnapshotSeconds(vol.id);
  STRATA_RETURN_IF_ERROR(j.Step("create.release_chain", 1));
  return holder_->Release(vol.path, expected);
}

void SnapshotCreator::ReacquireChain(const db::VolumeRecord& vol) {
  Status back = holder_->Reacquire(vol.path);
  if (!back.ok())
    LogError("the export of " + vol.path + " could not take its chain back (" +
             back.ToString() +
             "); the VM's writes stay in the redirect cache until it can");
}

Result<SnapshotCreator::Cut> SnapshotCreator::CutTop(
    Journal& j, const db::VolumeRecord& vol, const std::string& snap_id,
    bool quiesce) {
  STRATA_ASSIGN_OR_RETURN(Cut c, PrepareCut(j, vol, snap_id, quiesce));
  Status s = FinishCut(j, vol, c);
  if (!s.ok()) {
    DropCut(c);
    return s;
  }
  return c;
}

Result<SnapshotCreator::Cut> SnapshotCreator::PrepareCut(
    Journal& j, const db::VolumeRecord& vol, const std::string& snap_id,
    bool quiesce) {
  const std::string& disk = vol.path;
  Cut c;
  c.layer = SnapshotLayerPath(disk, snap_id);
  j.state()["layer"] = c.layer;
  STRATA_ASSIGN_OR_RETURN(Chain before, ReadChain(disk, disk, confinement_));
  // R2.2: is a VM running on this disk? (R2.7: a shut-off one is a quiet disk.)
  STRATA_ASSIGN_OR_RETURN(c.live, live_->LiveDiskOf(vol));
  c.size = before.top().header.virtual_size;
  if (c.live) {
    c.live->has_guest_agent = c.live->has_guest_agent && quiesce;
    STRATA_ASSIGN_OR_RETURN(c.live_cut,
                            live_->PrepareLiveSwitch(j, vol, c.layer, c.size));
    return c;
  }
  c.overlay = TempPath(disk, "overlay", snap_id);
  j.state()["overlay"] = c.overlay;
  STRATA_RETURN_IF_ERROR(j.Step("create.prepare_overlay", 2));
  STRATA_RETURN_IF_ERROR(
      CreateOverlay(c.overlay, c.layer, "qcow2", c.size, opts_.overlay));
  return c;
}

Status SnapshotCreator::FinishCut(Journal& j, const db::VolumeRecord& vol,
                                  const Cut& c) {
  if (c.live) return live_->SwitchLive(*c.live, c.live_cut);
  const std::string& disk = vol.path;
  STRATA_RETURN_IF_ERROR(j.Step("create.rename_top", 4));
  Status s = RenameDurableNoSymlinks(disk, c.layer);
  if (!s.ok()) return s;
  // From here the cut is made: the overlay is recovery's to install.
  STRATA_RETURN_IF_ERROR(j.Step("create.install_overlay", 6));
  return RenameDurableNoSymlinks(c.overlay, disk);
}

void SnapshotCreator::DropCut(const Cut& c) {
  if (c.live) {
    live_->UndoLiveSwitch(c.layer, c.live_cut);
    return;
  }
  // Only before the top's rename: after it the overlay is the disk's.
  if (!PathExists(c.layer) && PathExists(c.overlay))
    LogIfError(RemoveFileNoSymlinks(c.overlay),
               "cleanup (garbage collection retries)");
}

Status SnapshotCreator::RunCreateSteps(Journal& j, const db::VolumeRecord& vol,
                                       db::SnapshotRecord snap) {
  if (j.state().value("with_memory", false))
    return RunCreateWithMemory(j, vol, std::move(snap));
  STRATA_ASSIGN_OR_RETURN(Cut c, CutTop(j, vol, snap.id, /*quiesce=*/true));
  return StoreLayer(j, vol, std::move(snap), c);
}

Status SnapshotCreator::StoreLayer(Journal& j, const db::VolumeRecord& vol,
                                   db::SnapshotRecord snap, const Cut& c) {
  const std::string& disk = vol.path;
  const std::string& layer = c.layer;
  if (c.live)
    STRATA_RETURN_IF_ERROR(
        live_->LivePivotBack(j, vol, *c.live, layer, c.size, c.live_cut));
  snap.layer_file = layer;
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifySnapshot(snap.id, [&](db::SnapshotRecord& s) {
        s.layer_file = layer;
        s.progress = 10;
        return Status::OK();
      }));

  // R2.4: is every file the new layer depends on an uploaded snapshot?
  STRATA_RETURN_IF_ERROR(j.Step("create.check_previous", 10));
  STRATA_ASSIGN_OR_RETURN(Chain chain, ReadChain(disk, disk, confinement_));
  size_t last_failed = 1;  // layers[1] is the new snapshot layer
  for (size_t i = 2; i < chain.length(); ++i) {
    const LayerName& n = chain.layers[i].name;
    if (n.kind == LayerKind::kForeign) continue;
    STRATA_ASSIGN_OR_RETURN(bool uploaded, catalog_->IsUploaded(n.snapshot_id));
    if (uploaded) continue;
    if (n.kind == LayerKind::kHistory || last_failed != i - 1)
      return Status::Internal("chain of " + disk +
                              " is inconsistent: " + chain.layers[i].path +
                              " is not an uploaded snapshot");
    last_failed = i;
  }
  if (last_failed > 1) {
    // R2.6: the previous snapshot(s) failed; carry their writes in this one.
    STRATA_ASSIGN_OR_RETURN(
        snap.covers, chain_->MergeFailedLayers(j, vol, chain, last_failed));
    STRATA_ASSIGN_OR_RETURN(chain, ReadChain(disk, disk, confinement_));
    LogInfo("snapshot " + snap.id + " carries the writes of " +
            std::to_string(snap.covers.size()) + " failed snapshot(s)");
  }
  if (chain.length() > 2 && chain.layers[2].name.kind != LayerKind::kForeign)
    snap.parent_id = chain.layers[2].name.snapshot_id;
  return UploadLayer(j, vol, std::move(snap), layer);
}

Status SnapshotCreator::UploadLayer(Journal& j, const db::VolumeRecord& vol,
                                    db::SnapshotRecord snap,
                                    const std::string& layer) {
  const std::string& disk = vol.path;
  // R2.5: upload the layer; it is "available" only once stored and verified.
  // What the upload records besides the stored object is journalled with
  // its step: a restart carries the upload on from there (ResumeUpload).
  j.state()["parent_id"] = snap.parent_id.value_or("");
  j.state()["covers"] = snap.covers;
  STRATA_RETURN_IF_ERROR(j.Step("create.upload", 15));
  // The layer no longer grows: the space its overlay held past its end
  // (OverlayLayout::reserve_bytes) goes back before the layer is stored,
  // linked or not. Repeated on a resumed upload: it is idempotent.
  STRATA_RETURN_IF_ERROR(ReleaseSpacePastEnd(layer));
  const std::string key = LayerKey(vol.id, snap.id);
  const std::map<std::string, std::string> labels = LayerLabels(vol, snap);
  // The memory taken with it (snapshot_memory.cc) is stored first, so that
  // a layer stored is never without it; a layer that fails then takes it
  // out of the store again.
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord now,
                          catalog_->GetSnapshot(snap.id));
  const bool with_memory = now.memory_state == "complete";
  const std::string memory_key = MemoryKey(vol.id, snap.id);
  std::optional<LayerTransfer::StoredLayer> memory;
  if (with_memory) {
    // The server it is the memory of: what a catalog rebuilt from the
    // store needs to restore it (catalog_rebuild.cc).
    std::map<std::string, std::string> memory_labels = labels;
    memory_labels["memory_domain"] = now.memory_domain;
    auto m = transfer_->UploadMemory(snap.id, memory_key, now.memory_region,
                                     memory_labels);
    if (!m.ok())
      return m.status().WithContext("the memory of snapshot " + snap.id);
    memory = std::move(*m);
  }
  auto uploaded = transfer_->UploadLayer(snap.id, key, layer, labels);
  if (!uploaded.ok()) {
    if (memory)
      LogIfError(transfer_->DeleteStored(memory_key),
                 "removing the stored memory of snapshot " + snap.id);
    return uploaded.status();
  }
  const LayerTransfer::StoredLayer& stored = *uploaded;
  const store::ObjectInfo& obj = stored.object;
  STRATA_RETURN_IF_ERROR(catalog_->Transaction([&]() -> Status {
    STRATA_RETURN_IF_ERROR(
        catalog_->ModifySnapshot(snap.id, [&](db::SnapshotRecord& cur) {
          cur.progress = 95;  // "available" once the lease is released
          cur.parent_id = snap.parent_id;
          cur.covers = snap.covers;
          stored.RecordIn(key, &cur);
          return Status::OK();
        }));
    if (memory)
      STRATA_RETURN_IF_ERROR(catalog_->SetSnapshotMemoryStored(
          snap.id, memory_key, memory->object.sha256,
          static_cast<int64_t>(memory->object.size)));
    return catalog_->ModifyVolume(vol.id, [&](db::VolumeRecord& v) {
      v.head_snapshot_id = snap.id;
      return Status::OK();
    });
  }));
  LogInfo("snapshot " + snap.id + " of volume " + vol.id +
          " stored: " + std::to_string(obj.size) + " bytes at " + obj.location);
  transfer_->RetryPendingDeletes();  // the store answers: a good time

  // R2.8: merge the uploaded layer into history. A failure here leaves a
  // longer but valid chain; the next operation compacts it again.
  Status compacted = chain_->CompactChain(&j, vol);
  if (!compacted.ok())
    LogWarning("compaction of " + disk + " deferred: " + compacted.ToString());
  Status d = deleter_->DropUnneededLayers(vol.id);
  if (!d.ok()) LogWarning("dropping unneeded layers: " + d.ToString());
  return Status::OK();  // the snapshot is stored whatever the housekeeping did
}

Result<std::pair<Journal, db::SnapshotRecord>> SnapshotCreator::BeginSnapshot(
    const CreateSnapshotRequest& req, const db::VolumeRecord& vol) {
  db::SnapshotRecord snap;
  snap.id = req.id.value_or(NewUuid());
  snap.hidden = req.hidden;
  snap.volume_id = vol.id;
  snap.project_id = req.project_id;
  snap.user_id = req.user_id;
  snap.name = req.name;
  snap.description = req.description;
  snap.metadata = req.metadata;
  snap.group_snapshot_id = req.group_snapshot_id;
  snap.status = "creating";
  snap.virtual_size = vol.virtual_size;
  snap.created_at = snap.updated_at = NowMicros();
  STRATA_ASSIGN_OR_RETURN(
      Journal j, Journal::Begin(catalog_, "snapshot_create", vol.id, snap.id));
  STRATA_RETURN_IF_ERROR(catalog_->InsertSnapshot(snap));
  return std::make_pair(std::move(j), std::move(snap));
}

Result<db::VolumeRecord> SnapshotCreator::SnapshottableVolume(
    const std::string& volume_id) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  if (vol.status != "available" && vol.status != "in-use")
    return Status::Conflict("Invalid volume: Volume " + vol.id +
                            " status must be available or in-use, but "
                            "current status is: " +
                            vol.status + ".");
  return vol;
}

void SnapshotCreator::Conclude(Journal& j, const db::VolumeRecord& vol,
                               const std::string& snap_id, const Status& s,
                               const std::optional<Rotation>& rotation,
                               std::shared_ptr<VolumeLease>& held) {
  if (s.ok()) {
    std::vector<std::string> rotated;
    if (rotation) {
      // Counted among the volume's available snapshots, as the newest.
      SettleSnapshotStatus(snap_id, "available", 100);
      rotated = deleter_->RotateOut(vol.id, *rotation);
    }
    // A journal left running is settled by recovery at next start.
    LogIfError(j.Succeed(), "journal of snapshot " + snap_id);
    held.reset();
    if (!rotation) SettleSnapshotStatus(snap_id, "available", 100);
    for (const auto& id : rotated) deleter_->PublishDeleteDurably(id);
    return;
  }
  LogError("snapshot " + snap_id + " failed: " + s.ToString());
  LogIfError(j.Fail(s), "journal of snapshot " + snap_id);
  held.reset();
  SettleSnapshotStatus(snap_id, "error", 0, s.message());
}

Result<db::SnapshotRecord> SnapshotCreator::CreateSnapshot(
    const CreateSnapshotRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          SnapshottableVolume(req.volume_id));
  if (req.with_memory)
    STRATA_RETURN_IF_ERROR(MemorySnapshottable(vol).status());
  STRATA_ASSIGN_OR_RETURN(auto lease, locks_.TryAcquire(vol.id, "a snapshot"));
  STRATA_ASSIGN_OR_RETURN(auto begun, BeginSnapshot(req, vol));
  const db::SnapshotRecord snap = begun.second;
  Journal& journal = begun.first;
  if (req.with_memory) journal.state()["with_memory"] = true;
  if (req.rotation) {  // for a restart to carry the task on (ResumeUpload)
    journal.state()["rotation_keep"] = req.rotation->keep;
    journal.state()["rotation_match"] = req.rotation->match;
  }
  Launch(lease, [this, j = std::move(journal), vol, snap,
                 rotation = req.rotation](auto& held) mutable {
    Status s = CatchAll("engine.snapshot_create",
                        [&] { return RunCreate(j, vol, snap); });
    Conclude(j, vol, snap.id, s, rotation, held);
  });
  return snap;
}

Status SnapshotCreator::ResumeUpload(const db::TaskRecord& task) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog_->GetVolume(task.volume_id));
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord snap,
                          catalog_->GetSnapshot(task.snapshot_id.value_or("")));
  STRATA_ASSIGN_OR_RETURN(auto lease,
                          locks_.TryAcquire(vol.id, "a resumed upload"));
  Journal j = Journal::Resume(catalog_, task);
  const nlohmann::json& st = j.state();
  const std::string parent = st.value("parent_id", "");
  if (!parent.empty()) snap.parent_id = parent;
  if (st.contains("covers") && st["covers"].is_array())
    snap.covers = st["covers"].get<std::vector<std::string>>();
  std::optional<Rotation> rotation;
  if (st.contains("rotation_keep") && st["rotation_keep"].is_number_integer()) {
    rotation = Rotation{};
    rotation->keep = st["rotation_keep"].get<int>();
    if (st.contains("rotation_match") && st["rotation_match"].is_object())
      rotation->match = st["rotation_match"].get<db::Metadata>();
  }
  const std::string layer = SnapshotLayerPath(vol.path, snap.id);
  LogInfo("resuming the upload of snapshot " + snap.id + " of volume " +
          vol.id + ", which a restart interrupted");
  Launch(lease, [this, j = std::move(j), vol, snap, layer,
                 rotation](auto& held) mutable {
    // No journalled release: the layer is cut, the chain only let go, and
    // the task's step stays create.upload for a restart to resume again.
    Status s = CatchAll("engine.snapshot_resume", [&] {
      return WithChainReleased(
          vol, nullptr, [&] { return UploadLayer(j, vol, snap, layer); });
    });
    Conclude(j, vol, snap.id, s, rotation, held);
  });
  return Status::OK();
}

}  // namespace strata::engine
