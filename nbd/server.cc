// NBD listeners and client threads. See server.h.
//
// A listener's accept loop polls its socket and an eventfd; closing a
// listener signals the eventfd, and the loop ends. A client's thread runs
// NbdConnection::Serve; to end it early the connection's socket is shut
// down. Ended clients are reaped (joined) whenever a new one arrives and at
// Stop().
#include "nbd/server.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nbd/connection.h"
#include "nbd/socket_io.h"
#include "util/fs.h"
#include "util/guarded.h"
#include "util/log.h"

namespace strata::nbd {

// Shared by its accept thread's clients (their connection resolves names
// through it), so it lives as long as the last of them.
struct NbdServer::Listener : public ExportResolver,
                             public std::enable_shared_from_this<Listener> {
  NbdServer* server = nullptr;
  std::string only_export;  // a per-export socket's export; "" for TCP
  std::string where;        // for logs
  UniqueFd fd;
  UniqueFd wake;  // eventfd: written to stop the accept loop
  std::thread thread;

  std::shared_ptr<BlockBackend> Find(const std::string& name) override {
    std::string want = name.empty() ? only_export : name;
    if (!only_export.empty() && want != only_export) return nullptr;
    std::lock_guard<std::mutex> lock(server->mu_);
    auto it = server->exports_.find(want);
    return it == server->exports_.end() ? nullptr : it->second;
  }
  std::vector<std::string> List() override {
    if (!only_export.empty()) return {only_export};
    return server->ExportNames();
  }
  void Opened(const std::string& name) override {
    server->CountClient(name, +1);
  }
  void Closed(const std::string& name) override {
    server->CountClient(name, -1);
  }
  void Close() {
    uint64_t one = 1;
    (void)!::write(wake.get(), &one, sizeof one);
    if (thread.joinable()) thread.join();
  }
};

struct NbdServer::Client {
  std::shared_ptr<Listener> listener;  // resolves the connection's names
  std::unique_ptr<NbdConnection> conn;
  std::thread thread;
  std::atomic<bool> done{false};
};

NbdServer::NbdServer(std::string socket_dir, std::string socket_group)
    : socket_dir_(std::move(socket_dir)),
      socket_group_(std::move(socket_group)) {}

NbdServer::~NbdServer() { Stop(); }

std::string NbdServer::SocketPath(const std::string& name) const {
  return JoinPath(socket_dir_, name + ".sock");
}

std::vector<std::string> NbdServer::ExportNames() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, b] : exports_) out.push_back(name);
  return out;
}

Status NbdServer::AddExport(const std::string& name,
                            std::shared_ptr<BlockBackend> backend) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                             "wxyz0123456789._-") != std::string::npos ||
      name[0] == '.')
    return Status::InvalidArgument("export name '" + name +
                                   "': use [A-Za-z0-9._-], at most 64");
  STRATA_RETURN_IF_ERROR(MakeDirs(socket_dir_, 0755));
  const std::string path = SocketPath(name);
  STRATA_ASSIGN_OR_RETURN(sockaddr_un addr, UnixSocketAddress(path));

  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return Status::Unavailable("the NBD server is stopped");
  if (exports_.count(name))
    return Status::AlreadyExists("export '" + name + "' exists");
  auto l = std::make_shared<Listener>();
  l->server = this;
  l->only_export = name;
  l->where = path;
  l->fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!l->fd.valid()) return Status::FromErrno("socket", errno);
  ::unlink(path.c_str());  // a stale socket of an earlier run
  if (::bind(l->fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
          0 ||
      ::listen(l->fd.get(), 16) != 0)
    return Status::FromErrno("listen on " + path, errno);
  // Who may connect: root, and the hypervisor's group when configured.
  gid_t gid = static_cast<gid_t>(-1);
  if (!socket_group_.empty()) {
    group* g = ::getgrnam(socket_group_.c_str());
    if (!g)
      return Status::InvalidArgument("[nbd] socket_group: no group '" +
                                     socket_group_ + "'");
    gid = g->gr_gid;
  }
  if (::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0 ||
      ::chmod(path.c_str(), 0660) != 0)
    return Status::FromErrno("permissions of " + path, errno);
  l->wake.reset(::eventfd(0, EFD_CLOEXEC));
  if (!l->wake.valid()) return Status::FromErrno("eventfd", errno);
  exports_[name] = std::move(backend);
  Listener* raw = l.get();
  l->thread = std::thread(
      [this, raw] { RunLogged("nbd.accept", [&] { AcceptLoop(raw); }); });
  listeners_.push_back(std::move(l));
  LogInfo("nbd: export '" + name + "' (" + exports_[name]->Describe() +
          ") on " + path);
  return Status::OK();
}

