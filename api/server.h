// ApiServer: the cpprestsdk edge of Strata's REST API.
//
// Turns every http_request into an ApiRequest (body capped at max_body →
// 413; JSON parsed → 400 when malformed; "/v3/{project_id}/…" normalised so
// handlers see "/v3/…" with params["project_id"]), authenticates it,
// negotiates the microversion, dispatches it through the Router, and replies
// with x-openstack-request-id, OpenStack-API-Version and an OpenStack fault
// body on errors. Serves HTTPS when given a certificate and key (and plain
// HTTP besides only on a plain_port asked for). Every exception cpprestsdk or a
// handler throws is caught here and becomes a 500 fault: the daemon never dies
// of a request. Thread-safety: handlers run concurrently on the server's
// worker threads.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "api/auth.h"
#include "api/policy.h"
#include "api/router.h"

namespace web::http {
class http_request;  // cpprestsdk's, kept out of this header
}

namespace strata::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8786;
  size_t max_body = 1 << 20;
  // First path segments under /v3/ that are collections, not project ids.
  std::set<std::string> v3_collections;
  // The same under /v2.1/ (Nova's API).
  std::set<std::string> compute_collections;
  // TLS: with both set, host:port serves HTTPS only (PEM certificate chain
  // and private key, TLS 1.2 and newer).
  std::string tls_cert_file, tls_key_file;
  // A plain-HTTP listener besides the TLS one, only when asked for
  // (plain_port 0: none), e.g. on loopback for local tools.
  std::string plain_host = "127.0.0.1";
  int plain_port = 0;
  // Requests are answered on `workers` threads of the server's own, never on
  // cpprestsdk's I/O pool: a handler that waits (for its body, for its reply
  // to be written) must not hold a thread that I/O completion needs, or 40
  // concurrent callers deadlock the pool. At most `max_pending` requests
  // wait or run at once; one more gets 503 at once.
  int workers = 8;
  size_t max_pending = 512;
  // Connections (connection_gate.h): at most this many open, this many from
  // one client address, each closed after this long without a byte.
  size_t max_connections = 1024;
  size_t max_connections_per_client = 256;
  std::chrono::seconds idle_timeout{60};
  // … and after this long from a request's first byte to its answer's.
  std::chrono::seconds request_timeout{60};
  // Every authorisation decision (policy.h).
  std::shared_ptr<const Policy> policy = Policy::Defaults();
};

// InvalidArgument, saying what is wrong, unless the certificate chain and
// key load and belong together (checked before any listener opens).
Status CheckTlsFiles(const std::string& cert_file, const std::string& key_file);

class ApiServer {
 public:
  ApiServer(ServerOptions opts, std::unique_ptr<Authenticator> auth,
            Router router);
  ~ApiServer();
  // Opens the listener(s); a port in use or a bad address is kUnavailable.
  Status Start();
  void Stop();

  // Exposed for the edge's request callback. Admit negotiates the
  // microversion, authenticates and authorises from the request line and
  // headers alone (a fault, or nullopt to go on); Dispatch runs the handler
  // once the body is read.
  std::optional<ApiResponse> Admit(ApiRequest& req);
  ApiResponse Dispatch(ApiRequest& req);

 private:
  // Opens one listener (HTTPS when `tls`).
  Status Open(const std::string& host, int port, bool tls);
  // Hands a request to the workers, or answers 503 when too many wait.
  void Enqueue(web::http::http_request in, const std::string& scheme);
  // cpprestsdk's listener on 127.0.0.1:backend_port (behind a gate).
  Status OpenListener(int backend_port, bool tls, const std::string& scheme);
  // Answers one request that arrived over `scheme` ("http", "https").
  void Serve(web::http::http_request in, const std::string& scheme);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  ServerOptions opts_;
  std::unique_ptr<Authenticator> auth_;
  Router router_;
};

}  // namespace strata::api
