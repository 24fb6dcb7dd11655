// A qcow2 chain served by Strata's own qemu-storage-daemon. See
// qcow_chain_backend.h.
#include "nbd/qcow_chain_backend.h"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "util/fs.h"
#include "util/log.h"
#include "util/subprocess.h"
#include "util/time_util.h"

namespace strata::nbd {
namespace {

constexpr const char* kExportName = "disk";
constexpr int64_t kStartTimeoutMicros = 15'000'000;

// The end of a daemon's log, for an error message.
std::string LogTail(const std::string& path) {
  auto text = ReadSmallFile(path, 1 << 20);
  return text.ok() ? OutputTail(std::move(*text)) : "";
}

}  // namespace

Result<std::unique_ptr<QcowChainBackend>> QcowChainBackend::Open(
    const std::string& disk, const std::string& runtime_dir,
    const std::string& tag) {
  if (disk.empty() || disk[0] != '/')
    return Status::InvalidArgument("backend qcow2:" + disk +
                                   ": the path must be absolute");
  if (access(disk.c_str(), R_OK | W_OK) != 0)
    return Status::FromErrno("backend qcow2:" + disk, errno);
  std::unique_ptr<QcowChainBackend> b(
      new QcowChainBackend(disk, runtime_dir, tag));
  STRATA_ASSIGN_OR_RETURN(b->daemon_, b->StartDaemon(/*read_only=*/false));
  const NbdClientBackend& c = *b->daemon_->client;
  b->size_ = c.Size();
  b->can_flush_ = c.CanFlush();
  b->can_fua_ = c.CanFua();
  b->can_trim_ = c.CanTrim();
  b->can_zero_ = c.CanZero();
  return b;
}

QcowChainBackend::~QcowChainBackend() {
  std::unique_lock lock(swap_mu_);
  if (daemon_ && daemon_->client && !daemon_->read_only) {
    Status s = daemon_->client->Flush();
    if (!s.ok()) LogWarning(Describe() + ": flush at close: " + s.ToString());
  }
  daemon_.reset();  // disconnects, then stops the daemon
}

Result<std::unique_ptr<QcowChainBackend::Daemon>> QcowChainBackend::StartDaemon(
    bool read_only) {
  const std::string kind = read_only ? "ro" : "rw";
  const std::string socket =
      JoinPath(runtime_dir_, tag_ + ".upstream-" + kind + ".sock");
  const std::string log = JoinPath(runtime_dir_, tag_ + ".qsd.log");
  unlink(socket.c_str());
  nlohmann::json file = {{"driver", "file"}, {"filename", disk_}};
  nlohmann::json qcow2 = {
      {"driver", "qcow2"}, {"node-name", "disk0"}, {"file", file}};
  if (read_only) {
    // force-share: take no image locks and ignore the engine's (the
    // writable daemon is still up while this one starts; qemu-img works
    // on the files while it serves reads).
    qcow2["read-only"] = true;
    qcow2["force-share"] = true;
    qcow2["file"]["read-only"] = true;
    qcow2["file"]["force-share"] = true;
  } else {
    qcow2["discard"] = "unmap";
  }
  nlohmann::json server = {{"addr", {{"type", "unix"}, {"path", socket}}}};
  nlohmann::json exp = {{"type", "nbd"},
                        {"id", "export0"},
                        {"node-name", "disk0"},
                        {"name", kExportName},
                        {"writable", !read_only}};
  auto d = std::make_unique<Daemon>();
  d->read_only = read_only;
  STRATA_ASSIGN_OR_RETURN(
      d->process, ChildProcess::Spawn(
                      {"qemu-storage-daemon", "--blockdev", qcow2.dump(),
                       "--nbd-server", server.dump(), "--export", exp.dump()},
                      log));
  // Ready once its socket accepts the handshake.
  const int64_t deadline = MonotonicMicros() + kStartTimeoutMicros;
  for (;;) {
    auto c = NbdClientBackend::ConnectUnix(socket, kExportName);
    if (c.ok()) {
      d->client = std::move(*c);
      break;
    }
    if (!d->process.Running())
      return Status::Unavailable("qemu-storage-daemon for " + disk_ +
                                 " exited: " + LogTail(log));
    if (MonotonicMicros() > deadline)
      return Status::Unavailable("qemu-storage-daemon for " + disk_ +
                                 " did not start: " + c.status().message());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The socket has served its purpose: the connection is up, nobody else
  // should open the chain behind Strata's back.
  unlink(socket.c_str());
  return d;
}

Status QcowChainBackend::Release() {
  std::lock_guard control(control_mu_);
  {
    std::lock_guard g(gate_mu_);
    if (released_) return Status::Conflict(Describe() + " is already released");
  }
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Daemon> reader,
                          StartDaemon(/*read_only=*/true));
  {
    std::lock_guard g(gate_mu_);
    released_ = true;  // new writes wait from here on
  }
  std::unique_ptr<Daemon> writer;
  {
    std::unique_lock swap(swap_mu_);  // waits for I/O in flight
    writer = std::move(daemon_);
    daemon_ = std::move(reader);
  }
  Status s = writer->client->Flush();
  writer.reset();  // disconnects; SIGTERM makes qemu close the images
  if (!s.ok())
    LogWarning(Describe() + ": flush before release: " + s.ToString());
  return s;
}

Status QcowChainBackend::Reacquire() {
  std::lock_guard control(control_mu_);
  {
    std::lock_guard g(gate_mu_);
    if (!released_) return Status::Conflict(Describe() + " is not released");
  }
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Daemon> writer,
                          StartDaemon(/*read_only=*/false));
  if (writer->client->Size() != size_)
    return Status::Internal(Describe() + ": the disk's size changed from " +
                            std::to_string(size_) + " to " +
                            std::to_string(writer->client->Size()));
  std::unique_ptr<Daemon> reader;
  {
    std::unique_lock swap(swap_mu_);
    reader = std::move(daemon_);
    daemon_ = std::move(writer);
  }
  {
    std::lock_guard g(gate_mu_);
    released_ = false;
  }
  gate_cv_.notify_all();
  reader.reset();
  return Status::OK();
}

