// Seconds-level rollback (R1.8). The steps, each journalled before it acts:
//
//   instant.link         the target's lineage (root first) hard-linked from
//                        the local store as the mirror files (request
//                        thread: a store that keeps no local files, or
//                        keeps them on another file system, is refused at
//                        once, nothing changed);
//   instant.power_off    the server is powered off;
//   instant.install_top  the disk's old top gets a second name ("before")
//                        and a new empty top on the mirror is renamed over
//                        the disk's path (the commit point of the start);
//   instant.start        the domain's definition names the mirror as the
//                        disk's backing chain explicitly (libvirt opens
//                        those files, read-only, whatever their headers
//                        name: a stored layer's header names the history it
//                        was taken on, which may no longer exist, and a
//                        linked file is never rewritten), and it starts.
//                        R1.8's start tag is this empty top;
//   instant.copy         in the background the mirror is verified (the
//                        fast check) and the disk's normal chain built from
//                        it as a normal revert builds it (revert.cc): the
//                        root layer linked as the root history (nothing
//                        copied), the layers above merged into a new
//                        history, written back and synced;
//   instant.ready        waits for the user's confirmation (or goes on,
//                        when the rollback switches automatically);
//   instant.switch       the end tag: the writes the server made on the
//                        mirror are the top's own clusters, and one shallow
//                        block mirror job moves them onto a new top on the
//                        history (LiveDisks::RepointLiveTop: two pivots,
//                        ending on the disk's path; a stopped server's top
//                        is repointed in its header, the two backings
//                        holding the same data);
//   instant.finish       the explicit chain is removed from the definition,
//                        the volume's head is the target, and the mirror and
//                        the old chain go (garbage collection).
//
// Why these jobs. The mirror is the local store's files: linking them is the
// copy that costs nothing, and they are the business storage's root
// layer as well. What must still be written is the upper layers' merge, a
// fraction of the disk in an incremental lineage, which qemu-img makes
// from immutable files without touching the VM's I/O path. QEMU's stream
// job would instead write the whole disk into the VM's top (a top that the
// next snapshot uploads whole), and a full mirror job would copy the whole
// disk a second time; both grow with the disk. The one block job used is
// the shallow mirror (sync=top) at the switch, which moves exactly R1.8's
// "difference data", the clusters the VM wrote since the start.
//
// Crashes (kill -9 of stratad; the VM runs on, QEMU holds its files open):
// before the install the disk is untouched and the server is put back as it
// was; from the install to the switch the rollback carries on (the copy is
// redone from the mirror); inside the switch recovery first brings a VM
// left on a temporary overlay back onto the disk's path, then finishes the
// switch or redoes it; an abort or a finish is redone. The old top keeps
// its second name until the finish, so an abort is possible until the
// switch begins. A mirror that fails its check aborts the rollback (the
// server is not left running on data that is not the snapshot's).
#include "engine/instant_rollback.h"

#include <sys/stat.h>

#include <optional>
#include <set>

#include "engine/layer_fetch.h"
#include "engine/layer_names.h"
#include "engine/qemu_img.h"
#include "qcow2/qcow2_header.h"
#include "util/background_priority.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/time_util.h"

