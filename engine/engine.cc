// Engine: request entry points (validation, leases, launching tasks) and
// volume adoption. The task bodies live in snapshot_create.cc, revert.cc,
// snapshot_delete.cc; chain maintenance in chain_ops.cc; crash recovery in
// recover.cc.
#include "engine/engine.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <thread>

#include "engine/image_lock.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/subprocess.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::engine {

std::string LayerKey(const std::string& volume_id,
                     const std::string& snapshot_id) {
  return "volumes/" + volume_id + "/" + snapshot_id + ".qcow2";
}

int64_t SizeGiB(int64_t bytes) {
  const int64_t gib = int64_t{1} << 30;
  return (bytes + gib - 1) / gib;
}

Engine::Engine(db::Catalog* catalog, store::Store* store, EngineOptions opts,
               hypervisor::Hypervisor* hv)
    : catalog_(catalog),
      store_(store),
      hv_(hv),
      opts_(std::move(opts)),
      confinement_(opts_.allowed_dirs, opts_.shared_base_dirs),
      reaper_(1, 19),
      runner_(opts_.workers, opts_.worker_nice) {}

Engine::~Engine() { Stop(); }

void Engine::Stop() {
  runner_.Stop();
  reaper_.Stop();
}

void Engine::Launch(std::shared_ptr<VolumeLease> lease,
                    std::function<void(std::shared_ptr<VolumeLease>&)> body) {
  runner_.Submit([lease = std::move(lease), body = std::move(body)]() mutable {
    // released by the body, or when this job is destroyed
    RunLogged("engine.task", [&] { body(lease); });
  });
}

namespace {

// Refuses a disk that a running process (a VM) holds open for writing,
// known from QEMU's own image lock (image_lock.h), and one qemu-img cannot
// open.
Status CheckNotInUse(const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(bool written, QemuHoldsForWriting(path));
  if (written)
    return Status::Conflict(path +
                            " is in use by another process (a QEMU holds it "
                            "open for writing)");
  STRATA_ASSIGN_OR_RETURN(
      ProcessResult r, RunProcess({"qemu-img", "info", "--output=json", path}));
  if (r.exit_code == 0) return Status::OK();
  return Status::InvalidArgument("qemu-img cannot open " + path + ": " + r.err);
}

// True when the file's name is one Strata gives a layer or temporary of
// some disk (layer_names.h), whoever's disk that is.
bool HasStrataLayerName(const std::string& path) {
  const std::string name = BaseName(path);
  return name.find(".strata-") != std::string::npos ||
         name.find(".snap-") != std::string::npos ||
         name.find(".history-") != std::string::npos;
}

// A caller's source-name: by its name first (nothing on the host is looked
// at for a path outside the allowed directories, so a refusal says nothing
// of what exists there), then opened beneath its allowed directory with no
// symlink on the way, and a regular file.
Status CheckCallerDisk(const Confinement& c, const std::string& path) {
  STRATA_RETURN_IF_ERROR(c.CheckCallerPath(path));
  const std::string dir = c.WritableDirOf(path);
  STRATA_ASSIGN_OR_RETURN(
      UniqueFd fd, OpenBeneath(dir, path.substr(dir.size() + 1), O_RDONLY));
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Status::FromErrno("stat " + path, errno);
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument(path + " is not a regular file");
  return Status::OK();
}

}  // namespace

