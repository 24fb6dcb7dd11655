// A running domain's memory into a fixed-size region: see memory_snapshot.h.
#include "engine/memory_snapshot.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "memsnap/libvirt_save_header.h"
#include "memsnap/restore_splice.h"
#include "util/byte_stream.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/uuid.h"

namespace strata::engine {
namespace {

// The FIFO a restore writes into (RestoreMemorySnapshot).
constexpr int kRestorePipeBytes = 1 << 20;

// Our end of the socket pair as a ByteSource.
class PipeSource : public ByteSource {
 public:
  explicit PipeSource(int fd) : fd_(fd) {}
  Result<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      ssize_t got = read(fd_, buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR)
        return Status::FromErrno("read the migration stream", errno);
    }
  }

 private:
  int fd_;
};

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - t0)
      .count();
}

}  // namespace

Result<MemorySnapshotResult> TakeMemorySnapshot(
    hypervisor::Hypervisor* hv, const std::string& domain_uuid, int region_fd,
    const std::string& region_name, bool fresh,
    const hypervisor::MigrationTuning& tuning,
    const std::function<Status()>& at_pause) {
  const auto t0 = std::chrono::steady_clock::now();
  STRATA_ASSIGN_OR_RETURN(std::string xml, hv->GetSaveXml(domain_uuid));
  const std::string libvirt_header =
      memsnap::LibvirtSaveHeader(xml, /*was_running=*/true);
  // A socket pair rather than a pipe: if QEMU took our end but never
  // started (getfd done, migrate refused), it keeps that end open, and
  // only a shutdown of ours wakes the reader.
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return Status::FromErrno("socket pair for the migration stream", errno);
  UniqueFd rd(fds[0]), wr(fds[1]);
  const int buf = 1 << 20;  // fewer wake-ups; best effort
  setsockopt(rd.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));

  // The parse, on a thread of its own: QEMU writes as fast as the region
  // takes the pages.
  memsnap::RegionWriter writer(region_fd, region_name, fresh,
                               memsnap::kDefaultMetadataBound, libvirt_header);
  Result<memsnap::StreamStats> parsed = Status::Internal("not parsed");
  std::thread reader([&] {
    try {
      PipeSource src(rd.get());
      parsed = memsnap::ParseMigrationStream(src, writer);
      if (!parsed.ok()) {
        // Drain what QEMU still sends, so that it fails on its own
        // instead of blocking on a full pipe.
        char sink[1 << 16];
        while (read(rd.get(), sink, sizeof(sink)) > 0) {
        }
      }
    } catch (const std::exception& e) {
      parsed = Status::Internal(std::string("the stream's parse threw: ") +
                                e.what());
    }
  });

  Status started = hv->StartMigrationToFd(domain_uuid, wr.get(), tuning);
  wr.reset();  // QEMU holds its own copy: EOF comes when it closes it
  if (!started.ok()) shutdown(rd.get(), SHUT_RDWR);
  MemorySnapshotResult out;
  Status s = started;
  using Clock = std::chrono::steady_clock;
  Clock::time_point done_at{}, paused_at{};
  if (s.ok()) {
    for (;;) {
      auto p = hv->QueryMigration(domain_uuid);
      if (!p.ok()) {
        s = p.status();
        break;
      }
      out.qemu = *p;
      if (p->status == "completed") {
        done_at = Clock::now();
        break;
      }
      if (p->status == "failed" || p->status == "cancelled") {
        s = Status::IoError("QEMU's migration to the region " + p->status +
                            (p->error.empty() ? "" : ": " + p->error));
        break;
      }
      // R3.8: still iterating after max_passes syncs of the dirty bitmap,
      // the guest dirties faster than the stream drains; pause it, and
      // QEMU's next pass finds nothing new and sends the rest.
      if (!out.forced_pause && p->status == "active" &&
          p->dirty_syncs > tuning.max_passes) {
        Status paused = hv->Pause(domain_uuid);
        if (!paused.ok()) {
          s = paused;
          break;
        }
        paused_at = Clock::now();
        out.forced_pause = true;
        out.remaining_at_pause = p->remaining;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // A migration that did not complete is stopped before the VM is
  // resumed, so that QEMU does not stop the VM again at its end.
  if (started.ok() && done_at == Clock::time_point{}) {
    Status cancelled = hv->CancelMigration(domain_uuid);
    if (!cancelled.ok())
      LogError("memory snapshot of " + domain_uuid +
               ": cancelling QEMU's migration failed: " + cancelled.ToString());
  }
  // QEMU says "completed" before its migration thread has wound up: until
  // it leaves "finish-migrate" it refuses `cont`, and its block nodes are
  // still being handed over. Seen here with a 512 MiB guest.
  if (done_at != Clock::time_point{}) {
    for (int i = 0; i < 2000; ++i) {
      auto state = hv->QueryRunState(domain_uuid);
      if (!state.ok() || *state != "finish-migrate") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  // What belongs to the memory's instant, while the vCPUs stand still.
  if (s.ok() && at_pause) {
    const auto t_hook = Clock::now();
    s = at_pause();
    out.at_pause_ms = MsSince(t_hook);
  }
  // The VM runs again first, whatever happened (QEMU leaves it paused
  // after a completed migration; a failed one may have stopped it too).
  if (started.ok()) {
    // A VM must not be left paused: a refused resume is tried again for a
    // while (QEMU may still be winding a migration up).
    Status resumed = hv->Resume(domain_uuid);
    for (int i = 0; !resumed.ok() && i < 100; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      resumed = hv->Resume(domain_uuid);
    }
    if (done_at != Clock::time_point{}) {
      out.resume_ms = MsSince(done_at);
      // From Strata's pause, or QEMU's own stop (its downtime figure ends
      // at its completion, before the poll that saw it).
      out.vm_paused_ms =
          out.forced_pause
              ? MsSince(paused_at)
              : static_cast<double>(out.qemu.downtime_ms) + out.resume_ms;
    }
    if (!resumed.ok()) {
      LogError("memory snapshot of " + domain_uuid +
               ": resuming the VM failed: " + resumed.ToString());
      if (s.ok()) s = resumed;
    }
  }
  reader.join();
  if (!s.ok()) return s;
  STRATA_RETURN_IF_ERROR(parsed.status());
  STRATA_RETURN_IF_ERROR(writer.Finish());
  out.stream = *parsed;
  out.layout = writer.layout();
  out.total_ms = MsSince(t0);
  return out;
}

Status RestoreMemorySnapshot(hypervisor::Hypervisor* hv,
                             const std::string& region,
                             const std::string& fifo_dir) {
  UniqueFd fd(open(region.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Status::FromErrno("open " + region, errno);
  STRATA_ASSIGN_OR_RETURN(memsnap::RegionReader reader,
                          memsnap::RegionReader::Open(fd.get(), region));
  const std::string fifo =
      JoinPath(fifo_dir, "restore-" + NewUuid().substr(0, 8) + ".fifo");
  if (mkfifo(fifo.c_str(), 0600) != 0)
    return Status::FromErrno("mkfifo " + fifo, errno);
  // The writer opens the FIFO without blocking, waiting for libvirt to
  // open its end, so that a restore that fails before it reads lets the
  // writer go: `stop` is set once the restore call returned.
  std::atomic<bool> stop{false};
  Status written = Status::OK();
  std::thread writer([&] {
    written = CatchAll("engine.memory_restore_writer", [&]() -> Status {
      UniqueFd out;
      for (;;) {
        out = UniqueFd(open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        if (out.valid()) break;
        if (errno != ENXIO) return Status::FromErrno("open " + fifo, errno);
        if (stop) return Status::IoError("libvirt never read " + fifo);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      // QEMU reads the FIFO without blocking and goes back to its main loop
      // each time it is empty: a pipe of 1 MiB (Linux's default bound for
      // unprivileged pipes) instead of 64 KiB wakes it 16 times less often
      // (300 MB through a pipe in 32 KiB reads here: 0.25 s at 64 KiB,
      // 0.10-0.18 s at 256 KiB-1 MiB). Best effort: a smaller pipe works.
      (void)fcntl(out.get(), F_SETPIPE_SZ, kRestorePipeBytes);
      const int flags = fcntl(out.get(), F_GETFL);
      if (flags < 0 || fcntl(out.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
        return Status::FromErrno("block " + fifo, errno);
      return memsnap::SpliceRestoreImage(reader, out.get());
    });
  });
  Status restored = hv->RestoreFromImage(fifo);
  stop = true;
  writer.join();
  LogIfError(RemoveFileNoSymlinks(fifo), "removing " + fifo);
  STRATA_RETURN_IF_ERROR(restored);
  return written;
}

}  // namespace strata::engine
