// The API's front door. See connection_gate.h.
//
// Each admitted connection is a pair (client, backend) with a bounded buffer
// each way. Interest is level-triggered and recomputed after every event: a
// side is read while the buffer towards the other is under kBufferLimit and
// it has not ended, written while bytes wait for it. A side that ended
// (read 0) has its write half passed on (shutdown SHUT_WR) once the bytes
// before the end are through; the pair closes when the backend has ended
// and the client has all it sent, when the client has gone, or on any
// error.
#include "api/connection_gate.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <unordered_map>
#include <vector>

#include "api/faults.h"
#include "util/guarded.h"
#include "util/log.h"

namespace strata::api {
namespace {

constexpr size_t kBufferLimit = 256 << 10;
using Clock = std::chrono::steady_clock;

struct Pair {
  UniqueFd client, backend;
  std::string peer;
  std::string to_backend, to_client;  // bytes waiting for that side
  bool client_ended = false, backend_ended = false;
  bool backend_shut = false, client_shut = false;  // SHUT_WR passed on
  bool connecting = true;
  // Bytes the client sent, and answers the backend started (backend bytes
  // after client bytes): the client's budget is (answers + 1) requests.
  uint64_t sent = 0, answers = 0;
  bool client_spoke_last = false;
  Clock::time_point request_since;  // when client_spoke_last became true
  uint32_t client_events = 0, backend_events = 0;  // registered interest
  Clock::time_point last;
};

std::string PeerAddress(const sockaddr_storage& ss, socklen_t len) {
  char host[NI_MAXHOST] = "";
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, host,
                  sizeof host, nullptr, 0, NI_NUMERICHOST) != 0)
    return "?";
  return host;
}

// Reads what `fd` has into `into` while it holds less than kBufferLimit.
// False on an error; *ended when the peer closed its side.
bool ReadInto(int fd, std::string* into, bool* ended) {
  char buf[64 << 10];
  while (into->size() < kBufferLimit) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      into->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      *ended = true;
      return true;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
  return true;
}

// Writes what `from` holds to `fd`; false on an error.
bool WriteFrom(int fd, std::string* from) {
  while (!from->empty()) {
    const ssize_t n = send(fd, from->data(), from->size(), MSG_NOSIGNAL);
    if (n > 0) {
      from->erase(0, static_cast<size_t>(n));
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
  return true;
}

}  // namespace

Result<int> FreeLoopbackPort() {
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return Status::FromErrno("socket", errno);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return Status::FromErrno("bind a loopback port", errno);
  return static_cast<int>(ntohs(a.sin_port));
}

Result<std::unique_ptr<ConnectionGate>> ConnectionGate::Start(
    GateOptions opts) {
  const std::string where = opts.host + ":" + std::to_string(opts.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(opts.port);
  if (int e = getaddrinfo(opts.host.c_str(), port.c_str(), &hints, &res);
      e != 0)
    return Status::Unavailable(
        "cannot listen on " + where + ": " + gai_strerror(e), false);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(res, freeaddrinfo);
  UniqueFd listener(socket(res->ai_family,
                           res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                           res->ai_protocol));
  const int one = 1;
  if (!listener.valid() ||
      setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) !=
          0 ||
      bind(listener.get(), res->ai_addr, res->ai_addrlen) != 0 ||
      listen(listener.get(), SOMAXCONN) != 0)
    return Status::Unavailable(
        "cannot listen on " + where + ": " + std::strerror(errno), false);
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return Status::FromErrno("eventfd", errno);
  std::unique_ptr<ConnectionGate> g(new ConnectionGate(
      std::move(opts), std::move(listener), std::move(wake)));
  g->thread_ =
      std::thread([p = g.get()] { RunLogged("api.gate", [p] { p->Run(); }); });
  return g;
}

ConnectionGate::ConnectionGate(GateOptions opts, UniqueFd listener,
                               UniqueFd wake)
    : opts_(std::move(opts)),
      listener_(std::move(listener)),
      wake_(std::move(wake)) {}

ConnectionGate::~ConnectionGate() {
  const uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof one) < 0)
    LogWarning("api gate: cannot wake its thread");
  if (thread_.joinable()) thread_.join();
}

