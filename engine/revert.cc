// The revert task (R2.10–R2.11): download the layers from the volume's base
// up to the chosen snapshot (or link the local store's files), verify each
// (SHA-256, or a link's fast check), merge them, and make the disk that
// state.
//
// Steps (journalled): revert.download → revert.merge (→ revert.merge_upper in
// the split shape below) → revert.install (the atomic rename of a new overlay
// over the disk's path: the commit point) → revert.cleanup. Before the install
// the disk is untouched; after it the old chain is garbage. Unlike Cinder
// (latest snapshot only), any available snapshot of the volume can be the
// target, also one older than a previous revert: snapshots form a tree through
// parent_id.
#include "engine/revert.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "engine/layer_fetch.h"
#include "engine/qemu_img.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/time_util.h"

namespace strata::engine {
namespace {

// The backing name `upper`'s stored file gives in its header, when that is
// a history of `root` next to `disk` that no file has now: the root layer
// linked under that name lets the stored upper layer be used as it is,
// header and all. "" otherwise. A snapshot's layer names the history it was
// taken on, which held exactly its parent's state; with `root` the whole
// lineage below `upper`, the root layer holds that state too.
std::string FreeRootName(store::Store& store, const db::SnapshotRecord& upper,
                         const db::SnapshotRecord& root,
                         const std::string& disk) {
  auto local = store.LocalFile(*upper.store_key);
  if (!local.ok()) return "";
  auto h = qcow2::ReadQcow2Header(*local);
  if (!h.ok() || h->backing_format != "qcow2" || h->backing_file.empty() ||
      h->backing_file[0] != '/' || DirName(h->backing_file) != DirName(disk))
    return "";
  const LayerName name = ParseLayerName(disk, h->backing_file);
  if (name.kind != LayerKind::kHistory || name.snapshot_id != root.id ||
      PathExists(h->backing_file))
    return "";
  return h->backing_file;
}

}  // namespace

Status Reverter::RevertOntoHistory(Journal& j, const db::VolumeRecord& vol,
                                   const db::SnapshotRecord& target,
                                   const std::string& history) {
  const std::string& disk = vol.path;
  const int64_t t_start = MonotonicMicros();
  struct stat top;
  if (stat(disk.c_str(), &top) != 0)
    return Status::FromErrno("stat " + disk, errno);
  const std::string overlay = TempPath(disk, "overlay", j.task_id());
  j.state()["overlay"] = overlay;
  // Recovery counts the revert done when the disk's path holds another file
  // than this one (the overlay, made before the old top goes, cannot reuse
  // its inode).
  j.state()["replaces_inode"] = static_cast<uint64_t>(top.st_ino);
  Status s = CreateOverlay(overlay, history, "qcow2", target.virtual_size,
                           opts_.overlay);
  if (!s.ok()) {
    LogIfError(RemoveFileNoSymlinks(overlay),
               "cleanup (garbage collection retries)");
    return s;
  }
  STRATA_RETURN_IF_ERROR(j.Step("revert.install", 90));
  STRATA_RETURN_IF_ERROR(RenameDurableNoSymlinks(overlay, disk));
  STRATA_RETURN_IF_ERROR(j.Step("revert.cleanup", 95));
  LogInfo("volume " + vol.id + " reverted to its latest snapshot " + target.id +
          " in " + std::to_string((MonotonicMicros() - t_start) / 1000) +
          " ms: a new overlay on its history, nothing downloaded");
  STRATA_RETURN_IF_ERROR(chain_->CollectGarbage(vol));
  return deleter_->DropUnneededLayers(vol.id);
}

// What a revert builds, fixed before any file is touched (PlanRevert).
//
// The new chain. Without a foreign base and with more than one layer (the
// "split" shape): root history ← history ← new top, where the root history
// is the root layer as stored (hard-linked from a local store, never
// written) and the history a new file holding the other layers merged. Only
// those, a fraction of the disk in an incremental lineage, are written and
// made durable. With a foreign base all layers are merged into one history
// on it, so that the chain stays within four files (base ← history ← layer
// ← top) while a snapshot runs. One layer is the history itself.
//
// Two layers whose upper one names, as its backing, a history of the root
// that no file has now (usual: it named the history it was taken on): the
// root is linked under that name (free_root_name), and the upper layer,
// linked as stored, is the history. Nothing is merged or written (the shape
// `qemu-img rebase` leaves, with nothing between bottom and top to move).
struct RevertPlan {
  std::vector<db::SnapshotRecord> lineage;  // root first
  size_t n() const { return lineage.size(); }
  bool split = false;
  std::vector<std::string> files;  // lineage[i]'s download or link
  std::string history, free_root_name, root_history;
  std::string merged, commit_top, overlay;  // scratch
  // The layers merged into the history (the others: the root history, or
  // with one layer the history itself).
  size_t first_merged = 0;
  // The bottom file of the new chain is used through its own header; the
  // layers merged are only read.
  bool bottom_kept = false;
  Backing base;                     // the volume's foreign base, if any
  Backing bottom;                   // what the merged history sits on
  std::vector<std::string> uppers;  // files merged into the history
  int64_t download_bytes = 0;
};

namespace {

RevertPlan PlanRevert(store::Store& store, const db::VolumeRecord& vol,
                      std::vector<db::SnapshotRecord> lineage,
                      const db::SnapshotRecord& target,
                      const std::string& task_id) {
  const std::string& disk = vol.path;
  RevertPlan p;
  p.lineage = std::move(lineage);
  p.split = p.n() > 1 && !vol.base_path;
  for (size_t i = 0; i < p.n(); ++i)
    p.files.push_back(TempPath(disk, "dl" + std::to_string(i), task_id));
  p.history = NewHistoryPath(disk, target.id);
  if (p.split && p.n() == 2)
    p.free_root_name = FreeRootName(store, p.lineage[1], p.lineage[0], disk);
  if (p.split)
    p.root_history = p.free_root_name.empty()
                         ? NewHistoryPath(disk, p.lineage[0].id)
                         : p.free_root_name;
  p.merged = TempPath(disk, "merged", task_id);
  p.commit_top = TempPath(disk, "commit-top", task_id);
  p.overlay = TempPath(disk, "overlay", task_id);
  p.first_merged = p.split ? 1 : 0;
  p.bottom_kept = p.n() == 1 || p.split;
  p.base = Backing{vol.base_path.value_or(""), vol.base_format.value_or("")};
  p.bottom = p.split ? Backing{p.root_history, "qcow2"} : p.base;
  p.uppers.assign(p.files.begin() + static_cast<std::ptrdiff_t>(p.first_merged),
                  p.files.end());
  for (const auto& l : p.lineage) p.download_bytes += l.layer_bytes;
  return p;
}

// Removes the revert's scratch files (garbage collection retries what
// fails).
void RemoveScratch(const RevertPlan& p) {
  for (const auto& f : p.files)
    LogIfError(RemoveFileNoSymlinks(f), "cleanup (garbage collection retries)");
  for (const auto* f : {&p.merged, &p.commit_top, &p.overlay})
    LogIfError(RemoveFileNoSymlinks(*f),
               "cleanup (garbage collection retries)");
}

}  // namespace

Result<std::vector<char>> Reverter::LinkLayers(const RevertPlan& p) {
  // The links cost nothing yet: the layers the store keeps as files. Their
  // verification comes in FetchLayers.
  std::vector<char> linked(p.n(), 0);
  for (size_t i = 0; i < p.n(); ++i) {
    std::optional<Backing> check;
    if (i == 0 && p.bottom_kept) check = p.base;
    if (i == 1 && !p.free_root_name.empty())
      check = Backing{p.free_root_name, "qcow2"};
    Status l = LinkStoredLayer(*store_, p.lineage[i], p.files[i], check);
    if (l.ok()) {
      linked[i] = 1;
    } else if (l.code() != StatusCode::kNotSupported) {
      return l.WithContext("link of snapshot " + p.lineage[i].id);
    }
  }
  return linked;
}

Status Reverter::FetchLayer(const RevertPlan& p, size_t i, bool linked) {
  if (linked)
    return VerifyLinkedLayer(p.lineage[i], p.files[i])
        .WithContext("download of snapshot " + p.lineage[i].id);
  // Only the file that ends in the new chain is written back as it arrives
  // and made durable; the others stay scratch.
  const bool kept = i == 0 && p.bottom_kept;
  STRATA_RETURN_IF_ERROR(
      DownloadLayer(*store_, p.lineage[i], p.files[i], kept)
          .WithContext("download of snapshot " + p.lineage[i].id));
  return kept ? SetBackingUnsafe(p.files[i], p.base.file, p.base.format)
              : Status::OK();
}

Status Reverter::MergeUppers(const RevertPlan& p, const Backing& bottom_now,
                             uint64_t virtual_size, int64_t* micros) {
  // The merged history: a new file on the bottom of the new chain that the
  // upper layers are committed into. It is made on the bottom where that is
  // now and renamed to it after (a header write only). It is not written
  // back here: it goes into the chain from the page cache, recorded as
  // unsettled, and settle.cc writes it back after the revert or rebuilds
  // it from the same layers after a crash (its content is a function of
  // stored, verified layers). The union of K − 1 layers' durable write was
  // most of a revert's time.
  const int64_t t0 = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(MergeIntoNewImage(
      p.uppers, p.merged, bottom_now.file, bottom_now.format, virtual_size,
      opts_.overlay, p.commit_top, /*flush=*/false));
  if (bottom_now.file != p.bottom.file)
    STRATA_RETURN_IF_ERROR(SetBackingUnsafe(p.merged, p.bottom.file,
                                            p.bottom.format, /*flush=*/false));
  *micros = MonotonicMicros() - t0;
  return Status::OK();
}

Status Reverter::FetchLayers(Journal& j, const RevertPlan& p,
                             const std::vector<char>& linked,
                             uint64_t virtual_size, bool merge_beside,
                             int64_t* merge_micros) {
  // The layers are verified or downloaded by two threads, the root (the
  // largest, mostly hashing) first: downloads are bound by hashing and
  // copying, a core each. Progress steps are journalled from this thread
  // only. When every layer is a link (nothing is still being written), the
  // merge runs beside them on a third: it only reads the layers and writes
  // a new file, which is dropped if a layer turns out corrupt.
  const size_t n = p.n();
  std::vector<Status> fetched(n);
  std::atomic<size_t> next{0};
  auto work = [&](bool journal) {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      if (journal && i > 0)
        fetched[i] =
            j.Step("revert.download", static_cast<int>(5 + 70 * i / n));
      if (fetched[i].ok()) fetched[i] = FetchLayer(p, i, linked[i]);
      if (!fetched[i].ok()) next.store(n);  // the other thread stops too
    }
  };
  // Each thread's exception becomes its Status: the threads are always
  // joined, and a failure fails the revert before the disk is touched.
  Status merge_status, helper_status, main_status;
  std::thread helper, merger;
  if (merge_beside)
    merger = std::thread([&] {
      merge_status = CatchAll("engine.revert_merge", [&] {
        return MergeUppers(p, p.split ? Backing{p.files[0], "qcow2"} : p.bottom,
                           virtual_size, merge_micros);
      });
    });
  auto fetch_all = [&](bool main, Status* out) {
    *out = CatchAll("engine.revert_fetch", [&] {
      work(main);
      return Status::OK();
    });
    if (!out->ok()) next.store(n);  // the other thread stops too
  };
  if (n > 1) helper = std::thread(fetch_all, false, &helper_status);
  fetch_all(true, &main_status);
  if (helper.joinable()) helper.join();
  if (merger.joinable()) merger.join();
  for (const Status& f : fetched)
    if (!f.ok()) return f;  // a corrupt layer explains a failed merge
  if (!helper_status.ok()) return helper_status;
  if (!main_status.ok()) return main_status;
  return merge_status;
}

