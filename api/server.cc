// The cpprestsdk edge. See server.h.
#include "api/server.h"

#include <cpprest/http_listener.h>
#include <cpprest/uri.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>

#include "api/connection_gate.h"
#include "api/faults.h"
#include "api/microversion.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/task_runner.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {

using web::http::http_request;
using web::http::http_response;
using web::http::experimental::listener::http_listener;

struct ApiServer::Impl {
  // Each public address: a gate (connection_gate.h) in front of a
  // cpprestsdk listener on a loopback port of its own.
  std::vector<std::unique_ptr<ConnectionGate>> gates;
  std::vector<std::unique_ptr<http_listener>> listeners;
  std::unique_ptr<TaskRunner> workers;
  std::atomic<size_t> pending{0};  // queued or being answered
};

ApiServer::ApiServer(ServerOptions opts, std::unique_ptr<Authenticator> auth,
                     Router router)
    : impl_(std::make_unique<Impl>()),
      opts_(std::move(opts)),
      auth_(std::move(auth)),
      router_(std::move(router)) {}

ApiServer::~ApiServer() { Stop(); }

namespace {

ApiResponse Fault(int code, const std::string& msg) {
  return ApiResponse::Json(code, FaultBody(code, msg));
}

ApiResponse FaultFor(const Status& s) {
  int code = HttpStatusFor(s);
  std::string msg = s.message();
  if (code >= 500 && code != 501 && code != 503)
    msg =
        "The server has either erred or is incapable of performing the "
        "requested operation: " +
        msg;
  return Fault(code, msg);
}

bool IsVolumeApi(const ApiRequest& req) {
  return !req.segments.empty() && req.segments[0] == "v3";
}

bool IsComputeApi(const ApiRequest& req) {
  return !req.segments.empty() && req.segments[0] == "v2.1";
}

// The microversion range of the API the path belongs to, or nullptr.
const VersionRange* RangeOf(const ApiRequest& req) {
  if (IsVolumeApi(req)) return &VolumeVersions();
  if (IsComputeApi(req)) return &ComputeVersions();
  return nullptr;
}

ApiResponse TooLarge(const ServerOptions& opts) {
  return Fault(413, "Request is too large: the body may be at most " +
                        std::to_string(opts.max_body) + " bytes.");
}

// A client that asked to close ("Connection: close", as Tempest's
// ClosingHttp sends on every request) is told so in the answer. cpprestsdk
// closes such a connection after answering but does not say so; a client
// then pools the connection and may send its next request as the close
// arrives, and gets a reset instead of an answer (seen in Tempest runs).
void AnswerConnectionClose(const http_request& in, http_response& out) {
  auto it = in.headers().find("Connection");
  if (it == in.headers().end()) return;
  std::string v = it->second;
  for (auto& c : v) c = static_cast<char>(std::tolower(c));
  if (v.find("close") != std::string::npos)
    out.headers().add("Connection", "close");
}

// Fills an ApiRequest from cpprestsdk's request line and headers (not the
// body); false → reply already set.
bool TranslateHead(http_request& in, const ServerOptions& opts,
                   const std::string& scheme, ApiRequest* out,
                   ApiResponse* fail) {
  out->method = in.method();
  out->path = web::uri::decode(in.relative_uri().path());
  out->segments = SplitPath(out->path);
  // Form encoding, as webob reads Cinder's queries: '+' is a space (Python's
  // urlencode, which Tempest and the clients use, writes spaces so).
  auto form_decode = [](std::string s) {
    std::replace(s.begin(), s.end(), '+', ' ');
    return web::uri::decode(s);
  };
  for (const auto& [k, v] : web::uri::split_query(in.relative_uri().query()))
    out->query[form_decode(k)] = form_decode(v);
  for (const auto& [k, v] : in.headers()) {
    std::string lower = k;
    for (auto& c : lower) c = static_cast<char>(std::tolower(c));
    out->headers[lower] = v;
  }
  std::string host = out->Header("host");
  out->base_url =
      scheme + "://" +
      (host.empty() ? opts.host + ":" + std::to_string(opts.port) : host);
  if (in.headers().content_length() > opts.max_body) {
    *fail = TooLarge(opts);
    return false;
  }
  // "/v3/{project_id}/…" → "/v3/…" with params["project_id"] (the same for
  // Nova's legacy "/v2.1/{project_id}/…").
  if (out->segments.size() >= 2 &&
      ((out->segments[0] == "v3" &&
        !opts.v3_collections.count(out->segments[1])) ||
       (out->segments[0] == "v2.1" &&
        !opts.compute_collections.count(out->segments[1])))) {
    out->params["project_id"] = out->segments[1];
    out->segments.erase(out->segments.begin() + 1);
  }
  return true;
}

// Reads the body (after the caller was admitted) in pieces, counting as it
// goes: a chunked body, whose length no header announces, gets its 413 as
// soon as it passes the cap, never after it was buffered whole. Parses
// JSON. False → reply already set.
bool ReadBody(http_request& in, const ServerOptions& opts, ApiRequest* out,
              ApiResponse* fail) {
  concurrency::streams::streambuf<uint8_t> body = in.body().streambuf();
  std::vector<uint8_t> chunk(64 << 10);
  std::string got;
  for (;;) {
    const size_t n = body.getn(chunk.data(), chunk.size()).get();
    if (n == 0) break;
    got.append(chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(n));
    if (got.size() > opts.max_body) {
      // cpprestsdk's reader still receives the rest into its own buffer
      // (it has no way to stop a body); Strata stops copying at the cap.
      *fail = TooLarge(opts);
      return false;
    }
  }
  out->raw_body = std::move(got);
  if (!out->raw_body.empty()) {
    std::string ct = out->Header("content-type");
    if (!ct.empty() && ct.find("json") == std::string::npos) {
      *fail = Fault(415, "Unsupported Content-Type " + ct);
      return false;
    }
    out->body = nlohmann::json::parse(out->raw_body, nullptr, false);
    if (out->body.is_discarded()) {
      *fail = Fault(400, "Malformed request body: not valid JSON.");
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<ApiResponse> ApiServer::Admit(ApiRequest& req) {
  const bool has_project = req.params.count("project_id") > 0;
  if (has_project && req.segments.size() == 1)  // "/v3/{project}" alone
    return Fault(404, "The resource could not be found.");
  // Version discovery, and the operator's probes (a load balancer's
  // /healthcheck, Prometheus' /metrics), as OpenStack services answer them
  // before authentication.
  // The dashboard's page and sign-in too: the page must load to sign in.
  const bool probe = ((req.method == "GET" || req.method == "HEAD") &&
                      (req.path == "/healthcheck" || req.path == "/metrics")) ||
                     req.path == "/dashboard" ||
                     req.path.rfind("/dashboard/", 0) == 0;
  bool discovery =
      probe || (req.method == "GET" && !has_project &&
                (req.segments.empty() ||
                 (req.segments.size() == 1 &&
                  (req.segments[0] == "v3" || req.segments[0] == "v2.1" ||
                   req.segments[0] == "v2"))));
  const VersionRange* range = RangeOf(req);
  if (range && !(discovery && IsVolumeApi(req))) {
    auto v = NegotiateVersion(req, *range);
    if (!v.ok())
      return Fault(v.status().code() == StatusCode::kNotSupported ? 406 : 400,
                   v.status().message());
    req.version = *v;
  }
  if (!discovery) {
    auto ctx = auth_->Authenticate(req);
    if (!ctx.ok()) {
      ApiResponse fault = FaultFor(ctx.status());
      if (fault.status == 401 && !auth_->Challenge().empty())
        fault.headers["WWW-Authenticate"] = auth_->Challenge();
      return fault;
    }
    req.ctx = *ctx;
    req.ctx.policy = opts_.policy.get();
    req.ctx.is_admin = opts_.policy->Allows(rules::kContextIsAdmin, req.ctx);
    // Reading needs any role of the project, anything else member; whose
    // resources a caller sees is the handlers' part (another project's is
    // a 404, not a 403).
    const bool reads = req.method == "GET" || req.method == "HEAD";
    if (Status allowed = req.ctx.Enforce(reads ? rules::kRead : rules::kWrite);
        !allowed.ok())
      return FaultFor(allowed);
    auto url_project = req.params.find("project_id");
    if (url_project != req.params.end() &&
        url_project->second != req.ctx.project_id)
      return Fault(400, "Malformed request URL: URL's project_id '" +
                            url_project->second +
                            "' doesn't match Context's project_id '" +
                            req.ctx.project_id + "'");
  }
  return std::nullopt;
}

ApiResponse ApiServer::Dispatch(ApiRequest& req) {
  auto res = router_.Dispatch(req);
  if (!res.ok()) return FaultFor(res.status());
  if (res->status == 405)
    return Fault(
        405, "The method " + req.method + " is not allowed for this resource.");
  return *res;
}

Status CheckTlsFiles(const std::string& cert_file,
                     const std::string& key_file) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(
      SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  auto why = [] {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    return std::string(buf);
  };
  if (!ctx) return Status::Internal("SSL_CTX_new: " + why());
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1)
    return Status::InvalidArgument("TLS certificate " + cert_file +
                                   " cannot be loaded: " + why());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    const bool mismatch =
        ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH;
    return Status::InvalidArgument(
        "TLS key " + key_file +
        (mismatch ? " does not belong to the certificate " + cert_file
                  : " cannot be loaded") +
        ": " + why());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return Status::InvalidArgument("TLS key " + key_file +
                                   " does not belong to the certificate " +
                                   cert_file);
  return Status::OK();
}

void ApiServer::Serve(http_request in, const std::string& scheme) {
  ApiRequest req;
  ApiResponse resp;
  req.request_id = "req-" + NewUuid();
  // Every line logged for this request, here and in the jobs it starts.
  ScopedLogContext log_context(req.request_id);
  int64_t t0 = MonotonicMicros();
  try {
    // Who is calling, and may they, before a byte of the body is read.
    if (TranslateHead(in, opts_, scheme, &req, &resp)) {
      if (auto refused = Admit(req))
        resp = *refused;
      else if (ReadBody(in, opts_, &req, &resp))
        resp = Dispatch(req);
    }
  } catch (const std::exception& e) {
    LogError(req.request_id + " unhandled exception: " + e.what());
    resp = Fault(500,
                 "The server has either erred or is incapable of "
                 "performing the requested operation.");
  }
  http_response out(static_cast<web::http::status_code>(resp.status));
  out.headers().add("x-openstack-request-id", req.request_id);
  if (IsVolumeApi(req)) {
    out.headers().add("OpenStack-API-Version",
                      "volume " + req.version.ToString());
    out.headers().add("Vary", "OpenStack-API-Version");
  } else if (IsComputeApi(req)) {
    out.headers().add("OpenStack-API-Version",
                      "compute " + req.version.ToString());
    out.headers().add("X-OpenStack-Nova-API-Version", req.version.ToString());
    out.headers().add("Vary",
                      "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
  }
  for (const auto& [k, v] : resp.headers) out.headers().add(k, v);
  AnswerConnectionClose(in, out);
  if (resp.text)
    out.set_body(*resp.text, resp.content_type);
  else if (!resp.body.is_null())
    out.set_body(resp.body.dump(), "application/json");
  // An inbound req-<uuid> is the caller's global id, kept in the log.
  std::string global = req.Header("x-openstack-request-id");
  bool global_ok = global.size() == 40 && global.rfind("req-", 0) == 0 &&
                   IsUuid(global.substr(4));
  const int64_t took = MonotonicMicros() - t0;
  LogInfo(req.request_id + (global_ok ? " global_request_id=" + global : "") +
          " " + req.method + " " + req.path + " " +
          std::to_string(resp.status) + " " + std::to_string(took / 1000) +
          "ms");
  // By route pattern, not path: ids would make a series per resource.
  const std::string route = req.route.empty() ? "unrouted" : req.route;
  metrics::Add("strata_api_requests_total",
               {{"code", std::to_string(resp.status)},
                {"method", req.method},
                {"route", route}});
  metrics::Observe("strata_api_request_duration_seconds",
                   {{"method", req.method}, {"route", route}}, took / 1e6);
  try {
    in.reply(out).wait();
  } catch (const std::exception& e) {
    LogWarning(req.request_id + " reply failed: " + e.what());
  }
}

Status ApiServer::OpenListener(int backend_port, bool tls,
                               const std::string& scheme) {
  const std::string url =
      scheme + "://127.0.0.1:" + std::to_string(backend_port);
  try {
    web::http::experimental::listener::http_listener_config conf;
    if (tls) {
      const std::string cert = opts_.tls_cert_file, key = opts_.tls_key_file;
      conf.set_ssl_context_callback([cert, key](boost::asio::ssl::context& c) {
        c.set_options(boost::asio::ssl::context::default_workarounds |
                      boost::asio::ssl::context::no_sslv2 |
                      boost::asio::ssl::context::no_sslv3 |
                      boost::asio::ssl::context::no_tlsv1 |
                      boost::asio::ssl::context::no_tlsv1_1 |
                      boost::asio::ssl::context::single_dh_use);
        c.use_certificate_chain_file(cert);
        c.use_private_key_file(key, boost::asio::ssl::context::pem);
      });
    }
    auto listener = std::make_unique<http_listener>(url, conf);
    listener->support([this, scheme](http_request in) { Enqueue(in, scheme); });
    listener->open().wait();
    impl_->listeners.push_back(std::move(listener));
  } catch (const std::exception& e) {
    return Status::Unavailable(e.what(), false);
  }
  return Status::OK();
}

Status ApiServer::Open(const std::string& host, int port, bool tls) {
  const std::string scheme = tls ? "https" : "http";
  // cpprestsdk's listener on a free loopback port behind the gate; another
  // process may take the port between its probe and the listener's bind,
  // so a few are tried.
  int backend_port = 0;
  std::string last_error;
  for (int attempt = 0; attempt < 5 && backend_port == 0; ++attempt) {
    STRATA_ASSIGN_OR_RETURN(int candidate, FreeLoopbackPort());
    Status s = OpenListener(candidate, tls, scheme);
    if (s.ok())
      backend_port = candidate;
    else
      last_error = s.message();
  }
  if (backend_port == 0)
    return Status::Unavailable("cannot listen on " + host + ":" +
                                   std::to_string(port) + ": " + last_error,
                               false);
  GateOptions g;
  g.host = host;
  g.port = port;
  g.backend_port = backend_port;
  g.max_connections = opts_.max_connections;
  g.max_per_client = opts_.max_connections_per_client;
  g.idle_timeout = opts_.idle_timeout;
  g.request_timeout = opts_.request_timeout;
  g.plain_http = !tls;
  // A request's headers (64 KiB is ample) and its body up to the cap, with
  // an eighth more for TLS framing.
  g.max_request_bytes = (opts_.max_body + (64 << 10)) * 9 / 8;
  STRATA_ASSIGN_OR_RETURN(auto gate, ConnectionGate::Start(std::move(g)));
  impl_->gates.push_back(std::move(gate));
  return Status::OK();
}

void ApiServer::Enqueue(http_request in, const std::string& scheme) {
  // On cpprestsdk's I/O thread: nothing here may wait.
  if (impl_->pending.fetch_add(1) >= opts_.max_pending) {
    impl_->pending.fetch_sub(1);
    http_response busy(web::http::status_codes::ServiceUnavailable);
    busy.headers().add("Retry-After", "1");
    AnswerConnectionClose(in, busy);
    busy.set_body(
        FaultBody(503, "Too many requests in progress; retry.").dump(),
        "application/json");
    in.reply(busy).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (const std::exception&) {
      }
    });
    return;
  }
  impl_->workers->Submit([this, in, scheme]() mutable {
    RunLogged("api.request", [&] { Serve(std::move(in), scheme); });
    impl_->pending.fetch_sub(1);
  });
}

Status ApiServer::Start() {
  if (!impl_->workers)
    impl_->workers =
        std::make_unique<TaskRunner>(std::max(1, opts_.workers), 0);
  const bool tls = !opts_.tls_cert_file.empty() || !opts_.tls_key_file.empty();
  if (tls) {
    if (opts_.tls_cert_file.empty() || opts_.tls_key_file.empty())
      return Status::InvalidArgument(
          "TLS needs both a certificate and a key (--tls-cert, --tls-key)");
    STRATA_RETURN_IF_ERROR(
        CheckTlsFiles(opts_.tls_cert_file, opts_.tls_key_file));
  }
  Status s = Open(opts_.host, opts_.port, tls);
  if (s.ok() && opts_.plain_port > 0)
    s = Open(opts_.plain_host, opts_.plain_port, false);
  if (!s.ok()) Stop();
  return s;
}

void ApiServer::Stop() {
  if (!impl_) return;
  impl_->gates.clear();  // no new connection, every open one closed
  for (auto& l : impl_->listeners) {
    try {
      l->close().wait();
    } catch (const std::exception&) {
    }
  }
  impl_->listeners.clear();
  // Requests already taken are answered, then the workers end.
  if (impl_->workers) impl_->workers->Stop();
}

}  // namespace strata::api
