// StreamedLayer: a stored layer that a server runs on while it downloads
// (R1.8, issue 19), for the layers a rollback cannot hard-link (a remote
// store, relay stages, the sparse form). It is the backend of a read-only
// NBD export of the layer's qcow2 file: the bytes come from the file the
// download writes (DownloadLayer: verified, durable), and a read of a range
// the download has not passed yet waits until it has.
//
// A store that fails mid-stream (an outage, a reset, a stall past the
// request's stall timeout) is asked again from the start after a pause, for
// as long as it takes: reads below what an earlier attempt wrote are served
// from that attempt's file meanwhile, and the rest wait. So a store outage
// holds the server's reads; it fails none of them. Only a layer that is
// not what was stored (Corruption) or is gone (NotFound) fails for good;
// every read fails from then on.
//
// The stream's digest is known only at its end, so the server reads bytes
// before they are verified. A layer that then fails its check ends the
// rollback, which puts the server back on its disk as it was
// (instant_rollback.h): what ran on bad data is not kept.
//
// The export's size is fixed before the first byte arrives: the layer's
// file cannot be larger than UpperFileSize(virtual size); past the file's
// real end it reads as zeroes (qcow2 reads only what its tables name).
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "db/records.h"
#include "nbd/block_backend.h"
#include "storage-drivers/store.h"
#include "util/fs.h"

namespace strata::engine {

// A bound on the size of a qcow2 file for a disk of `virtual_size` bytes:
// the data, L2 tables of 512-byte clusters (8 or 16 bytes per cluster: a
// 32nd), refcounts, and the header and L1 table.
uint64_t UpperFileSize(uint64_t virtual_size);

class StreamedLayer : public nbd::BlockBackend {
 public:
  struct Options {
    std::chrono::milliseconds retry_pause{1000};
    // A server that accepts and then sends nothing this long is asked again.
    std::chrono::seconds stall_timeout{30};
  };
  // Starts downloading `snap`'s layer to `path` on a thread of its own.
  static std::shared_ptr<StreamedLayer> Start(store::Store* store,
                                              db::SnapshotRecord snap,
                                              std::string path,
                                              Options options);
  // The layer already whole at `path` (downloaded before a restart),
  // served with the same size as while it downloaded: a client that
  // reconnects finds the export it had.
  static Result<std::shared_ptr<StreamedLayer>> Whole(db::SnapshotRecord snap,
                                                      std::string path);
  ~StreamedLayer() override;  // Stop()

  // Waits until the layer is whole, verified and at its path (OK), or has
  // failed for good, or Stop().
  [[nodiscard]] Status Wait();
  // Wait() for at most `d`; nullopt when it did not end by then.
  std::optional<Status> WaitFor(std::chrono::milliseconds d);
  // Ends the download; waiting reads fail (Unavailable).
  void Stop();
  // Bytes of the file final so far (its size once whole).
  uint64_t Downloaded();
  // Attempts the store was asked in (1 when none failed).
  int Attempts();

  std::string Describe() const override { return "stored layer:" + path_; }
  uint64_t Size() const override { return size_; }
  bool CanWrite() const override { return false; }
  bool CanFlush() const override { return true; }
  bool CanFua() const override { return false; }
  bool CanTrim() const override { return false; }
  bool CanZero() const override { return false; }
  bool CanMultiConn() const override { return true; }
  Status Pread(void* buf, uint32_t count, uint64_t offset) override;
  Status Pwrite(const void*, uint32_t, uint64_t, bool) override;
  Status Flush() override { return Status::OK(); }
  Status Trim(uint32_t, uint64_t, bool) override;
  Status Zero(uint32_t, uint64_t, bool, bool) override;

 private:
  StreamedLayer(store::Store* store, db::SnapshotRecord snap, std::string path,
                Options options);
  void Run();  // the download thread

  store::Store* const store_;
  const db::SnapshotRecord snap_;
  const std::string path_;
  const Options options_;
  const uint64_t size_;
  std::mutex mu_;
  std::condition_variable changed_;
  // The file reads are served from, and below which it is final: the
  // attempt that got furthest.
  std::shared_ptr<UniqueFd> served_;  // GUARDED_BY(mu_)
  uint64_t final_below_ = 0;          // GUARDED_BY(mu_)
  bool whole_ = false;                // GUARDED_BY(mu_)
  uint64_t file_size_ = 0;            // GUARDED_BY(mu_), once whole
  Status failed_;                     // GUARDED_BY(mu_)
  bool stopped_ = false;              // GUARDED_BY(mu_)
  int attempts_ = 0;                  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace strata::engine
