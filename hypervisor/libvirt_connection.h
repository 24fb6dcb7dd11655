// LibvirtConnection: the one connection to libvirtd that LibvirtHypervisor
// shares between threads, with every wait on it bounded (issue 16, item 4).
//
// libvirt's client has no timeouts: a libvirtd that is stopped or hung
// accepts connections (the kernel queues them) and never answers, so a call
// blocks forever, and so does virConnectOpen. Two bounds cover this:
//   - calls on an open connection: libvirt's keepalive (on the event loop of
//     libvirt_event_loop.h) pings an idle connection every
//     `keepalive_interval` and closes it after `keepalive_count` pings go
//     unanswered; every call in flight then fails at once. So no call waits
//     longer than about interval × (count + 1) for a silent libvirtd.
//   - opening: virConnectOpen runs on a thread of its own; callers wait for
//     it at most `connect_timeout`, then get Unavailable. While that attempt
//     is still stuck, further callers fail at once instead of queueing
//     behind it; when libvirtd answers again the attempt completes and its
//     connection serves the next caller (or a failed attempt is retried by
//     the next caller).
// One call at a time: libvirt 9's client lets a single thread do the I/O of
// every call in flight on a connection, and when a keepalive timeout ends
// that thread's call, the calls queued behind it stay blocked forever (seen
// with libvirtd SIGSTOPped: one caller failed after the keepalive bound,
// seven never returned). So a caller takes a Turn — the connection to itself
// for a few quick calls, never across a sleep or a wait for a block job —
// and waits for one at most `turn_timeout` (the keepalive bound plus the
// connection timeout, by default), then gets Unavailable.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "util/status.h"

namespace strata::hypervisor {

struct ConnectCloser {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
// A reference on a connection (virConnectClose drops it).
using ConnectHandle = std::unique_ptr<virConnect, ConnectCloser>;

struct LibvirtConnectionOptions {
  std::string uri;  // e.g. qemu:///system
  // Only domains whose names match this glob are this stratad's ("": all).
  // For several stratads sharing one libvirtd, as a test of several hosts
  // on one machine runs them ([hypervisor] domain_name_glob).
  std::string domain_name_glob;
  // Keepalive: ping after this much silence; give up after `count` pings.
  std::chrono::seconds keepalive_interval{5};
  unsigned keepalive_count = 2;
  // How long a caller waits for a connection to open.
  std::chrono::seconds connect_timeout{10};

  // How long a caller waits for its turn on the connection.
  std::chrono::seconds turn_timeout() const {
    return keepalive_interval * (keepalive_count + 1) + connect_timeout;
  }
};

class LibvirtConnection {
 public:
  explicit LibvirtConnection(LibvirtConnectionOptions opts);

  // The connection to one caller for a few calls; the next caller's turn
  // when it goes.
  class Turn {
   public:
    virConnectPtr get() const { return conn_.get(); }
    // Ends the turn early (before a sleep).
    void Release() {
      conn_.reset();
      if (lock_.owns_lock()) lock_.unlock();
    }

   private:
    friend class LibvirtConnection;
    Turn(std::unique_lock<std::timed_mutex> lock, ConnectHandle conn)
        : lock_(std::move(lock)), conn_(std::move(conn)) {}
    std::unique_lock<std::timed_mutex> lock_;
    ConnectHandle conn_;  // released before lock_: declared after it
  };

  // Waits (≤ turn_timeout) for the turn, then the live connection, opened
  // (again) if there is none or libvirtd dropped it. Unavailable
  // (retryable) when the turn does not come, or libvirtd refuses or has not
  // answered within connect_timeout.
  Result<Turn> Take();

  const std::string& uri() const { return opts_.uri; }
  // True when the domain named `name` is this stratad's.
  bool Owns(const char* name) const;

 private:
  // A reference on the live connection (see Take). REQUIRES: turn_ held.
  Result<ConnectHandle> Get();

  struct Shared;  // what an opening thread may outlive this object with
  // Starts an opening thread. REQUIRES: shared_->mu held, none running.
  void StartOpening();

  const LibvirtConnectionOptions opts_;
  std::timed_mutex turn_;  // held by the Turn of the caller in libvirt
  std::shared_ptr<Shared> shared_;
};

// The last libvirt error of this thread as a Status, with `what` in front.
// A call that failed because the connection `c` is gone (keepalive closed
// it, libvirtd died) is Unavailable and retryable.
Status LibvirtError(const std::string& what, virConnectPtr c = nullptr);
// The same for a call on domain `d`, through its connection.
inline Status LibvirtError(const std::string& what, virDomainPtr d) {
  return LibvirtError(what, virDomainGetConnect(d));
}

}  // namespace strata::hypervisor
