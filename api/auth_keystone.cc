// The Keystone Authenticator. See auth.h.
//
// Like keystonemiddleware's auth_token: the service authenticates itself
// once (password, project-scoped) and validates each caller's token with
// GET /v3/auth/tokens (X-Auth-Token: the service's token, X-Subject-Token:
// the caller's). A valid answer is cached under the SHA-256 of the token
// (tokens themselves are neither kept nor logged) until the token expires or
// `token_cache_seconds` pass, whichever is first: a revoked token is refused
// at the latest that long after its revocation. Every request to Keystone is
// bounded by `timeout_seconds` ([keystone_authtoken] http_connect_timeout);
// a Keystone that does not answer in time is a 503 to the caller (as
// keystonemiddleware's "The Keystone service is temporarily unavailable"),
// while callers with a cached token go on being served.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "api/auth.h"
#include "http/http_exchange.h"
#include "http/json_field.h"
#include "http/keystone_client.h"
#include "util/log.h"
#include "util/sha256.h"

namespace strata::api {
namespace {

using http::JsonString;
using http::ParseKeystoneTime;
using nlohmann::json;
using Clock = std::chrono::system_clock;

constexpr size_t kMaxCachedTokens = 10000;

class KeystoneAuth : public Authenticator {
 public:
  explicit KeystoneAuth(KeystoneAuthOptions o) : o_(std::move(o)) {
    o_.auth_url = http::KeystoneV3Url(o_.auth_url);
  }

  std::string Challenge() const override {
    // Keystone's root, as keystonemiddleware's www_authenticate_uri.
    return "Keystone uri=\"" + o_.auth_url.substr(0, o_.auth_url.size() - 3) +
           "\"";
  }

  Result<RequestContext> Authenticate(const ApiRequest& req) override {
    const std::string token = req.Header("x-auth-token");
    if (token.empty())
      return Status::Unauthenticated(
          "The request you have made requires authentication: send a "
          "Keystone token in X-Auth-Token.");
    Sha256 h;
    h.Update(token);
    const std::string id = h.HexDigest();
    if (auto hit = Cached(id)) return *hit;

    auto validated = Validate(token, req.request_id);
    if (!validated.ok()) return validated.status();
    Remember(id, validated->first, validated->second);
    return validated->first;
  }

 private:
  struct Entry {
    RequestContext ctx;
    Clock::time_point until;
  };

  std::optional<RequestContext> Cached(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(id);
    if (it == cache_.end()) return std::nullopt;
    if (Clock::now() >= it->second.until) {
      cache_.erase(it);
      return std::nullopt;
    }
    return it->second.ctx;
  }

  void Remember(const std::string& id, const RequestContext& ctx,
                Clock::time_point expires) {
    const auto until = std::min(
        expires, Clock::now() + std::chrono::seconds(o_.token_cache_seconds));
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() >= kMaxCachedTokens) {
      // Drop what has run out; if all is fresh, start over (bounded memory
      // matters more than a few re-validations).
      std::erase_if(cache_, [now = Clock::now()](const auto& kv) {
        return now >= kv.second.until;
      });
      if (cache_.size() >= kMaxCachedTokens) cache_.clear();
    }
    cache_[id] = Entry{ctx, until};
  }

  // One request to Keystone's /auth/tokens, bounded by timeout_seconds; a
  // Keystone that does not answer is Unavailable (503 to our caller).
  Result<long> CallTokens(const std::string& method, http::HttpExchange* x,
                          const std::string& rid) {
    const Deadline deadline(std::chrono::seconds(o_.timeout_seconds),
                            std::chrono::seconds(0));
    auto code =
        http::HttpPerform(method, o_.auth_url + "/auth/tokens", x, deadline);
    if (!code.ok())
      return Status::Unavailable("Keystone at " + o_.auth_url +
                                 " does not answer (request " + rid +
                                 "): " + code.status().message());
    return code;
  }

  // The service's own token, fetched (or refreshed) when needed. One fetch
  // at a time: a caller that finds one in flight waits for it (at most
  // timeout_seconds) and takes its outcome, a failure included, so a
  // Keystone that does not answer costs each caller one timeout, not one
  // for every caller queued ahead of it.
  Result<std::string> ServiceToken(bool refresh, const std::string& rid) {
    std::unique_lock<std::mutex> lock(service_mu_);
    if (!refresh && !service_token_.empty() &&
        Clock::now() + std::chrono::seconds(30) < service_expires_)
      return service_token_;
    if (fetching_) {
      const uint64_t seen = fetches_;
      if (!fetched_.wait_for(lock, std::chrono::seconds(o_.timeout_seconds),
                             [&] { return fetches_ != seen; }))
        return Status::Unavailable("Keystone at " + o_.auth_url +
                                   " does not answer (the service's own "
                                   "authentication is still waiting)");
      if (!last_fetch_.ok()) return last_fetch_;
      return service_token_;
    }
    fetching_ = true;
    lock.unlock();
    Result<std::pair<std::string, Clock::time_point>> got =
        Status::Internal("the service's authentication ended in an exception");
    {
      // Whatever happens, the next caller may fetch (and waiters wake).
      struct Done {
        KeystoneAuth* self;
        Result<std::pair<std::string, Clock::time_point>>* got;
        ~Done() {
          std::lock_guard<std::mutex> l(self->service_mu_);
          self->fetching_ = false;
          ++self->fetches_;
          self->last_fetch_ = got->ok() ? Status::OK() : got->status();
          if (got->ok()) {
            self->service_token_ = (*got)->first;
            self->service_expires_ = (*got)->second;
          }
          self->fetched_.notify_all();
        }
      } done{this, &got};
      got = FetchServiceToken(rid);
    }
    if (!got.ok()) return got.status();
    return got->first;
  }