namespace strata::engine {
namespace {

const char kKind[] = "instant_rollback";

// The steps in order; the repoint's own steps are the switch's.
enum Step {
  kLink,
  kFetch,
  kPowerOff,
  kInstallTop,
  kStart,
  kCopy,
  kReady,
  kSwitch,
  kFinish,
  kAbort,
  kUnknown
};
Step Ordinal(const std::string& step) {
  static const char* const kSteps[] = {
      "instant.link",        "instant.fetch",  "instant.power_off",
      "instant.install_top", "instant.start",  "instant.copy",
      "instant.ready",       "instant.switch", "instant.finish",
      "instant.abort"};
  if (step == "repoint.away" || step == "repoint.back") return kSwitch;
  for (int i = 0; i < kUnknown; ++i)
    if (step == kSteps[i]) return static_cast<Step>(i);
  return kUnknown;
}

std::vector<std::string> Strings(const nlohmann::json& state, const char* key) {
  std::vector<std::string> out;
  if (state.contains(key) && state[key].is_array())
    for (const auto& v : state[key])
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string Str(const nlohmann::json& state, const char* key) {
  return state.is_object() ? state.value(key, std::string()) : std::string();
}

std::optional<ino_t> Inode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

// Whether the new top is at the disk's path (install_top done): the old top
// then has only its "before" name.
bool TopInstalled(const nlohmann::json& state, const std::string& disk) {
  auto before = Inode(Str(state, "before"));
  auto now = Inode(disk);
  return before && now && *before != *now;
}

void RemoveQuietly(const std::string& path) {
  if (!path.empty())
    LogIfError(RemoveFileNoSymlinks(path),
               "cleanup (garbage collection retries)");
}

}  // namespace

std::string InstantRollbackPhase(const db::TaskRecord& task) {
  const Step at = Ordinal(task.step);
  if (task.status == "succeeded") return "done";
  if (task.status == "failed")
    return task.error.find("aborted by the user") != std::string::npos
               ? "aborted"
               : "error";
  switch (at) {
    case kStart:
      return "starting";
    case kCopy:
      return "copying";
    case kReady:
      return "ready";
    case kSwitch:
      return "switching";
    case kFinish:
      return "finishing";
    case kAbort:
      return "aborting";
    default:
      return "preparing";
  }
}

namespace {

// The NBD export of a rollback's `i`-th mirror layer.
std::string LayerExportName(const std::string& task_id, size_t i) {
  return "ir-" + task_id + "-" + std::to_string(i);
}

std::set<size_t> FetchedLayers(const nlohmann::json& state) {
  std::set<size_t> fetched;
  if (state.contains("fetch") && state["fetch"].is_array())
    for (const auto& f : state["fetch"]) fetched.insert(f.get<size_t>());
  return fetched;
}

// While the server reads served layers, a read (or a write's copy-on-write
// read) that fails because stratad is down pauses it instead of failing in
// the guest; recovery resumes it once the layers are served again.
std::optional<hypervisor::DiskErrorPolicy> OnMirrorPolicy(
    const nlohmann::json& state) {
  if (!state.value("streamed", false)) return std::nullopt;
  return hypervisor::DiskErrorPolicy{"stop", "stop"};
}

// The disk's own policies again, after the mirror.
std::optional<hypervisor::DiskErrorPolicy> OwnPolicy(
    const nlohmann::json& state) {
  if (!state.value("streamed", false)) return std::nullopt;
  return hypervisor::DiskErrorPolicy{Str(state, "error_policy"),
                                     Str(state, "rerror_policy")};
}

}  // namespace

InstantRollbacks::InstantRollbacks(EngineContext& ctx, LiveDisks* live,
                                   ChainMaintenance* chain,
                                   SnapshotDeleter* deleter, Reverter* reverter)
    : EnginePart(ctx),
      live_(live),
      chain_(chain),
      deleter_(deleter),
      reverter_(reverter) {
  if (!opts_.layer_socket_dir.empty() && hv_) {
    layer_server_ = std::make_unique<nbd::NbdServer>(opts_.layer_socket_dir,
                                                     opts_.layer_socket_group);
    watcher_ = std::thread([this] {
      RunLogged("engine.instant_rollback.watch", [this] { WatchServed(); });
    });
  }
}

InstantRollbacks::~InstantRollbacks() { Stop(); }

std::vector<hypervisor::BackingFile> InstantRollbacks::MirrorChain(
    const nlohmann::json& state, const std::string& task_id) {
  std::vector<hypervisor::BackingFile> chain;
  const auto mirrors = Strings(state, "mirrors");
  const std::set<size_t> fetched = FetchedLayers(state);
  const bool served = state.value("streamed", false) && layer_server_;
  for (size_t n = mirrors.size(); n-- > 0;) {
    hypervisor::BackingFile f{mirrors[n], "qcow2"};
    if (served && fetched.count(n)) {
      f.nbd_export = LayerExportName(task_id, n);
      f.nbd_socket = layer_server_->SocketPath(f.nbd_export);
    }
    chain.push_back(f);
  }
  if (!Str(state, "base_file").empty())
    chain.push_back({Str(state, "base_file"), Str(state, "base_format")});
  return chain;
}

Status InstantRollbacks::ServeUnlinked(Journal& j) {
  auto& st = j.state();
  const auto mirrors = Strings(st, "mirrors");
  const auto ids = Strings(st, "lineage");
  const std::set<size_t> fetched = FetchedLayers(st);
  if (fetched.empty()) return Status::OK();  // every layer linked
  if (!layer_server_)
    return Status::NotSupported(
        "the rollback's stored layers cannot be served: this engine has no "
        "layer socket directory");
  std::vector<Served> served;
  Status s;
  for (size_t i : fetched) {
    if (i >= mirrors.size() || i >= ids.size()) {
      s = Status::Corruption("the rollback's journal names no layer " +
                             std::to_string(i));
      break;
    }
    Served one{LayerExportName(j.task_id(), i), Str(st, "domain"), nullptr};
    auto snap = catalog_->GetSnapshot(ids[i]);
    if (!snap.ok()) {
      s = snap.status();
      break;
    }
    if (PathExists(mirrors[i])) {
      // Whole and verified before a restart: served from its file.
      auto whole = StreamedLayer::Whole(*snap, mirrors[i]);
      if (!whole.ok()) {
        s = whole.status();
        break;
      }
      one.stream = std::move(*whole);
    } else {
      one.stream = StreamedLayer::Start(store_, *snap, mirrors[i], {});
    }
    s = layer_server_->AddExport(one.export_name, one.stream);
    if (!s.ok()) break;
    served.push_back(std::move(one));
  }
  if (!served.empty()) {
    std::lock_guard<std::mutex> l(mu_);
    auto& list = served_[j.task_id()];
    for (auto& one : served) list.push_back(std::move(one));
  }
  if (!s.ok()) {
    StopServing(j.task_id());
    return s;
  }
  st["streamed"] = true;
  LogInfo("instant rollback " + j.task_id() + ": " +
          std::to_string(served.size()) +
          " stored layers served over NBD while they download");
  return Status::OK();
}

Status InstantRollbacks::AwaitServed(const std::string& task_id) {
  std::vector<std::shared_ptr<StreamedLayer>> streams;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& one : served_[task_id])
      if (one.stream) streams.push_back(one.stream);
  }
  for (const auto& stream : streams) STRATA_RETURN_IF_ERROR(stream->Wait());
  return Status::OK();
}