Status Reverter::RunRevert(Journal& j, db::VolumeRecord vol,
                           const db::SnapshotRecord& target) {
  const std::string& disk = vol.path;
  // Back to the latest snapshot (the volume's head) while the disk's backing
  // is the history made for it: that history holds exactly the snapshot's
  // state (a history is never written once made, and a snapshot whose
  // upload failed would sit between it and the disk), so a new empty
  // overlay on it is the revert. This is Cinder's revert to the latest
  // snapshot, with nothing to download or merge.
  if (vol.head_snapshot_id == target.id) {
    auto chain = ReadChain(disk, disk, confinement_);
    if (chain.ok() && chain->length() >= 2 &&
        chain->layers[1].name.kind == LayerKind::kHistory &&
        chain->layers[1].name.snapshot_id == target.id)
      return RevertOntoHistory(j, vol, target, chain->layers[1].path);
  }
  STRATA_ASSIGN_OR_RETURN(auto lineage, StoredLineage(catalog_, target));
  if (vol.base_path && !PathExists(*vol.base_path))
    return Status::NotFound("the volume's base image " + *vol.base_path +
                            " is missing");
  const RevertPlan p =
      PlanRevert(*store_, vol, std::move(lineage), target, j.task_id());
  j.state()["downloads"] = p.files;
  j.state()["history"] = p.history;
  if (p.split) j.state()["root_history"] = p.root_history;
  j.state()["overlay"] = p.overlay;

  // Every layer is verified before the disk is touched.
  const int64_t t_start = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(j.Step("revert.download", 5));
  auto linked = LinkLayers(p);
  if (!linked.ok()) {
    RemoveScratch(p);
    return linked.status();
  }
  const auto n_linked =
      static_cast<size_t>(std::count(linked->begin(), linked->end(), 1));
  // The upper of two layers is the history as stored (its link was checked
  // to name the root's name; unlinked, it is downloaded and merged instead).
  const bool direct = !p.free_root_name.empty() && (*linked)[1];
  const bool merged_any = p.n() > 1 && !direct;
  const bool merge_beside = merged_any && n_linked == p.n();
  int64_t merge_micros = 0;
  if (Status f = FetchLayers(j, p, *linked, target.virtual_size, merge_beside,
                             &merge_micros);
      !f.ok()) {
    RemoveScratch(p);
    return f;
  }
  const int64_t t_downloaded = MonotonicMicros();
  if (Status b = BuildChain(j, p, direct, merged_any && !merge_beside,
                            target.virtual_size, &merge_micros);
      !b.ok())
    return b;
  const int64_t t_merged = MonotonicMicros();  // the new chain is ready
  STRATA_RETURN_IF_ERROR(InstallChain(j, vol, p, target, merged_any));
  LogInfo("volume " + vol.id + " reverted to snapshot " + target.id + ": " +
          std::to_string(p.n()) + " layers, " +
          std::to_string(p.download_bytes >> 20) + " MiB (" +
          std::to_string(n_linked) + " linked) verified in " +
          std::to_string((t_downloaded - t_start) / 1000) + " ms, then " +
          std::to_string((t_merged - t_downloaded) / 1000) +
          " ms to build the new chain; " +
          (direct ? std::string("nothing merged: the upper layer, as stored, "
                                "is the history")
                  : "the merge took " + std::to_string(merge_micros / 1000) +
                        " ms" +
                        (merge_beside ? ", beside the verification" : "")));
  if (merged_any) chain_->SettleLater(p.history);
  STRATA_RETURN_IF_ERROR(chain_->CollectGarbage(vol));
  return deleter_->DropUnneededLayers(vol.id);
}