Result<db::VolumeRecord> Engine::ManageVolume(const ManageRequest& req) {
  auto fail = [](const Status& s) {
    return Status::InvalidArgument("Manage existing volume failed: " +
                                   s.message());
  };
  if (req.source_path.empty() || req.source_path[0] != '/')
    return fail(
        Status::InvalidArgument("source-name must be an absolute path"));
  if (!req.trusted_path) {
    if (Status s = CheckCallerDisk(confinement_, req.source_path); !s.ok())
      return fail(s);
  }
  auto canon = CanonicalPath(req.source_path);
  if (!canon.ok()) return fail(canon.status());
  struct stat st;
  if (stat(canon->c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status::InvalidArgument("Manage existing volume failed: " + *canon +
                                   " is not a regular file");
  if (ParseLayerName(*canon, *canon).kind != LayerKind::kForeign ||
      HasStrataLayerName(*canon))
    return Status::InvalidArgument("Manage existing volume failed: " + *canon +
                                   " is one of Strata's own layer files");
  if (catalog_->GetVolumeByPath(*canon).ok())
    return Status::Conflict("Manage existing volume failed: " + *canon +
                            " is already managed");
  auto chain = ReadChain(*canon, *canon, confinement_);
  if (!chain.ok()) return fail(chain.status());
  // No file of another volume below this one: its snapshots rename and
  // merge those files, and this disk would read another tenant's data.
  for (size_t i = 1; i < chain->length(); ++i) {
    if (catalog_->GetVolumeByPath(chain->layers[i].path).ok() ||
        HasStrataLayerName(chain->layers[i].path))
      return fail(Status::InvalidArgument(
          "a backing file is another volume's disk or one of its layers"));
  }
  STRATA_ASSIGN_OR_RETURN(auto user, DomainUsing(*canon));
  if (!user) STRATA_RETURN_IF_ERROR(CheckNotInUse(*canon));

  db::VolumeRecord v;
  v.id = NewUuid();
  v.project_id = req.project_id;
  v.user_id = req.user_id;
  v.name = req.name;
  v.description = req.description;
  v.status = "available";
  v.path = *canon;
  if (chain->length() > 1) {
    const ChainLayer& base = chain->layers[1];
    STRATA_ASSIGN_OR_RETURN(v.base_path, CanonicalPath(base.path));
    v.base_format = base.format;
  }
  v.virtual_size = static_cast<int64_t>(chain->top().header.virtual_size);
  v.bootable = req.bootable;
  v.metadata = req.metadata;
  v.created_at = v.updated_at = NowMicros();
  if (user) {
    v.domain_uuid = user->first.uuid;
    v.disk_target = user->second;
    if (user->first.state != hypervisor::DomainState::kShutoff)
      v.status = "in-use";
  }
  STRATA_RETURN_IF_ERROR(catalog_->InsertVolume(v));
  LogInfo("managed volume " + v.id + " at " + v.path);
  return v;
}

Result<db::VolumeRecord> Engine::ServerDiskVolume(
    const hypervisor::DomainInfo& dom, const hypervisor::DomainDisk& disk,
    const std::string& default_project) {
  if (!disk.serial.empty())
    return Status::Conflict(
        "Disk " + disk.target + " of server " + dom.uuid + " is volume " +
        disk.serial +
        " of Cinder, which keeps its snapshots (through "
        "os-assisted-volume-snapshots); Strata does not manage it.");
  if (disk.source.empty() && !disk.nbd_socket.empty()) {
    // Served by one of Strata's own NBD exports: its volume was adopted
    // when the export started.
    auto dir = CanonicalPath(DirName(disk.nbd_socket));
    std::optional<std::string> served;
    if (dir.ok() && holder_)
      served = holder_->DiskServedOn(JoinPath(*dir, BaseName(disk.nbd_socket)));
    if (!served)
      return Status::Conflict("Disk " + disk.target + " of server " + dom.uuid +
                              " is the NBD socket " + disk.nbd_socket +
                              ", which is not one of Strata's qcow2 exports.");
    return catalog_->GetVolumeByPath(*served);
  }
  auto canon = CanonicalPath(disk.source);
  if (!canon.ok()) return canon.status();
  auto existing = catalog_->GetVolumeByPath(*canon);
  if (existing.ok()) return existing;
  ManageRequest req;
  req.project_id = dom.project_id.empty() ? default_project : dom.project_id;
  req.user_id = dom.user_id.empty() ? "nova" : dom.user_id;
  req.name = dom.name + "-" + disk.target;
  req.description = "disk " + disk.target + " of server " + dom.uuid;
  req.source_path = *canon;
  req.bootable = true;
  req.trusted_path = true;
  return ManageVolume(req);
}

Status Engine::SetExportAttached(const std::string& disk, bool attached) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog_->GetVolumeByPath(disk));
  if (vol.domain_uuid) return Status::OK();
  const std::string from = attached ? "available" : "in-use";
  // Checked here so that a call that changes nothing writes nothing (a
  // write moves updated_at), and again in the update against a racing one.
  if (vol.status != from) return Status::OK();
  return catalog_->ModifyVolume(vol.id, [&](db::VolumeRecord& v) {
    if (v.status == from && !v.domain_uuid)
      v.status = attached ? "in-use" : "available";
    return Status::OK();
  });
}