void ConnectionGate::Run() {
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) {
    LogError("api gate: epoll_create1: " + std::string(std::strerror(errno)));
    return;
  }
  auto add = [&](int fd, uint32_t ev) {
    epoll_event e{};
    e.events = ev;
    e.data.fd = fd;
    return epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &e) == 0;
  };
  if (!add(listener_.get(), EPOLLIN) || !add(wake_.get(), EPOLLIN)) {
    LogError("api gate: epoll_ctl: " + std::string(std::strerror(errno)));
    return;
  }
  std::unordered_map<int, std::unique_ptr<Pair>> pairs;  // by client fd
  std::unordered_map<int, Pair*> by_fd;                  // either fd
  std::map<std::string, size_t> per_client;

  // (Re)registers one side's interest; a side with none leaves the set.
  auto interest = [&](int fd, uint32_t want, uint32_t* have) {
    if (want == *have) return;
    epoll_event e{};
    e.events = want;
    e.data.fd = fd;
    const int op = *have == 0  ? EPOLL_CTL_ADD
                   : want == 0 ? EPOLL_CTL_DEL
                               : EPOLL_CTL_MOD;
    if (epoll_ctl(ep.get(), op, fd, &e) == 0) *have = want;
  };
  auto close_pair = [&](Pair* p) {
    interest(p->client.get(), 0, &p->client_events);
    interest(p->backend.get(), 0, &p->backend_events);
    by_fd.erase(p->backend.get());
    by_fd.erase(p->client.get());
    if (--per_client[p->peer] == 0) per_client.erase(p->peer);
    pairs.erase(p->client.get());  // closes both fds
  };
  // After any event: passes ends on, closes a finished pair, and sets both
  // sides' interest. False when the pair was closed.
  auto settle = [&](Pair* p) {
    if (p->client_ended && p->to_backend.empty() && !p->connecting &&
        !p->backend_shut) {
      shutdown(p->backend.get(), SHUT_WR);
      p->backend_shut = true;
    }
    if (p->backend_ended && p->to_client.empty()) {
      close_pair(p);  // the backend is done and the client has it all
      return false;
    }
    uint32_t c = 0, b = 0;
    if (!p->client_ended && p->to_backend.size() < kBufferLimit) c |= EPOLLIN;
    if (!p->to_client.empty()) c |= EPOLLOUT;
    if (p->connecting) {
      b = EPOLLOUT;
    } else {
      if (!p->backend_ended && p->to_client.size() < kBufferLimit) b |= EPOLLIN;
      if (!p->to_backend.empty()) b |= EPOLLOUT;
    }
    if (c == 0 && b == 0) {  // nothing can move any more
      close_pair(p);
      return false;
    }
    interest(p->client.get(), c, &p->client_events);
    interest(p->backend.get(), b, &p->backend_events);
    return true;
  };
  const std::string busy_body =
      FaultBody(503, "Too many connections; retry.").dump();
  const std::string busy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(busy_body.size()) + "\r\n\r\n" + busy_body;
  auto accept_all = [&] {
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      UniqueFd c(accept4(listener_.get(), reinterpret_cast<sockaddr*>(&ss),
                         &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!c.valid()) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          LogWarning("api gate: accept: " + std::string(std::strerror(errno)));
        return;  // EMFILE too: the next event retries
      }
      const std::string peer = PeerAddress(ss, len);
      auto it = per_client.find(peer);
      const size_t mine = it == per_client.end() ? 0 : it->second;
      if (pairs.size() >= opts_.max_connections ||
          mine >= opts_.max_per_client) {
        if (opts_.plain_http)
          (void)!send(c.get(), busy.data(), busy.size(), MSG_NOSIGNAL);
        continue;  // closed: the refusal is the answer
      }
      UniqueFd b(
          socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(opts_.backend_port));
      if (!b.valid() ||
          (connect(b.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 &&
           errno != EINPROGRESS)) {
        LogWarning("api gate: backend connect: " +
                   std::string(std::strerror(errno)));
        continue;
      }
      auto p = std::make_unique<Pair>();
      p->client = std::move(c);
      p->backend = std::move(b);
      p->peer = peer;
      p->last = Clock::now();
      Pair* raw = p.get();
      by_fd[raw->client.get()] = raw;
      by_fd[raw->backend.get()] = raw;
      ++per_client[peer];
      pairs[raw->client.get()] = std::move(p);
      settle(raw);
    }
  };

  std::vector<epoll_event> events(128);
  Clock::time_point last_sweep = Clock::now();
  for (;;) {
    const int n = epoll_wait(ep.get(), events.data(),
                             static_cast<int>(events.size()), 1000);
    if (n < 0 && errno != EINTR) {
      LogError("api gate: epoll_wait: " + std::string(std::strerror(errno)));
      break;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      const uint32_t ev = events[i].events;
      if (fd == wake_.get()) {
        pairs.clear();  // closes every connection
        return;
      }
      if (fd == listener_.get()) {
        accept_all();
        continue;
      }
      auto it = by_fd.find(fd);
      if (it == by_fd.end()) continue;  // closed earlier in this batch
      Pair* p = it->second;
      const bool is_client = fd == p->client.get();
      bool ok = true;
      if (!is_client && p->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
          LogWarning("api gate: the API listener refused a connection: " +
                     std::string(std::strerror(err ? err : ECONNREFUSED)));
          close_pair(p);
          continue;
        }
        p->connecting = false;
      } else if (ev & EPOLLERR) {
        ok = false;
      }
      if (ok && (ev & (EPOLLIN | EPOLLHUP))) {
        const size_t before =
            is_client ? p->to_backend.size() : p->to_client.size();
        ok = is_client ? ReadInto(fd, &p->to_backend, &p->client_ended)
                       : ReadInto(fd, &p->to_client, &p->backend_ended);
        const size_t got =
            (is_client ? p->to_backend.size() : p->to_client.size()) - before;
        if (got > 0) {
          p->last = Clock::now();
          if (is_client) {
            p->sent += got;
            if (!p->client_spoke_last) p->request_since = p->last;
            p->client_spoke_last = true;
          } else if (p->client_spoke_last) {
            ++p->answers;
            p->client_spoke_last = false;
          }
        }
        if (ok && is_client && opts_.max_request_bytes > 0 &&
            p->sent > (p->answers + 1) * opts_.max_request_bytes) {
          LogWarning("api gate: a client at " + p->peer + " sent " +
                     std::to_string(p->sent) + " bytes for " +
                     std::to_string(p->answers + 1) +
                     " request(s): connection closed");
          ok = false;
        }
      }
      // A client that hung up entirely (HUP) wants nothing more back.
      if (ok && is_client && (ev & EPOLLHUP)) ok = false;
      if (ok && !p->to_client.empty())
        ok = WriteFrom(p->client.get(), &p->to_client);
      if (ok && !p->connecting && !p->to_backend.empty())
        ok = WriteFrom(p->backend.get(), &p->to_backend);
      if (!ok) {
        close_pair(p);
        continue;
      }
      settle(p);
    }
    const auto now = Clock::now();
    if (now - last_sweep >= std::chrono::seconds(1)) {
      last_sweep = now;
      std::vector<Pair*> idle;
      for (auto& [fd, p] : pairs) {
        if (now - p->last > opts_.idle_timeout) {
          idle.push_back(p.get());
        } else if (p->client_spoke_last &&
                   now - p->request_since > opts_.request_timeout) {
          LogWarning("api gate: a client at " + p->peer + " took longer than " +
                     std::to_string(opts_.request_timeout.count()) +
                     " s to send a request: connection closed");
          idle.push_back(p.get());
        }
      }
      for (Pair* p : idle) close_pair(p);
    }
  }
}

}  // namespace strata::api