Status Reverter::BuildChain(Journal& j, const RevertPlan& p, bool direct,
                            bool merge_now, uint64_t virtual_size,
                            int64_t* merge_micros) {
  STRATA_RETURN_IF_ERROR(j.Step("revert.merge", 80));
  Status s;
  if (p.split) s = RenameDurableNoSymlinks(p.files[0], p.root_history);
  // (A crash here leaves the root history outside the chain: garbage.)
  if (s.ok() && p.split) s = j.Step("revert.merge_upper", 85);
  if (s.ok() && merge_now)
    s = MergeUppers(p, p.bottom, virtual_size, merge_micros);
  if (s.ok())
    s = RenameDurableNoSymlinks(p.n() == 1 ? p.files[0]
                                : direct   ? p.files[1]
                                           : p.merged,
                                p.history);
  if (s.ok())
    s = CreateOverlay(p.overlay, p.history, "qcow2", virtual_size,
                      opts_.overlay);
  if (!s.ok()) {
    RemoveScratch(p);
    LogIfError(RemoveFileNoSymlinks(p.history),
               "cleanup (garbage collection retries)");
    if (p.split)
      LogIfError(RemoveFileNoSymlinks(p.root_history),
                 "cleanup (garbage collection retries)");
  }
  return s;
}

Status Reverter::InstallChain(Journal& j, const db::VolumeRecord& vol,
                              const RevertPlan& p,
                              const db::SnapshotRecord& target,
                              bool merged_any) {
  STRATA_RETURN_IF_ERROR(j.Step("revert.install", 90));
  // Recorded before the install, so that a crash after it finds the row.
  if (merged_any) {
    db::UnsettledHistoryRecord u;
    u.path = p.history;
    u.volume_id = vol.id;
    for (size_t i = p.first_merged; i < p.n(); ++i)
      u.layers.push_back(p.lineage[i].id);
    STRATA_RETURN_IF_ERROR(catalog_->AddUnsettledHistory(u));
  }
  STRATA_RETURN_IF_ERROR(RenameDurableNoSymlinks(p.overlay, vol.path));
  STRATA_RETURN_IF_ERROR(j.Step("revert.cleanup", 95));
  for (const auto& f : p.files)
    LogIfError(RemoveFileNoSymlinks(f), "cleanup (garbage collection retries)");
  return catalog_->ModifyVolume(vol.id, [&](db::VolumeRecord& v) {
    v.head_snapshot_id = target.id;
    return Status::OK();
  });
}