void Engine::RegisterServerDisks(const std::string& default_project) {
  if (!hv_) return;
  auto doms = hv_->ListDomains();
  if (!doms.ok()) return;
  for (const auto& d : *doms)
    for (const auto& disk : d.disks) {
      if (disk.device != "disk" || disk.format != "qcow2" ||
          disk.source.empty() || !disk.serial.empty())
        continue;
      auto canon = CanonicalPath(disk.source);
      // A domain's temporary overlay (mid-operation) is not a disk of its own.
      if (!canon.ok() || IsStrataTemp(*canon)) continue;
      if (catalog_->GetVolumeByPath(*canon).ok()) continue;
      auto v = ServerDiskVolume(d, disk, default_project);
      if (!v.ok())
        LogWarning("cannot register disk " + disk.target + " of " + d.name +
                   ": " + v.status().ToString());
    }
}

Status Engine::UnmanageVolume(const std::string& volume_id) {
  STRATA_ASSIGN_OR_RETURN(auto lease, locks_.TryAcquire(volume_id, "unmanage"));
  // As Cinder: a volume a server or an NBD client uses stays managed (its
  // snapshots, redirect cache and export depend on the record).
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  if (vol.status != "available" && vol.status != "error")
    return Status::Conflict(
        "Invalid volume: Volume status must be available "
        "or error to unmanage, but current status is: " +
        vol.status + ".");
  STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfVolume(volume_id));
  for (const auto& s : snaps)
    if (!s.hidden)
      return Status::Conflict("Volume " + volume_id +
                              " still has snapshots; delete them first.");
  // Layers kept only for this volume's chain are no longer needed.
  for (const auto& s : snaps) {
    if (s.store_key) STRATA_RETURN_IF_ERROR(DeleteStored(*s.store_key));
    STRATA_RETURN_IF_ERROR(catalog_->DeleteSnapshot(s.id));
  }
  STRATA_RETURN_IF_ERROR(catalog_->DeleteVolume(volume_id));
  // The chain stays (it is the disk); the history's spare is ours alone.
  DropSpares(vol.path);
  return Status::OK();
}

namespace {

// Runs `write` until it succeeds, five times at most over ~3 s.
Status Persist(const std::function<Status()>& write) {
  Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
    s = write();
    if (s.ok()) return s;
  }
  return s;
}

}  // namespace

void Engine::SettleSnapshotStatus(const std::string& id,
                                  const std::string& status, int progress,
                                  const std::string& error) {
  Status s = Persist(
      [&] { return catalog_->SetSnapshotStatus(id, status, progress, error); });
  if (!s.ok())
    LogError("snapshot " + id + ": its status " + status +
             " could not be written: " + s.ToString());
}

void Engine::PublishDeleteDurably(const std::string& snapshot_id) {
  // Left "deleting", the snapshot's delete is run again at the next start.
  LogIfError(Persist([&] { return PublishDelete(snapshot_id); }),
             "publishing the delete of snapshot " + snapshot_id);
}

void Engine::SettleVolumeStatus(const std::string& id,
                                const std::string& status) {
  Status s = Persist([&] {
    return catalog_->ModifyVolume(id, [&](db::VolumeRecord& v) {
      v.status = status;
      return Status::OK();
    });
  });
  if (!s.ok())
    LogError("volume " + id + ": its status " + status +
             " could not be written: " + s.ToString());
}

Result<db::SnapshotRecord> Engine::CreateSnapshot(
    const CreateSnapshotRequest& req) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog_->GetVolume(req.volume_id));
  if (vol.status != "available" && vol.status != "in-use")
    return Status::Conflict("Invalid volume: Volume " + vol.id +
                            " status must be available or in-use, but "
                            "current status is: " +
                            vol.status + ".");
  STRATA_ASSIGN_OR_RETURN(auto lease, locks_.TryAcquire(vol.id, "a snapshot"));
  db::SnapshotRecord snap;
  snap.id = NewUuid();
  snap.volume_id = vol.id;
  snap.project_id = req.project_id;
  snap.user_id = req.user_id;
  snap.name = req.name;
  snap.description = req.description;
  snap.metadata = req.metadata;
  snap.status = "creating";
  snap.virtual_size = vol.virtual_size;
  snap.created_at = snap.updated_at = NowMicros();
  STRATA_ASSIGN_OR_RETURN(
      Journal j, Journal::Begin(catalog_, "snapshot_create", vol.id, snap.id));
  STRATA_RETURN_IF_ERROR(catalog_->InsertSnapshot(snap));
  Launch(lease,
         [this, j, vol, snap, rotation = req.rotation](auto& held) mutable {
           Status s = CatchAll("engine.snapshot_create",
                               [&] { return RunCreate(j, vol, snap); });
           if (s.ok()) {
             std::vector<std::string> rotated;
             if (rotation) {
               // Counted among the volume's available snapshots, as the newest.
               SettleSnapshotStatus(snap.id, "available", 100);
               rotated = RotateOut(vol.id, *rotation);
             }
             // A journal left running is settled by recovery at next start.
             LogIfError(j.Succeed(), "journal of snapshot " + snap.id);
             held.reset();
             if (!rotation) SettleSnapshotStatus(snap.id, "available", 100);
             for (const auto& id : rotated) PublishDeleteDurably(id);
             return;
           }
           LogError("snapshot " + snap.id + " failed: " + s.ToString());
           LogIfError(j.Fail(s), "journal of snapshot " + snap.id);
           held.reset();
           SettleSnapshotStatus(snap.id, "error", 0, s.message());
         });
  return snap;
}