void InstantRollbacks::WatchServed() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    watch_cv_.wait_for(l, std::chrono::seconds(1));
    if (stopping_) return;
    std::set<std::string> doms;
    for (const auto& [task, served] : served_)
      for (const auto& one : served) doms.insert(one.domain);
    l.unlock();
    for (const auto& dom : doms) {
      Status s = ResumeIfPausedOnError(dom);
      if (!s.ok() && !s.IsNotFound())
        LogWarning("instant rollback: server " + dom + ": " + s.ToString());
    }
    l.lock();
  }
}

Status InstantRollbacks::ResumeIfPausedOnError(const std::string& dom) {
  STRATA_ASSIGN_OR_RETURN(hypervisor::DomainInfo info, hv_->GetDomain(dom));
  if (!info.paused_on_io_error) return Status::OK();
  LogWarning("server " + dom +
             " paused on a failed read of its served layers (stratad was "
             "down); resuming it: QEMU retries the read");
  return hv_->Resume(dom);
}

void InstantRollbacks::StopServing(const std::string& task_id) {
  std::vector<Served> served;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = served_.find(task_id);
    if (it == served_.end()) return;
    served = std::move(it->second);
    served_.erase(it);
  }
  for (auto& one : served) {
    if (one.stream) one.stream->Stop();  // a read it holds ends first
    LogIfError(layer_server_->RemoveExport(one.export_name),
               "instant rollback " + task_id);
  }
}

Result<db::TaskRecord> InstantRollbacks::Start(
    const hypervisor::DomainInfo& dom, const std::string& target,
    const db::VolumeRecord& vol, const db::SnapshotRecord& snap,
    bool auto_switch) {
  if (!hv_) return Status::NotSupported("no hypervisor: no server to run");
  STRATA_RETURN_IF_ERROR(reverter_->CheckRevertable(vol, snap));
  if (!dom.persistent)
    return Status::Conflict("Cannot roll back instance " + dom.uuid +
                            ": it is a transient domain, which ends when "
                            "powered off.");
  STRATA_ASSIGN_OR_RETURN(auto lineage, StoredLineage(catalog_, snap));
  if (vol.base_path && !PathExists(*vol.base_path))
    return Status::NotFound("the volume's base image " + *vol.base_path +
                            " is missing");
  STRATA_ASSIGN_OR_RETURN(auto lease,
                          locks_.TryAcquire(vol.id, "an instant rollback"));
  STRATA_ASSIGN_OR_RETURN(Journal j,
                          Journal::Begin(catalog_, kKind, vol.id, snap.id));
  const std::string& disk = vol.path;
  auto& st = j.state();
  st["domain"] = dom.uuid;
  st["target"] = target;
  st["auto"] = auto_switch;
  st["was_running"] = dom.state == hypervisor::DomainState::kRunning ||
                      dom.state == hypervisor::DomainState::kPaused;
  st["virtual_size"] = snap.virtual_size;
  if (const hypervisor::DomainDisk* d = dom.Disk(target)) {
    st["error_policy"] = d->error_policy;
    st["rerror_policy"] = d->rerror_policy;
  }
  st["base_file"] = vol.base_path.value_or("");
  st["base_format"] = vol.base_format.value_or("");
  std::vector<std::string> mirrors, ids;
  int64_t upper_bytes = 0;
  for (size_t i = 0; i < lineage.size(); ++i) {
    mirrors.push_back(
        TempPath(disk, "mirror" + std::to_string(i), j.task_id()));
    ids.push_back(lineage[i].id);
    if (i > 0 || vol.base_path) upper_bytes += lineage[i].layer_bytes;
  }
  st["mirrors"] = mirrors;
  st["lineage"] = ids;
  st["copy_bytes"] = upper_bytes;
  st["history"] = NewHistoryPath(disk, snap.id);
  st["root_history"] = lineage.size() > 1 && !vol.base_path
                           ? NewHistoryPath(disk, lineage[0].id)
                           : std::string();
  st["merged"] = TempPath(disk, "merged", j.task_id());
  st["scratch"] = TempPath(disk, "commit-top", j.task_id());
  st["top"] = TempPath(disk, "instant", j.task_id());
  st["before"] = TempPath(disk, "before", j.task_id());
  std::vector<int> fetch;
  int64_t fetch_bytes = 0;
  Status s = j.Step("instant.link", 2);
  // The root layer is used through its own header (as the root history),
  // so its stored backing must be the volume's base (or none).
  for (size_t i = 0; s.ok() && i < lineage.size(); ++i) {
    std::optional<Backing> check;
    if (i == 0)
      check = Backing{vol.base_path.value_or(""), vol.base_format.value_or("")};
    s = LinkStoredLayer(*store_, lineage[i], mirrors[i], check);
    if (s.code() == StatusCode::kNotSupported) {
      // Not a plain file of a local store on the disk's file system (a
      // remote store, relay stages, the sparse form): served over NBD while
      // it downloads (ServeUnlinked).
      fetch.push_back(static_cast<int>(i));
      fetch_bytes += lineage[i].layer_bytes;
      s = layer_server_
              ? Status::OK()
              : Status::NotSupported("snapshot " + lineage[i].id +
                                     " is not a linkable local layer, and this "
                                     "engine serves no layers (no layer socket "
                                     "directory)");
    }
  }
  st["fetch"] = fetch;
  st["fetch_bytes"] = fetch_bytes;
  if (!s.ok()) {
    for (const auto& m : mirrors) RemoveQuietly(m);
    LogIfError(j.Fail(s), "journal of an instant rollback");
    return s;
  }
  STRATA_RETURN_IF_ERROR(MarkReverting(vol, snap));
  {
    std::lock_guard<std::mutex> l(mu_);
    active_[j.task_id()] = Entry{lease, true, false};
    held_volumes_.insert(vol.id);
  }
  LogInfo("instant rollback " + j.task_id() + " of server " + dom.uuid +
          " to snapshot " + snap.id + " (" + std::to_string(lineage.size()) +
          " layers linked as its mirror)");
  runner_.Submit([this, j, vol, snap] { Continue(j, vol, snap); });
  return catalog_->GetTask(j.task_id());
}

