// The noauth Authenticator. See auth.h.
#include "api/auth.h"

#include <sstream>

namespace strata::api {
namespace {

class NoAuth : public Authenticator {
 public:
  explicit NoAuth(std::string default_project)
      : default_project_(std::move(default_project)) {}

  Result<RequestContext> Authenticate(const ApiRequest& req) override {
    RequestContext ctx;
    std::string token = req.Header("x-auth-token");
    // keystoneauth's "none" plugin (openstack --os-auth-type none) sends
    // this constant: no identity, so the URL's project applies.
    if (token == "notused") token.clear();
    if (!token.empty()) {
      size_t colon = token.find(':');
      ctx.user_id = token.substr(0, colon);
      ctx.project_id =
          colon == std::string::npos ? ctx.user_id : token.substr(colon + 1);
    } else {
      auto p = req.params.find("project_id");
      ctx.project_id = p != req.params.end() ? p->second : default_project_;
      if (ctx.project_id.empty())
        return Status::Unauthenticated(
            "Authentication required: send X-Auth-Token: <user>:<project>");
      ctx.user_id =
          req.Header("x-user-id").empty() ? "admin" : req.Header("x-user-id");
    }
    if (ctx.user_id.empty() || ctx.project_id.empty())
      return Status::Unauthenticated("Malformed X-Auth-Token");
    std::string roles = req.Header("x-roles");
    std::stringstream ss(roles.empty() ? "member" : roles);
    std::string r;
    while (std::getline(ss, r, ','))
      if (!r.empty()) ctx.roles.push_back(r);
    ctx.is_admin = ctx.user_id == "admin" || ctx.HasRole("admin");
    if (ctx.is_admin && !ctx.HasRole("admin")) ctx.roles.push_back("admin");
    return ctx;
  }

 private:
  std::string default_project_;
};

}  // namespace

std::unique_ptr<Authenticator> MakeNoAuth(const std::string& default_project) {
  return std::make_unique<NoAuth>(default_project);
}

}  // namespace strata::api
