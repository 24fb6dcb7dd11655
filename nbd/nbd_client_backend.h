// NbdClientBackend: an upstream NBD export as a `next` backend — typically
// qemu-storage-daemon or qemu-nbd serving a VM's qcow2 chain, so the chain
// work of a snapshot happens below Strata while Strata's export stays up.
// One connection (unix socket or TCP), fixed newstyle with NBD_OPT_GO,
// simple replies. Requests from concurrent callers are pipelined: each is
// sent at once (under send_mu_) and a reader thread hands every reply to
// the caller waiting for its cookie, so the upstream server sees the
// parallelism the export's own clients have.
//
// A connection that breaks makes every pending and later call Unavailable
// (the export above answers EIO/ESHUTDOWN); nothing is retried behind the
// caller's back.
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "nbd/block_backend.h"
#include "util/fs.h"

namespace strata::nbd {

class NbdClientBackend : public BlockBackend {
 public:
  // Connects to `socket_path` (a unix socket) and opens export `name`.
  static Result<std::unique_ptr<NbdClientBackend>> ConnectUnix(
      const std::string& socket_path, const std::string& name);
  // The same over TCP.
  static Result<std::unique_ptr<NbdClientBackend>> ConnectTcp(
      const std::string& host, int port, const std::string& name);
  ~NbdClientBackend() override;  // sends NBD_CMD_DISC, joins the reader

  std::string Describe() const override { return where_; }
  uint64_t Size() const override { return size_; }
  bool CanWrite() const override;
  bool CanFlush() const override;
  bool CanFua() const override;
  bool CanTrim() const override;
  bool CanZero() const override;
  bool CanMultiConn() const override;

  Status Pread(void* buf, uint32_t count, uint64_t offset) override;
  Status Pwrite(const void* buf, uint32_t count, uint64_t offset,
                bool fua) override;
  Status Flush() override;
  Status Trim(uint32_t count, uint64_t offset, bool fua) override;
  Status Zero(uint32_t count, uint64_t offset, bool may_trim,
              bool fua) override;

 private:
  // A request waiting for its reply.
  struct Pending {
    void* read_buf = nullptr;  // a READ's destination
    uint32_t length = 0;
    bool done = false;
    uint32_t error = 0;  // the reply's NBD error
    Status status;       // set when the connection broke
    // Its own, so a reply wakes only the caller waiting for it.
    std::condition_variable done_cv;
  };

  NbdClientBackend(UniqueFd fd, std::string where)
      : fd_(std::move(fd)), where_(std::move(where)) {}
  Status Handshake(const std::string& name);
  // Sends one request (with `payload` for a write) and waits for its simple
  // reply; a READ's data lands in `read_buf`.
  Status Request(uint16_t type, uint16_t flags, uint64_t offset,
                 uint32_t length, const void* payload, void* read_buf);
  // The reader thread: matches replies to pending requests until the
  // connection ends, then fails whatever is still pending.
  void ReadReplies();
  // Marks the connection broken and completes every pending request with
  // `why`. REQUIRES: mu_.
  void BreakLocked(const std::string& why);

  const UniqueFd fd_;  // the socket; shut down (not closed) on errors
  const std::string where_;
  uint64_t size_ = 0;
  uint16_t flags_ = 0;  // the export's transmission flags
  std::mutex send_mu_;  // one request on the wire at a time
  std::mutex mu_;
  std::map<uint64_t, Pending*> pending_;  // GUARDED_BY(mu_): by cookie
  uint64_t next_cookie_ = 1;              // GUARDED_BY(mu_)
  bool broken_ = false;                   // GUARDED_BY(mu_)
  std::string broken_why_;                // GUARDED_BY(mu_)
  std::thread reader_;                    // started after the handshake
};

}  // namespace strata::nbd