Status Reverter::CheckRevertable(const db::VolumeRecord& vol,
                                 const db::SnapshotRecord& snap) {
  if (snap.volume_id != vol.id || snap.hidden)
    return Status::InvalidArgument("Snapshot " + snap.id +
                                   " is not a snapshot of volume " + vol.id);
  if (snap.status != "available" || !snap.store_key)
    return Status::Conflict(
        "Invalid snapshot: revert needs an available "
        "snapshot, but its status is: " +
        snap.status + ".");
  // Cinder's rule: a volume extended since the snapshot is not reverted to
  // it (the snapshot's state has no content past its end, and the disk
  // does not shrink); a volume from the snapshot holds that state instead.
  if (snap.virtual_size != vol.virtual_size)
    return Status::InvalidArgument(
        "Can't revert volume " + vol.id + " to its snapshot " + snap.id +
        ". The volume size must be equal to the snapshot size.");
  // A stopped server's disk stays "in-use" (attached), and may be reverted.
  if (vol.status != "available" && vol.status != "in-use")
    return Status::Conflict("Invalid volume: Volume " + vol.id +
                            " status must be available or in-use (server "
                            "stopped) to revert, but current status is: " +
                            vol.status + ".");
  if (Held(vol)) {
    auto held = holder_->StatusOf(vol.path);
    return Status::Conflict("Invalid volume: volume " + vol.id +
                            " is served by NBD export " +
                            (held ? held->export_name : std::string("?")) +
                            "; remove the export before reverting its disk.");
  }
  return Status::OK();
}

