// ConnectionGate: the API's front door (issue 16, item 5). cpprestsdk's
// listener accepts every connection, keeps an idle one for ever and has no
// cap: 20000 idle connections (the process's fd limit) stopped every new
// client until they closed. The gate owns the public listening socket; it
// admits a connection only under a global cap and a cap per client address,
// relays its bytes untouched (TLS included) to the cpprestsdk listener on a
// loopback port, and closes a connection that moves no byte for
// `idle_timeout`, that takes longer than `request_timeout` from a request's
// first byte to its answer's first byte (a client trickling a byte now and
// then is never idle), or that sends more than its requests may
// (`max_request_bytes`). A refused connection is closed at once; on a
// plain-HTTP gate it first gets a 503 fault with Retry-After.
//
// One thread runs every connection (epoll, non-blocking sockets, a bounded
// buffer each way): on two cores the relay costs a few microseconds a
// request and no thread per client.
// Thread-safety: Start and the destructor from one thread; the relay runs
// on the gate's own thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "util/fs.h"
#include "util/status.h"

namespace strata::api {

struct GateOptions {
  std::string host;  // the public address clients connect to
  int port = 0;
  int backend_port = 0;  // cpprestsdk's listener on 127.0.0.1
  size_t max_connections = 1024;
  size_t max_per_client = 256;  // per peer address
  std::chrono::seconds idle_timeout{60};
  // From the first byte a client sends after an answer (or after
  // connecting) to the first byte of the next answer, as nginx's
  // client_header_timeout and client_body_timeout together.
  std::chrono::seconds request_timeout{60};
  bool plain_http = true;  // refusals get a 503 (false: TLS, just closed)
  // What one request may send (headers and body; TLS framing allowed
  // for). A connection that sends more than (answers started + 1) times this
  // is closed: cpprestsdk receives a body into its own buffer whatever the
  // handler decides, so a client streaming 300 MiB at a 413 or a 401 would
  // otherwise grow stratad by that much. 0: no limit.
  uint64_t max_request_bytes = 0;
};

class ConnectionGate {
 public:
  // Binds and listens on host:port (Unavailable, not retryable, when it
  // cannot), then starts the relay thread.
  static Result<std::unique_ptr<ConnectionGate>> Start(GateOptions opts);
  ~ConnectionGate();  // closes every connection and joins the thread

 private:
  ConnectionGate(GateOptions opts, UniqueFd listener, UniqueFd wake);
  void Run();

  const GateOptions opts_;
  UniqueFd listener_;
  UniqueFd wake_;  // eventfd: the destructor ends Run
  std::thread thread_;
};

// A free TCP port on 127.0.0.1 for the gate's backend (bound, read, closed).
[[nodiscard]] Result<int> FreeLoopbackPort();

}  // namespace strata::api
