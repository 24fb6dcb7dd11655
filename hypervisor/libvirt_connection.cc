// The shared libvirt connection with bounded waits. See libvirt_connection.h.
#include "hypervisor/libvirt_connection.h"

#include <fnmatch.h>
#include <libvirt/virterror.h>

#include <thread>

#include "hypervisor/libvirt_event_loop.h"
#include "util/guarded.h"
#include "util/log.h"

namespace strata::hypervisor {
namespace {

// libvirt prints every error to stderr by default; Strata reports them.
void SilentErrorHandler(void*, virErrorPtr) {}

ConnectHandle NewReference(virConnectPtr c) {
  virConnectRef(c);
  return ConnectHandle(c);
}

}  // namespace

Status LibvirtError(const std::string& what, virConnectPtr c) {
  virErrorPtr e = virGetLastError();
  std::string msg =
      what + ": " + (e && e->message ? e->message : "unknown libvirt error");
  // Whatever libvirt calls it, a call that failed on a connection that is
  // gone failed because of the connection: retried on a new one, it may work.
  if (c && virConnectIsAlive(c) == 0)
    return Status::Unavailable(msg + " (the connection to libvirt is lost)");
  int code = e ? e->code : 0;
  switch (code) {
    case VIR_ERR_NO_DOMAIN:
      return Status::NotFound(msg);
    case VIR_ERR_OPERATION_INVALID:
      return Status::Conflict(msg);
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_AUTH_FAILED:
      return Status::Unavailable(msg);
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_NO_SUPPORT:
      return Status::NotSupported(msg);
    default:
      return Status::IoError(msg);
  }
}

struct LibvirtConnection::Shared {
  std::mutex mu;
  std::condition_variable attempt_ended;
  ConnectHandle conn;                                   // GUARDED_BY(mu)
  bool opening = false;                                 // GUARDED_BY(mu)
  std::chrono::steady_clock::time_point opening_since;  // GUARDED_BY(mu)
  uint64_t attempts = 0;  // attempts ended              // GUARDED_BY(mu)
  Status last_failure;    // of the last attempt         // GUARDED_BY(mu)
};

bool LibvirtConnection::Owns(const char* name) const {
  return opts_.domain_name_glob.empty() ||
         (name && fnmatch(opts_.domain_name_glob.c_str(), name, 0) == 0);
}

LibvirtConnection::LibvirtConnection(LibvirtConnectionOptions opts)
    : opts_(std::move(opts)), shared_(std::make_shared<Shared>()) {
  virSetErrorFunc(nullptr, SilentErrorHandler);
  if (Status s = StartLibvirtEventLoop(); !s.ok())
    LogWarning(s.message() + ": calls to a hung libvirtd are not bounded");
}

Result<LibvirtConnection::Turn> LibvirtConnection::Take() {
  std::unique_lock<std::timed_mutex> turn(turn_, std::defer_lock);
  if (!turn.try_lock_for(opts_.turn_timeout()))
    return Status::Unavailable(
        "libvirt at " + opts_.uri + ": another call has not ended within " +
        std::to_string(opts_.turn_timeout().count()) + " s");
  STRATA_ASSIGN_OR_RETURN(ConnectHandle c, Get());
  return Turn(std::move(turn), std::move(c));
}

Result<ConnectHandle> LibvirtConnection::Get() {
  ConnectHandle lost;  // closed after the lock is released
  std::unique_lock<std::mutex> lock(shared_->mu);
  Shared& s = *shared_;
  if (s.conn && virConnectIsAlive(s.conn.get()) == 1)
    return NewReference(s.conn.get());
  if (s.conn) {
    LogWarning("libvirt connection to " + opts_.uri + " lost; reconnecting");
    lost = std::move(s.conn);
  }
  if (!s.opening) StartOpening();
  const uint64_t seen = s.attempts;
  const auto until = s.opening_since + opts_.connect_timeout;
  if (!s.attempt_ended.wait_until(lock, until,
                                  [&] { return s.attempts != seen; }))
    return Status::Unavailable(
        "libvirt at " + opts_.uri + " has not answered a connection for " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::steady_clock::now() - s.opening_since)
                           .count()) +
        " s");
  if (!s.conn) return s.last_failure;
  return NewReference(s.conn.get());
}

void LibvirtConnection::StartOpening() {
  // The thread owns what it needs: this object may be gone when a libvirtd
  // that was stopped finally answers.
  std::thread([shared = shared_, opts = opts_] {
    RunLogged("libvirt connect", [&] {
      ConnectHandle c(virConnectOpen(opts.uri.c_str()));
      Status failure;
      if (!c) {
        failure = Status::Unavailable(
            LibvirtError("cannot connect to libvirt at " + opts.uri).message());
      } else if (virConnectSetKeepAlive(
                     c.get(), static_cast<int>(opts.keepalive_interval.count()),
                     opts.keepalive_count) != 0) {
        LogWarning("no keepalive on the libvirt connection to " + opts.uri +
                   ": a hung libvirtd would block its calls");
      }
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->conn = std::move(c);
      shared->last_failure = failure;
      shared->opening = false;
      ++shared->attempts;
      shared->attempt_ended.notify_all();
    });
  }).detach();
  shared_->opening = true;
  shared_->opening_since = std::chrono::steady_clock::now();
}

}  // namespace strata::hypervisor