Status InstantRollbacks::FetchUnlinked(Journal& j) {
  STRATA_RETURN_IF_ERROR(j.Step("instant.fetch", 3));
  // Served while they download: the server starts at once.
  return ServeUnlinked(j);
}

Status InstantRollbacks::PowerOffAndInstall(Journal& j,
                                            const db::VolumeRecord& vol) {
  const auto& st = j.state();
  const std::string& disk = vol.path;
  STRATA_RETURN_IF_ERROR(j.Step("instant.power_off", 5));
  const int64_t t0 = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(hv_->PowerOff(Str(st, "domain")));
  LogInfo("instant rollback " + j.task_id() + ": server powered off in " +
          std::to_string((MonotonicMicros() - t0) / 1000) + " ms");
  STRATA_RETURN_IF_ERROR(j.Step("instant.install_top", 8));
  const std::string top = Str(st, "top"), before = Str(st, "before");
  if (!PathExists(before)) {
    STRATA_RETURN_IF_ERROR(LinkNoSymlinks(disk, before));
    STRATA_RETURN_IF_ERROR(FsyncDir(DirName(disk)));
  }
  // Made anew each time (a retry after a crash here finds a half-made one).
  // A CI run once saw the rename find no new top, 350 ms after it was made,
  // with nothing in the log that removes it: the step is tried once more,
  // and the directory as it was is logged for whoever reads why.
  Status s;
  for (int attempt = 0; attempt < 2; ++attempt) {
    RemoveQuietly(top);
    STRATA_RETURN_IF_ERROR(
        CreateOverlay(top, Strings(st, "mirrors").back(), "qcow2",
                      st.value("virtual_size", 0ull), opts_.overlay));
    s = RenameDurableNoSymlinks(top, disk);
    if (s.code() != StatusCode::kNotFound) return s;
    auto names = ListDirNoSymlinks(DirName(disk));
    std::string listing;
    if (names.ok())
      for (const auto& n : *names) listing += " " + n;
    LogWarning("instant rollback " + j.task_id() + ": " + s.ToString() +
               "; the directory holds:" + listing);
  }
  return s;
}

Status InstantRollbacks::StartOnMirror(Journal& j,
                                       const db::VolumeRecord& vol) {
  auto& st = j.state();
  STRATA_RETURN_IF_ERROR(j.Step("instant.start", 10));
  const std::string dom = Str(st, "domain");
  const int64_t t0 = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(hv_->DefineDiskBacking(dom, Str(st, "target"),
                                                MirrorChain(st, j.task_id()),
                                                OnMirrorPolicy(st)));
  const int64_t t1 = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(hv_->PowerOn(dom));
  if (!st.contains("running_at")) st["running_at"] = NowMicros();
  LogInfo("instant rollback " + j.task_id() + ": server " + dom +
          " runs on the mirror of " + vol.path + " (defined in " +
          std::to_string((t1 - t0) / 1000) + " ms, started in " +
          std::to_string((MonotonicMicros() - t1) / 1000) + " ms)");
  return Status::OK();
}

