// ApiServer: the cpprestsdk edge of Strata's REST API.
//
// Turns every http_request into an ApiRequest (body capped at max_body →
// 413; JSON parsed → 400 when malformed; "/v3/{project_id}/…" normalised so
// handlers see "/v3/…" with params["project_id"]), authenticates it,
// negotiates the microversion, dispatches it through the Router, and replies
// with x-openstack-request-id, OpenStack-API-Version and an OpenStack fault
// body on errors. Every exception cpprestsdk or a handler throws is caught
// here and becomes a 500 fault: the daemon never dies of a request.
// Thread-safety: handlers run on cpprestsdk's thread pool concurrently.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "api/auth.h"
#include "api/router.h"

namespace strata::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8786;
  size_t max_body = 1 << 20;
  // First path segments under /v3/ that are collections, not project ids.
  std::set<std::string> v3_collections;
  // The same under /v2.1/ (Nova's API).
  std::set<std::string> compute_collections;
};

class ApiServer {
 public:
  ApiServer(ServerOptions opts, std::unique_ptr<Authenticator> auth,
            Router router);
  ~ApiServer();
  // Opens the listener; a port in use or a bad address is kUnavailable.
  Status Start();
  void Stop();

  // Exposed for the edge's request callback.
  ApiResponse Handle(ApiRequest& req);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ServerOptions opts_;
  std::unique_ptr<Authenticator> auth_;
  Router router_;
};

}  // namespace strata::api