bool QcowChainBackend::released() {
  std::lock_guard g(gate_mu_);
  return released_;
}

Status QcowChainBackend::Writing(
    const std::function<Status(NbdClientBackend&)>& op) {
  for (;;) {
    {
      std::unique_lock g(gate_mu_);
      gate_cv_.wait(g, [&] { return !released_; });
    }
    std::shared_lock swap(swap_mu_);
    if (!daemon_->read_only) return op(*daemon_->client);
    // Released between the gate and the lock: wait for Reacquire.
  }
}

Status QcowChainBackend::Pread(void* buf, uint32_t count, uint64_t offset) {
  std::shared_lock swap(swap_mu_);
  return daemon_->client->Pread(buf, count, offset);
}

Status QcowChainBackend::Pwrite(const void* buf, uint32_t count,
                                uint64_t offset, bool fua) {
  return Writing(
      [&](NbdClientBackend& c) { return c.Pwrite(buf, count, offset, fua); });
}

Status QcowChainBackend::Flush() {
  std::shared_lock swap(swap_mu_);
  // Released: Release flushed the writable daemon, and no write has
  // reached the chain since.
  if (daemon_->read_only) return Status::OK();
  return daemon_->client->Flush();
}

Status QcowChainBackend::Trim(uint32_t count, uint64_t offset, bool fua) {
  return Writing(
      [&](NbdClientBackend& c) { return c.Trim(count, offset, fua); });
}

Status QcowChainBackend::Zero(uint32_t count, uint64_t offset, bool may_trim,
                              bool fua) {
  return Writing([&](NbdClientBackend& c) {
    return c.Zero(count, offset, may_trim, fua);
  });
}

}  // namespace strata::nbd