Status InstantRollbacks::BuildHistory(
    Journal& j, const db::VolumeRecord& vol,
    const std::vector<db::SnapshotRecord>& lineage) {
  auto& st = j.state();
  STRATA_RETURN_IF_ERROR(j.Step("instant.copy", 20));
  // The guest boots and runs on these 2 cores and this disk meanwhile: the
  // copy (the checks' hashing threads and qemu-img included) takes what it
  // leaves. Measured at 16 GiB: the guest's first write came 0.7 s later
  // than a plain restart's with the copy at nice 19 alone, 0.2 s with its
  // I/O in the idle class too (bench/rollback_bench.sh).
  ScopedBackgroundPriority background(19);
  const int64_t t0 = MonotonicMicros();
  const auto mirrors = Strings(st, "mirrors");
  const std::string history = Str(st, "history"),
                    root_history = Str(st, "root_history"),
                    merged = Str(st, "merged"), scratch = Str(st, "scratch");
  if (mirrors.size() != lineage.size())
    return Status::Corruption("the rollback's lineage changed");
  // A copy a crash interrupted is made again from the start.
  for (const auto* f : {&history, &root_history, &merged, &scratch})
    RemoveQuietly(*f);
  // The linked layers get their fast check here, in the background (a
  // fetched one was checked on the way).
  const std::set<size_t> fetched = FetchedLayers(st);
  if (st.value("streamed", false)) {
    // The served layers are whole and checked once their downloads end.
    STRATA_RETURN_IF_ERROR(AwaitServed(j.task_id()));
    // The root is used through its own header from here on (as the root
    // history): it names the volume's base, or nothing. The server reads
    // it over NBD through the explicit chain, which ignores that name, and
    // QEMU read its header when it opened it.
    if (fetched.count(0))
      STRATA_RETURN_IF_ERROR(SetBackingUnsafe(mirrors[0], Str(st, "base_file"),
                                              Str(st, "base_format")));
  }
  for (size_t i = 0; i < mirrors.size(); ++i)
    if (!fetched.count(i))
      STRATA_RETURN_IF_ERROR(
          VerifyLinkedLayer(lineage[i], mirrors[i])
              .WithContext("the mirror of snapshot " + lineage[i].id));
  const uint64_t size = st.value("virtual_size", 0ull);
  // qemu-img commit refuses others a consistent read of the layers it
  // merges (they leave the chain in a commit), and the VM reads the mirror:
  // the merge reads copies of the mirror files from `first` on (the data it
  // writes anyway, read once more), into `history` on `backing`.
  auto merge_copies = [&](size_t first, const std::string& backing,
                          const std::string& format) {
    std::vector<std::string> copies;
    Status s;
    for (size_t i = first; s.ok() && i < mirrors.size(); ++i) {
      copies.push_back(
          TempPath(vol.path, "upper" + std::to_string(i), j.task_id()));
      s = CopyFileSparse(mirrors[i], copies.back());
    }
    if (s.ok())
      s = MergeIntoNewImage(copies, merged, backing, format, size,
                            opts_.overlay, scratch, true);
    for (const auto& c : copies) RemoveQuietly(c);
    STRATA_RETURN_IF_ERROR(s);
    return RenameDurableNoSymlinks(merged, history);
  };
  const std::string base = Str(st, "base_file");
  if (!base.empty()) {
    // On a foreign base every layer is merged into one history on it.
    STRATA_RETURN_IF_ERROR(merge_copies(0, base, Str(st, "base_format")));
  } else if (mirrors.size() == 1) {
    STRATA_RETURN_IF_ERROR(LinkNoSymlinks(mirrors[0], history));
  } else {
    STRATA_RETURN_IF_ERROR(LinkNoSymlinks(mirrors[0], root_history));
    STRATA_RETURN_IF_ERROR(merge_copies(1, root_history, "qcow2"));
  }
  STRATA_RETURN_IF_ERROR(FsyncDir(DirName(vol.path)));
  st["copy_ms"] = (MonotonicMicros() - t0) / 1000;
  LogInfo("instant rollback " + j.task_id() + ": " + history +
          " built from the mirror in " +
          std::to_string((MonotonicMicros() - t0) / 1000) + " ms");
  return Status::OK();
}

Status InstantRollbacks::Switch(Journal& j, const db::VolumeRecord& vol) {
  auto& st = j.state();
  st["switch_at"] = NowMicros();
  STRATA_RETURN_IF_ERROR(j.Step("instant.switch", 70));
  const std::string history = Str(st, "history");
  STRATA_ASSIGN_OR_RETURN(auto live, live_->LiveDiskOf(vol));
  if (live && st.value("streamed", false)) {
    // After a restart QEMU reconnects to a served layer's export only when
    // a read of it fails (its NBD client has no reconnect delay here): the
    // block job's first read of the mirror may be that one, and the job
    // fails. Asked again, it finds the connection made.
    Status s;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      s = live_->RepointLiveTop(&j, vol, *live, history);
      if (s.ok() || stopping_) return s;
      LogWarning("instant rollback " + j.task_id() + ": switch attempt " +
                 std::to_string(attempt) + ": " + s.ToString());
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    return s;
  }
  if (live) return live_->RepointLiveTop(&j, vol, *live, history);
  // A stopped server: the top's header names the history instead of the
  // mirror, which holds the same data.
  return SetBackingUnsafe(vol.path, history, "qcow2");
}