Status Engine::DeleteSnapshot(const std::string& snapshot_id, bool force) {
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord snap,
                          catalog_->GetSnapshot(snapshot_id));
  if (snap.hidden)
    return Status::NotFound("Snapshot " + snapshot_id + " could not be found.");
  bool ok_state = snap.status == "available" || snap.status == "error" ||
                  (force && snap.status != "restoring");
  if (!ok_state)
    return Status::Conflict(
        "Invalid snapshot: Snapshot status must be "
        "available or error, but current status is: " +
        snap.status + ".");
  STRATA_ASSIGN_OR_RETURN(
      auto lease, locks_.TryAcquire(snap.volume_id, "a snapshot delete"));
  STRATA_RETURN_IF_ERROR(
      catalog_->SetSnapshotStatus(snapshot_id, "deleting", snap.progress));
  STRATA_ASSIGN_OR_RETURN(Journal j, Journal::Begin(catalog_, "snapshot_delete",
                                                    snap.volume_id, snap.id));
  Launch(lease, [this, j, snapshot_id](auto& held) mutable {
    Status s = j.Step("delete.begin", 0);
    if (s.ok())
      s = CatchAll("engine.snapshot_delete",
                   [&] { return RunDelete(snapshot_id); });
    if (s.ok()) {
      LogIfError(j.Succeed(), "journal of the delete of " + snapshot_id);
      held.reset();
      PublishDeleteDurably(snapshot_id);
      return;
    }
    LogError("deleting snapshot " + snapshot_id + " failed: " + s.ToString());
    LogIfError(j.Fail(s), "journal of the delete of " + snapshot_id);
    held.reset();
    SettleSnapshotStatus(snapshot_id, "error_deleting", 0, s.message());
  });
  return Status::OK();
}

Status Engine::CheckRevertable(const db::VolumeRecord& vol,
                               const db::SnapshotRecord& snap) {
  if (snap.volume_id != vol.id || snap.hidden)
    return Status::InvalidArgument("Snapshot " + snap.id +
                                   " is not a snapshot of volume " + vol.id);
  if (snap.status != "available" || !snap.store_key)
    return Status::Conflict(
        "Invalid snapshot: revert needs an available "
        "snapshot, but its status is: " +
        snap.status + ".");
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

Status Engine::RebuildServer(const std::string& domain_uuid,
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

Status Engine::LaunchRevertTask(std::shared_ptr<VolumeLease> lease, Journal j,
                                const db::VolumeRecord& vol,
                                const db::SnapshotRecord& snap,
                                std::function<Status(Journal&)> run,
                                const std::string& what) {
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifyVolume(vol.id, [](db::VolumeRecord& v) {
        v.status = "reverting";
        return Status::OK();
      }));
  STRATA_RETURN_IF_ERROR(
      catalog_->SetSnapshotStatus(snap.id, "restoring", snap.progress));
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

Status Engine::RevertVolume(const std::string& volume_id,
                            const std::string& snapshot_id) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol, catalog_->GetVolume(volume_id));
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord snap,
                          catalog_->GetSnapshot(snapshot_id));
  STRATA_RETURN_IF_ERROR(CheckRevertable(vol, snap));
  STRATA_ASSIGN_OR_RETURN(auto live, LiveDiskOf(vol));
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