Status NbdServer::RemoveExport(const std::string& name) {
  std::shared_ptr<Listener> listener;
  std::vector<std::shared_ptr<Client>> clients;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!exports_.erase(name))
      return Status::NotFound("export '" + name + "' does not exist");
    for (auto it = listeners_.begin(); it != listeners_.end(); ++it)
      if ((*it)->only_export == name) {
        listener = *it;
        listeners_.erase(it);
        break;
      }
    // Its own socket's clients. A TCP client that opened it by name keeps
    // its backend until it disconnects.
    for (auto it = clients_.begin(); it != clients_.end();) {
      if (listener && (*it)->listener == listener) {
        clients.push_back(*it);
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (listener) {
    listener->Close();
    ::unlink(listener->where.c_str());
  }
  for (auto& c : clients) c->conn->Shutdown();
  for (auto& c : clients)
    if (c->thread.joinable()) c->thread.join();
  LogInfo("nbd: export '" + name + "' removed");
  return Status::OK();
}

namespace {

bool IsLoopback(const sockaddr* a) {
  if (a->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(a);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a);
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

}  // namespace

void NbdServer::SetMaxClients(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  max_clients_ = n;
}

Status NbdServer::ListenTcp(const std::string& host, int port) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  const std::string port_s = std::to_string(port);
  if (int r = ::getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res); r)
    return Status::InvalidArgument("NBD address " + host + ": " +
                                   gai_strerror(r));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> ai(res, freeaddrinfo);
  if (!IsLoopback(res->ai_addr))
    return Status::InvalidArgument(
        "NBD over TCP is served on loopback only (it has no authentication "
        "or TLS): " +
        host +
        " is not a loopback address; VMs use the exports' unix "
        "sockets");
  auto l = std::make_shared<Listener>();
  l->server = this;
  l->where = host + ":" + port_s;
  l->fd.reset(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!l->fd.valid()) return Status::FromErrno("socket", errno);
  int one = 1;
  ::setsockopt(l->fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(l->fd.get(), res->ai_addr, res->ai_addrlen) != 0 ||
      ::listen(l->fd.get(), 16) != 0)
    return Status::Unavailable(
        "cannot listen for NBD on " + l->where + ": " + std::strerror(errno),
        false);
  l->wake.reset(::eventfd(0, EFD_CLOEXEC));
  if (!l->wake.valid()) return Status::FromErrno("eventfd", errno);
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return Status::Unavailable("the NBD server is stopped");
  Listener* raw = l.get();
  l->thread = std::thread(
      [this, raw] { RunLogged("nbd.accept", [&] { AcceptLoop(raw); }); });
  listeners_.push_back(std::move(l));
  LogInfo("nbd: listening on " + raw->where);
  return Status::OK();
}

void NbdServer::AcceptLoop(Listener* l) {
  for (;;) {
    pollfd p[2] = {{l->fd.get(), POLLIN, 0}, {l->wake.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError("nbd: poll on " + l->where + ": " + std::strerror(errno));
      return;
    }
    if (p[1].revents) return;  // closed
    if (!(p[0].revents & POLLIN)) continue;
    UniqueFd c(::accept4(l->fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c.valid()) {
      if (errno != EINTR && errno != ECONNABORTED)
        LogWarning("nbd: accept on " + l->where + ": " + std::strerror(errno));
      continue;
    }
    if (l->only_export.empty()) {  // TCP: small requests, no Nagle delay
      int one = 1;
      ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    auto client = std::make_shared<Client>();
    client->listener = l->shared_from_this();
    client->conn = std::make_unique<NbdConnection>(std::move(c), l,
                                                   "client of " + l->where);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    ReapClients();
    if (clients_.size() >= max_clients_) {
      // Dropped with `client`: its socket closes before any negotiation.
      LogWarning("nbd: " + std::to_string(clients_.size()) +
                 " clients already; hanging up on a new one on " + l->where);
      continue;
    }
    Client* raw = client.get();
    client->thread = std::thread([raw] {
      RunLogged("nbd.client", [&] { raw->conn->Serve(); });
      raw->conn->Shutdown();  // however Serve ended, the client is told
      raw->done = true;
    });
    clients_.push_back(std::move(client));
  }
}

void NbdServer::OnClientsChanged(ClientsChanged f) {
  std::lock_guard<std::mutex> lock(notify_mu_);
  on_clients_changed_ = std::move(f);
}

void NbdServer::CountClient(const std::string& name, int delta) {
  // notify_mu_ spans the count and the call, so that calls arrive in the
  // order of the counts (an open and a close racing never leave the
  // listener with a stale count).
  std::lock_guard<std::mutex> notify(notify_mu_);
  int n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = clients_of_[name] += delta;
  }
  if (on_clients_changed_) on_clients_changed_(name, n);
}

void NbdServer::ReapClients() {
  for (auto it = clients_.begin(); it != clients_.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
}

void NbdServer::Stop() {
  std::vector<std::shared_ptr<Listener>> listeners;
  std::vector<std::shared_ptr<Client>> clients;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    listeners.swap(listeners_);
  }
  // Listeners first (no new clients), then the clients they left.
  for (auto& l : listeners) {
    l->Close();
    if (!l->only_export.empty()) ::unlink(l->where.c_str());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    clients.swap(clients_);
  }
  for (auto& c : clients) c->conn->Shutdown();
  for (auto& c : clients)
    if (c->thread.joinable()) c->thread.join();
}

}  // namespace strata::nbd