Result<bool> InstantRollbacks::Switched(const nlohmann::json& state,
                                        const db::VolumeRecord& vol) {
  const std::string history = Str(state, "history");
  STRATA_ASSIGN_OR_RETURN(auto live, live_->LiveDiskOf(vol));
  if (live) {
    STRATA_ASSIGN_OR_RETURN(hypervisor::DomainInfo dom,
                            hv_->GetDomain(live->domain_uuid));
    const hypervisor::DomainDisk* d = dom.Disk(live->target);
    return d && !d->backing_chain.empty() && d->ChainPosition(history) == 1;
  }
  STRATA_ASSIGN_OR_RETURN(qcow2::Qcow2Header h,
                          qcow2::ReadQcow2Header(vol.path));
  return h.backing_file == history;
}

Status InstantRollbacks::Finish(Journal& j, const db::VolumeRecord& vol,
                                const db::SnapshotRecord& snap) {
  const auto& st = j.state();
  STRATA_RETURN_IF_ERROR(j.Step("instant.finish", 90));
  STRATA_RETURN_IF_ERROR(hv_->DefineDiskBacking(
      Str(st, "domain"), Str(st, "target"), {}, OwnPolicy(st)));
  StopServing(j.task_id());  // the server reads its own chain now
  // A read of a served layer that failed while stratad was down can pause
  // the server again after recovery resumed it (rerror=stop), and the
  // watcher of served layers, which would resume it, has stopped: the
  // retried read now goes to the server's own chain.
  STRATA_RETURN_IF_ERROR(ResumeIfPausedOnError(Str(st, "domain")));
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifyVolume(vol.id, [&](db::VolumeRecord& v) {
        v.head_snapshot_id = snap.id;
        return Status::OK();
      }));
  // The mirror, the old top and the old chain are in no chain now.
  STRATA_RETURN_IF_ERROR(chain_->CollectGarbage(vol));
  return deleter_->DropUnneededLayers(vol.id);
}

Status InstantRollbacks::RunAbort(Journal& j, const db::VolumeRecord& vol) {
  const auto& st = j.state();
  STRATA_RETURN_IF_ERROR(j.Step("instant.abort", 100));
  const std::string dom = Str(st, "domain"), before = Str(st, "before");
  STRATA_RETURN_IF_ERROR(hv_->PowerOff(dom));
  StopServing(j.task_id());
  if (TopInstalled(st, vol.path))
    STRATA_RETURN_IF_ERROR(RenameDurableNoSymlinks(before, vol.path));
  STRATA_RETURN_IF_ERROR(
      hv_->DefineDiskBacking(dom, Str(st, "target"), {}, OwnPolicy(st)));
  if (st.value("was_running", false)) STRATA_RETURN_IF_ERROR(hv_->PowerOn(dom));
  return chain_->CollectGarbage(vol);
}

void InstantRollbacks::End(Journal& j, const db::VolumeRecord& vol,
                           const db::SnapshotRecord& snap, const Status& s) {
  if (s.ok()) {
    LogIfError(j.Succeed(), "journal of instant rollback " + j.task_id());
    LogInfo("instant rollback " + j.task_id() + " of " + vol.path + " done");
  } else {
    LogError("instant rollback " + j.task_id() + ": " + s.ToString());
    LogIfError(j.Fail(s), "journal of instant rollback " + j.task_id());
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    active_.erase(j.task_id());  // releases the lease
    held_volumes_.erase(vol.id);
  }
  StopServing(j.task_id());
  SettleSnapshotStatus(snap.id, "available", 100);
  SettleVolumeStatus(vol.id, vol.domain_uuid ? "in-use" : "available");
}