Status Reverter::RebuildServer(const std::string& domain_uuid,
                               const std::string& volume_id,
                               const std::string& snapshot_id) {
  if (!hv_) return Status::NotSupported("no hypervisor: nothing to rebuild");
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord snap,
                          catalog_->GetSnapshot(snapshot_id));
  STRATA_RETURN_IF_ERROR(CheckRevertable(vol, snap));
  STRATA_ASSIGN_OR_RETURN(hypervisor::DomainInfo dom,
                          hv_->GetDomain(domain_uuid));
  const bool was_running = dom.state == hypervisor::DomainState::kRunning ||
                           dom.state == hypervisor::DomainState::kPaused;
  STRATA_ASSIGN_OR_RETURN(auto lease, locks_.TryAcquire(vol.id, "a rebuild"));
  STRATA_ASSIGN_OR_RETURN(Journal j,
                          Journal::Begin(catalog_, "rebuild", vol.id, snap.id));
  j.state()["domain"] = domain_uuid;
  j.state()["power_on"] = was_running;
  return LaunchRevertTask(
      lease, j, vol, snap,
      [this, vol, snap, domain_uuid, was_running](Journal& j) {
        Status s = j.Step("rebuild.power_off", 2);
        if (s.ok()) s = hv_->PowerOff(domain_uuid);
        if (s.ok()) s = RunRevert(j, vol, snap);
        // Whatever the revert did, a server that ran runs again.
        Status on = Status::OK();
        if (was_running) {
          on = j.Step("rebuild.power_on", 98);
          if (on.ok()) on = hv_->PowerOn(domain_uuid);
        }
        if (s.ok()) s = on;
        if (s.ok())
          LogInfo("server " + domain_uuid + " rebuilt onto snapshot " +
                  snap.id);
        return s;
      },
      "rebuild of server " + domain_uuid);
}

