// NbdServer: Strata's NBD exports. Each export has a unix socket of its own
// (<socket_dir>/<name>.sock), which serves that export under its name and
// as the default (""); an optional TCP listener (loopback, say) serves every
// export by name. Each client connection runs on a thread of its own.
//
// Exports are added at start and served until Stop(), which closes every
// socket, disconnects every client and joins every thread.
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nbd/block_backend.h"

namespace strata::nbd {

class NbdServer {
 public:
  // `socket_dir` is created (0755) if missing. Export sockets are mode 0660
  // and belong to `socket_group` when it is set (the group the hypervisor's
  // qemu runs in, so it can connect), else to root's group only.
  explicit NbdServer(std::string socket_dir, std::string socket_group = "");
  ~NbdServer();  // Stop()

  // Serves `backend` as export `name` ([A-Za-z0-9._-], ≤ 64 chars) on its
  // socket; a stale socket file is replaced. AlreadyExists, InvalidArgument.
  Status AddExport(const std::string& name,
                   std::shared_ptr<BlockBackend> backend);
  // Stops serving export `name`: its socket goes, and the clients that came
  // through it are disconnected and joined (the backend must not block a
  // request forever). A TCP client that opened it keeps it until it leaves.
  // NotFound when there is no such export.
  Status RemoveExport(const std::string& name);
  // Listens on host:port for every export by name. NBD over TCP has no
  // authentication here (no STARTTLS yet), so the address must be a
  // loopback one: InvalidArgument otherwise. Unavailable when the address
  // cannot be bound.
  Status ListenTcp(const std::string& host, int port);
  // At most `n` clients at once over every listener (default 64); one more
  // is hung up on at once, before it may allocate anything.
  void SetMaxClients(size_t n);
  std::string SocketPath(const std::string& name) const;
  std::vector<std::string> ExportNames();
  // Called (from a client's thread) with an export's number of clients past
  // negotiation each time it changes, in order; set before clients come.
  using ClientsChanged =
      std::function<void(const std::string& name, int clients)>;
  void OnClientsChanged(ClientsChanged f);
  // Closes every listener and connection and joins their threads.
  void Stop();

 private:
  struct Listener;
  struct Client;
  // Accepts on `l` until it is closed.
  void AcceptLoop(Listener* l);
  // Joins the threads of clients that have ended. REQUIRES: mu_.
  void ReapClients();
  void CountClient(const std::string& name, int delta);

  const std::string socket_dir_;
  const std::string socket_group_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<BlockBackend>>
      exports_;                                       // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<Listener>> listeners_;  // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<Client>> clients_;      // GUARDED_BY(mu_)
  bool stopped_ = false;                              // GUARDED_BY(mu_)
  size_t max_clients_ = 64;                           // GUARDED_BY(mu_)
  std::map<std::string, int> clients_of_;             // GUARDED_BY(mu_)
  std::mutex notify_mu_;               // orders CountClient's calls; before mu_
  ClientsChanged on_clients_changed_;  // GUARDED_BY(notify_mu_)
};

}  // namespace strata::nbd