void InstantRollbacks::Continue(Journal j, db::VolumeRecord vol,
                                db::SnapshotRecord snap) {
  bool waiting = false;
  auto abort_requested = [&] {
    std::lock_guard<std::mutex> l(mu_);
    return active_[j.task_id()].abort_requested;
  };
  Status s = CatchAll("engine.instant_rollback", [&]() -> Status {
    const Step at = Ordinal(j.step());
    if (at == kAbort) {
      STRATA_RETURN_IF_ERROR(RunAbort(j, vol));
      return Status::Conflict(
          "aborted by the user: the server is back on "
          "its disk as it was before the rollback");
    }
    Status s;
    if (at <= kFetch) s = FetchUnlinked(j);
    if (s.ok() && at <= kInstallTop) s = PowerOffAndInstall(j, vol);
    if (s.ok() && at <= kStart) s = StartOnMirror(j, vol);
    if (s.ok() && at <= kCopy && !abort_requested()) {
      auto lineage = StoredLineage(catalog_, snap);
      s = lineage.ok() ? BuildHistory(j, vol, *lineage) : lineage.status();
    }
    // stratad stops: the rollback is left as it is, for the next start's
    // recovery, not undone.
    if (!s.ok() && stopping_) return s;
    if (!s.ok() && !TopInstalled(j.state(), vol.path)) {
      // Nothing changed but the server's power, which is given back.
      if (j.state().value("was_running", false))
        LogIfError(hv_->PowerOn(Str(j.state(), "domain")),
                   "starting the server again");
      return s;
    }
    if (!s.ok() || abort_requested()) {
      // Back to the disk as it was: at the user's word, or when the server
      // cannot run on the mirror or the mirror is not the snapshot's data.
      Status back = RunAbort(j, vol);
      if (!back.ok()) return back.WithContext(s.ToString());
      return s.ok() ? Status::Conflict(
                          "aborted by the user: the server is "
                          "back on its disk as it was before "
                          "the rollback")
                    : s.WithContext(
                          "the server is back on its disk as it "
                          "was before the rollback");
    }
    if (at <= kReady && j.step() != "instant.ready")
      STRATA_RETURN_IF_ERROR(j.Step("instant.ready", 60));
    if (at <= kReady && !j.state().value("auto", false)) {
      waiting = true;
      return Status::OK();
    }
    if (at <= kSwitch) {
      Status sw = Switch(j, vol);
      if (!sw.ok()) {
        // The server runs on the mirror still (a failed copy job leaves it
        // there): the rollback waits again, its error shown, for another
        // confirmation or an abort.
        LogError("instant rollback " + j.task_id() +
                 ": switch failed: " + sw.ToString());
        j.state()["last_error"] = sw.ToString();
        STRATA_RETURN_IF_ERROR(j.Step("instant.ready", 60));
        waiting = true;
        return Status::OK();
      }
    }
    return Finish(j, vol, snap);
  });
  if (waiting && s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    active_[j.task_id()].busy = false;
    LogInfo("instant rollback " + j.task_id() +
            ": ready; waiting for its confirmation");
    return;
  }
  if (!s.ok() && stopping_) {
    LogWarning("instant rollback " + j.task_id() + " left at step " + j.step() +
               " for the next start (stratad stops): " + s.ToString());
    return;
  }
  End(j, vol, snap, s);
}

void InstantRollbacks::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    watch_cv_.notify_all();
  }
  if (watcher_.joinable()) watcher_.join();
  std::vector<std::shared_ptr<StreamedLayer>> streams;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [task, served] : served_)
      for (const auto& one : served)
        if (one.stream) streams.push_back(one.stream);
  }
  // A copy waiting for a download ends (and the task stays as it is); the
  // servers' reads of the layers fail from here on, which pauses them
  // (OnMirrorPolicy) until the next start serves the layers again.
  for (const auto& stream : streams) stream->Stop();
  if (layer_server_) layer_server_->Stop();
}

Result<std::shared_ptr<VolumeLease>> InstantRollbacks::TakeForStep(
    const std::string& id, bool abort) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = active_.find(id);
  STRATA_ASSIGN_OR_RETURN(db::TaskRecord t, catalog_->GetTask(id));
  if (t.kind != kKind)
    return Status::NotFound("Instant rollback " + id + " could not be found.");
  if (it == active_.end() || t.status != "running")
    return Status::Conflict("Instant rollback " + id + " has ended (" +
                            InstantRollbackPhase(t) + ").");
  const Step at = Ordinal(t.step);
  if (abort) {
    if (at >= kSwitch)
      return Status::Conflict(
          "Instant rollback " + id + " is past its switch (" +
          InstantRollbackPhase(t) + "): it can no longer be aborted.");
    if (it->second.busy) {
      // The worker checks the request between steps.
      it->second.abort_requested = true;
      return std::shared_ptr<VolumeLease>();
    }
  } else if (it->second.busy || at != kReady) {
    return Status::Conflict("Instant rollback " + id + " is " +
                            InstantRollbackPhase(t) +
                            ": it can be confirmed once it is ready.");
  }
  it->second.busy = true;
  it->second.abort_requested = abort;
  return it->second.lease;
}

Status InstantRollbacks::Confirm(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(auto lease, TakeForStep(id, false));
  return ContinueOnWorker(id, /*confirm=*/true);
}

Status InstantRollbacks::Abort(const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(auto lease, TakeForStep(id, true));
  if (!lease) return Status::OK();  // the running worker aborts
  return ContinueOnWorker(id, /*confirm=*/false);
}

Status InstantRollbacks::ContinueOnWorker(const std::string& id, bool confirm) {
  STRATA_ASSIGN_OR_RETURN(db::TaskRecord t, catalog_->GetTask(id));
  Journal j = Journal::Resume(catalog_, t);
  // The user's word: go on through the switch.
  if (confirm) j.state()["auto"] = true;
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog_->GetVolume(t.volume_id));
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord snap,
                          catalog_->GetSnapshot(t.snapshot_id.value_or("")));
  runner_.Submit([this, j, vol, snap] { Continue(j, vol, snap); });
  return Status::OK();
}

bool InstantRollbacks::Holds(const std::string& volume_id) {
  std::lock_guard<std::mutex> l(mu_);
  return held_volumes_.count(volume_id) > 0;
}

