// QcowChainBackend: a disk's qcow2 chain as an export's `next` backend,
// served by a qemu-storage-daemon that Strata starts and owns (spec
// "qcow2:/path/disk.qcow2"). Unlike an upstream server someone else runs,
// Strata can make it let go of the chain's files, which is what a snapshot
// of a disk behind the redirect cache needs (issue 6, point 4):
//
//   Release()    reads go on, from a second, read-only daemon opened with
//                force-share (it takes no image locks); the writable daemon
//                is flushed and stopped. The files are now quiet: qemu-img
//                may rename the top, add an overlay, commit and rebase.
//                Writes wait until Reacquire (the redirect cache above sends
//                none while it redirects).
//   Reacquire()  a writable daemon opens the chain at the disk's path again
//                (its top may be a new overlay); reads and writes switch to
//                it and the read-only daemon stops.
//
// Why a read-only daemon that ignores locks is safe to read while the chain
// is rewritten: the chain work never changes what the disk reads as (a new
// empty top; merges copy data into lower files whose ranges the files above
// already cover, or into new files), and the daemon keeps the files it
// opened — renamed or unlinked — open by descriptor.
//
// Daemons get PR_SET_PDEATHSIG (util/child_process.h): a stratad killed with
// -9 takes them along, so no stale daemon holds the chain's locks at restart.
// Thread-safety: all methods may be called concurrently; Release and
// Reacquire are serialised against I/O by swap_mu_.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "nbd/block_backend.h"
#include "nbd/nbd_client_backend.h"
#include "util/child_process.h"

namespace strata::nbd {

class QcowChainBackend : public BlockBackend {
 public:
  // Starts a writable qemu-storage-daemon on `disk` (a qcow2 file; its
  // backing chain is opened by qemu) with its socket and log in
  // `runtime_dir`, named after `tag`, and connects to it.
  static Result<std::unique_ptr<QcowChainBackend>> Open(
      const std::string& disk, const std::string& runtime_dir,
      const std::string& tag);
  ~QcowChainBackend() override;

  const std::string& disk() const { return disk_; }
  // See the file comment. Conflict when already released / not released.
  Status Release();
  Status Reacquire();
  bool released();

  std::string Describe() const override { return "qcow2:" + disk_; }
  uint64_t Size() const override { return size_; }
  bool CanWrite() const override { return true; }
  bool CanFlush() const override { return can_flush_; }
  bool CanFua() const override { return can_fua_; }
  bool CanTrim() const override { return can_trim_; }
  bool CanZero() const override { return can_zero_; }
  bool CanMultiConn() const override { return false; }  // one upstream link

  Status Pread(void* buf, uint32_t count, uint64_t offset) override;
  Status Pwrite(const void* buf, uint32_t count, uint64_t offset,
                bool fua) override;
  Status Flush() override;
  Status Trim(uint32_t count, uint64_t offset, bool fua) override;
  Status Zero(uint32_t count, uint64_t offset, bool may_trim,
              bool fua) override;

 private:
  // One qemu-storage-daemon and Strata's connection to it.
  struct Daemon {
    ChildProcess process;
    std::unique_ptr<NbdClientBackend> client;  // disconnects before Stop
    bool read_only = false;
    ~Daemon() {
      client.reset();
      process.Stop();
    }
  };

  QcowChainBackend(std::string disk, std::string runtime_dir, std::string tag)
      : disk_(std::move(disk)),
        runtime_dir_(std::move(runtime_dir)),
        tag_(std::move(tag)) {}
  Result<std::unique_ptr<Daemon>> StartDaemon(bool read_only);
  // Runs `op` on the writable daemon, waiting while the chain is released.
  Status Writing(const std::function<Status(NbdClientBackend&)>& op);

  const std::string disk_, runtime_dir_, tag_;
  uint64_t size_ = 0;
  bool can_flush_ = false, can_fua_ = false, can_trim_ = false,
       can_zero_ = false;

  std::mutex control_mu_;  // one Release/Reacquire at a time
  // I/O holds it shared; a daemon swap holds it exclusively.
  std::shared_mutex swap_mu_;
  std::unique_ptr<Daemon> daemon_;  // GUARDED_BY(swap_mu_)
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;  // released_ cleared
  bool released_ = false;            // GUARDED_BY(gate_mu_)
};

}  // namespace strata::nbd