Status Reverter::LaunchRevertTask(std::shared_ptr<VolumeLease> lease, Journal j,
                                  const db::VolumeRecord& vol,
                                  const db::SnapshotRecord& snap,
                                  std::function<Status(Journal&)> run,
                                  const std::string& what) {
  STRATA_RETURN_IF_ERROR(MarkReverting(vol, snap));
  Launch(lease, [this, j, vol, snap, run, what](auto& held) mutable {
    Status s = CatchAll("engine.revert", [&] { return run(j); });
    if (s.ok()) {
      LogIfError(j.Succeed(), "journal of the " + what);
    } else {
      LogError(what + " failed: " + s.ToString());
      LogIfError(j.Fail(s), "journal of the " + what);
    }
    held.reset();
    SettleSnapshotStatus(snap.id, "available", 100);
    SettleVolumeStatus(vol.id, vol.status);  // what it was before "reverting"
  });
  return Status::OK();
}

Status Reverter::RevertVolume(const std::string& volume_id,
                              const std::string& snapshot_id) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord snap,
                          catalog_->GetSnapshot(snapshot_id));
  STRATA_RETURN_IF_ERROR(CheckRevertable(vol, snap));
  STRATA_ASSIGN_OR_RETURN(auto live, live_->LiveDiskOf(vol));
  if (live)
    return Status::Conflict("Invalid volume: the server " + live->domain_uuid +
                            " using volume " + vol.id +
                            " is running; stop it before reverting its disk.");
  STRATA_ASSIGN_OR_RETURN(auto lease, locks_.TryAcquire(vol.id, "a revert"));
  STRATA_ASSIGN_OR_RETURN(Journal j,
                          Journal::Begin(catalog_, "revert", vol.id, snap.id));
  return LaunchRevertTask(
      lease, j, vol, snap,
      [this, vol, snap](Journal& j) { return RunRevert(j, vol, snap); },
      "revert of volume " + vol.id);
}

}  // namespace strata::engine