Status InstantRollbacks::RecoverTask(const db::TaskRecord& task) {
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          catalog_->GetVolume(task.volume_id));
  Journal j = Journal::Resume(catalog_, task);
  const auto& st = j.state();
  const std::string dom = Str(st, "domain");
  const Step at = Ordinal(task.step);
  const std::string why = "interrupted by a restart at step " + task.step;
  auto settle = [&](const std::string& status, const std::string& error) {
    STRATA_RETURN_IF_ERROR(
        catalog_->ModifyVolume(vol.id, [&](db::VolumeRecord& v) {
          v.status = v.domain_uuid ? "in-use" : "available";
          return Status::OK();
        }));
    STRATA_RETURN_IF_ERROR(catalog_->SetSnapshotStatus(
        task.snapshot_id.value_or(""), "available", 100));
    return catalog_->FinishTask(task.id, status, error);
  };
  if (!hv_) return settle("failed", why + "; no hypervisor to settle it");
  // Before the new top took the disk's path nothing changed but the
  // server's power: it is put back as it was.
  if (at < kInstallTop || (at == kInstallTop && !TopInstalled(st, vol.path))) {
    LogWarning("recovery: instant rollback " + task.id +
               " had not started the server on its mirror; undoing it");
    if (st.value("was_running", false))
      LogIfError(hv_->PowerOn(dom), "recovery: starting server " + dom);
    return settle("failed", why + "; nothing was changed");
  }
  if (at == kAbort) {
    STRATA_RETURN_IF_ERROR(RunAbort(j, vol));
    return settle("failed", "aborted by the user (finished after a restart)");
  }
  if (at == kSwitch) {
    // A VM left on the repoint's temporary overlay gets back onto the
    // disk's path first (on the history, its backing).
    STRATA_RETURN_IF_ERROR(live_->ReconcileLiveDisk(vol));
    STRATA_ASSIGN_OR_RETURN(bool switched, Switched(st, vol));
    if (switched) {
      STRATA_ASSIGN_OR_RETURN(
          db::SnapshotRecord snap,
          catalog_->GetSnapshot(task.snapshot_id.value_or("")));
      STRATA_RETURN_IF_ERROR(Finish(j, vol, snap));
      return settle("succeeded", "");
    }
  }
  if (at == kFinish) {
    STRATA_ASSIGN_OR_RETURN(
        db::SnapshotRecord snap,
        catalog_->GetSnapshot(task.snapshot_id.value_or("")));
    STRATA_RETURN_IF_ERROR(Finish(j, vol, snap));
    return settle("succeeded", "");
  }
  // The server runs (or is to run) on the mirror: the rollback carries on,
  // its served layers served again first (from their files once whole).
  const bool served = st.value("streamed", false);
  if (served) STRATA_RETURN_IF_ERROR(ServeUnlinked(j));
  if (at <= kStart) {
    STRATA_RETURN_IF_ERROR(hv_->DefineDiskBacking(dom, Str(st, "target"),
                                                  MirrorChain(st, j.task_id()),
                                                  OnMirrorPolicy(st)));
    STRATA_RETURN_IF_ERROR(hv_->PowerOn(dom));
  } else if (served) {
    // A read that failed while the layers were not served paused it
    // (OnMirrorPolicy): QEMU retries it on resume, over a new connection.
    STRATA_RETURN_IF_ERROR(ResumeIfPausedOnError(dom));
  }
  LogWarning("recovery: instant rollback " + task.id +
             " carries on from step " + task.step);
  std::lock_guard<std::mutex> l(mu_);
  resumable_.push_back(task);
  held_volumes_.insert(vol.id);
  return Status::OK();
}

void InstantRollbacks::ResumeInterrupted() {
  std::vector<db::TaskRecord> tasks;
  {
    std::lock_guard<std::mutex> l(mu_);
    tasks = std::exchange(resumable_, {});
  }
  for (const auto& t : tasks) {
    Status s = [&]() -> Status {
      STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                              catalog_->GetVolume(t.volume_id));
      STRATA_ASSIGN_OR_RETURN(
          db::SnapshotRecord snap,
          catalog_->GetSnapshot(t.snapshot_id.value_or("")));
      STRATA_ASSIGN_OR_RETURN(auto lease,
                              locks_.TryAcquire(vol.id, "an instant rollback"));
      Journal j = Journal::Resume(catalog_, t);
      // A rollback that had begun its switch finishes it.
      if (Ordinal(t.step) == kSwitch) j.state()["auto"] = true;
      const bool waits =
          Ordinal(t.step) == kReady && !j.state().value("auto", false);
      {
        std::lock_guard<std::mutex> l(mu_);
        active_[t.id] = Entry{lease, !waits, false};
      }
      if (!waits)
        runner_.Submit([this, j, vol, snap] { Continue(j, vol, snap); });
      return Status::OK();
    }();
    if (!s.ok()) {
      LogError("resuming instant rollback " + t.id + ": " + s.ToString());
      LogIfError(catalog_->FinishTask(t.id, "failed", s.ToString()),
                 "ending instant rollback " + t.id);
      std::lock_guard<std::mutex> l(mu_);
      held_volumes_.erase(t.volume_id);
    }
  }
}

}  // namespace strata::engine