  // POST /auth/tokens with the service's password: its token and expiry.
  Result<std::pair<std::string, Clock::time_point>> FetchServiceToken(
      const std::string& rid) {
    const Deadline deadline(std::chrono::seconds(o_.timeout_seconds),
                            std::chrono::seconds(0));
    auto token = http::IssuePasswordToken(
        {o_.auth_url, o_.username, o_.password, o_.project_name,
         o_.user_domain_name, o_.project_domain_name},
        deadline);
    if (token.status().code() == StatusCode::kUnauthenticated)
      return Status::Unavailable(
          "Keystone refused the service credentials of user '" + o_.username +
          "' (check [keystone_authtoken])");
    if (!token.ok())
      return Status::Unavailable("Keystone at " + o_.auth_url +
                                 " failed the service's authentication "
                                 "(request " +
                                 rid + "): " + token.status().message());
    return std::make_pair(token->id, token->expires_at);
  }

  Result<std::pair<RequestContext, Clock::time_point>> Validate(
      const std::string& token, const std::string& rid) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      STRATA_ASSIGN_OR_RETURN(std::string service,
                              ServiceToken(attempt > 0, rid));
      http::HttpExchange x;
      x.headers = {"X-Auth-Token: " + service, "X-Subject-Token: " + token};
      STRATA_ASSIGN_OR_RETURN(long code, CallTokens("GET", &x, rid));
      if (code == 401 && attempt == 0) continue;  // the service's expired
      if (code == 404 || code == 401)
        return Status::Unauthenticated(
            "The request you have made requires authentication: the token "
            "is invalid, expired or revoked.");
      if (code != 200)
        return Status::Unavailable("Keystone answered HTTP " +
                                   std::to_string(code) +
                                   " to a token validation");
      return Parse(x.small_body);
    }
    return Status::Unavailable("Keystone refuses the service's token");
  }

  Result<std::pair<RequestContext, Clock::time_point>> Parse(
      const std::string& text) {
    json answer = json::parse(text, nullptr, false);
    if (!answer.is_object() || !answer.contains("token") ||
        !answer["token"].is_object())
      return Status::Unavailable("Keystone's token validation is not JSON");
    const json& t = answer["token"];
    RequestContext ctx;
    if (t.contains("user") && t["user"].is_object())
      ctx.user_id = http::JsonString(t["user"], "id");
    if (t.contains("project") && t["project"].is_object())
      ctx.project_id = http::JsonString(t["project"], "id");
    if (ctx.project_id.empty())
      return Status::Unauthenticated(
          "The token is not scoped to a project: authenticate with a "
          "project (--os-project-name).");
    if (t.contains("roles") && t["roles"].is_array())
      for (const json& r : t["roles"])
        if (r.is_object() && !http::JsonString(r, "name").empty())
          ctx.roles.push_back(http::JsonString(r, "name"));
    ctx.is_admin = ctx.HasRole("admin");
    if (t.contains("catalog") && t["catalog"].is_array())
      for (const json& svc : t["catalog"]) {
        if (!svc.is_object() || !svc.contains("endpoints") ||
            !svc["endpoints"].is_array())
          continue;
        for (const json& ep : svc["endpoints"])
          if (ep.is_object())
            ctx.catalog.push_back({http::JsonString(svc, "type"),
                                   http::JsonString(svc, "name"),
                                   http::JsonString(ep, "interface"),
                                   http::JsonString(ep, "region_id"),
                                   http::JsonString(ep, "url")});
      }
    auto expires = ParseKeystoneTime(http::JsonString(t, "expires_at"));
    if (!expires || *expires <= Clock::now())
      return Status::Unauthenticated("The token has expired.");
    return std::make_pair(ctx, *expires);
  }

  KeystoneAuthOptions o_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;  // GUARDED_BY(mu_)
  std::mutex service_mu_;
  std::condition_variable fetched_;      // a fetch of the token ended
  bool fetching_ = false;                // GUARDED_BY(service_mu_)
  uint64_t fetches_ = 0;                 // GUARDED_BY(service_mu_), ended
  Status last_fetch_;                    // GUARDED_BY(service_mu_)
  std::string service_token_;            // GUARDED_BY(service_mu_)
  Clock::time_point service_expires_{};  // GUARDED_BY(service_mu_)
};

}  // namespace

std::unique_ptr<Authenticator> MakeKeystoneAuth(KeystoneAuthOptions o) {
  return std::make_unique<KeystoneAuth>(std::move(o));
}

}  // namespace strata::api
