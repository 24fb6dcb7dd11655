// A host's stratad over REST. See peer_client.h.
#include "coordinator/peer_client.h"

#include "http/http_exchange.h"
#include "util/deadline.h"

namespace strata::coordinator {
namespace {

// A hold answers once the writers are paused; a cut once every member is
// cut (a live switch each); a release at once. None should take long, and
// each host ends its hold at its own deadline whatever the coordinator
// waits for.
constexpr auto kPhaseTimeout = std::chrono::seconds(60);
constexpr auto kQueryTimeout = std::chrono::seconds(20);

}  // namespace

PeerClient::PeerClient(std::string url, std::string token)
    : url_(std::move(url)), token_(std::move(token)) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
}

Result<std::pair<long, nlohmann::json>> PeerClient::Call(
    const std::string& method, const std::string& path,
    const nlohmann::json* body, std::chrono::milliseconds timeout,
    const std::vector<std::string>& extra_headers) const {
  http::HttpExchange x;
  x.headers = {"Content-Type: application/json", "Accept: application/json"};
  x.headers.insert(x.headers.end(), extra_headers.begin(), extra_headers.end());
  if (!token_.empty()) x.headers.push_back("X-Auth-Token: " + token_);
  std::string text;
  if (body) {
    text = body->dump();
    x.body = &text;
  }
  const Deadline deadline(timeout, std::chrono::seconds(0));
  STRATA_ASSIGN_OR_RETURN(long code,
                          http::HttpPerform(method, url_ + path, &x, deadline));
  return std::make_pair(
      code, nlohmann::json::parse(x.small_body, nullptr, /*allow_exceptions=*/
                                  false));
}

Status PeerClient::Fault(long code, const std::string& what,
                         const nlohmann::json& body) const {
  std::string msg = what + " on " + url_ + ": HTTP " + std::to_string(code);
  if (body.is_object() && !body.empty()) {
    const auto& f = body.begin().value();
    if (f.is_object() && f.contains("message") && f["message"].is_string())
      msg += ": " + f["message"].get<std::string>();
  }
  if (code >= 500) return Status::Unavailable(msg);
  if (code == 409) return Status::Conflict(msg);
  if (code == 404) return Status::NotFound(msg);
  return Status::InvalidArgument(msg);
}

Result<bool> PeerClient::HasServer(const std::string& uuid) const {
  STRATA_ASSIGN_OR_RETURN(
      auto got, Call("GET", "/v2.1/servers/" + uuid, nullptr, kQueryTimeout));
  if (got.first == 200) return true;
  if (got.first == 404) return false;
  return Fault(got.first, "looking for server " + uuid, got.second);
}

Result<nlohmann::json> PeerClient::Hold(const nlohmann::json& body) const {
  const nlohmann::json req = {{"group_cut", body}};
  STRATA_ASSIGN_OR_RETURN(
      auto got, Call("POST", "/v3/os-strata-group-cuts", &req, kPhaseTimeout));
  if (got.first != 200 || !got.second.contains("group_cut"))
    return Fault(got.first, "holding the group's writers", got.second);
  return got.second["group_cut"];
}

Result<nlohmann::json> PeerClient::Act(const std::string& id,
                                       const std::string& action) const {
  const nlohmann::json req = {{action, nlohmann::json::object()}};
  STRATA_ASSIGN_OR_RETURN(
      auto got, Call("POST", "/v3/os-strata-group-cuts/" + id + "/action", &req,
                     kPhaseTimeout));
  if (got.first != 200 || !got.second.contains("group_cut"))
    return Fault(got.first, "group cut " + action, got.second);
  return got.second["group_cut"];
}

Result<std::string> PeerClient::MembersStatus(const std::string& id) const {
  STRATA_ASSIGN_OR_RETURN(
      auto got,
      Call("GET", "/v3/os-strata-group-cuts/" + id, nullptr, kQueryTimeout));
  if (got.first != 200 || !got.second.contains("group_cut"))
    return Fault(got.first, "group cut " + id, got.second);
  return got.second["group_cut"].value("members_status", "");
}

Result<bool> PeerClient::DeletePart(const std::string& id,
                                    const std::string& instance) const {
  STRATA_ASSIGN_OR_RETURN(auto got, Call("DELETE", "/v3/group_snapshots/" + id,
                                         nullptr, kQueryTimeout,
                                         {"OpenStack-API-Version: volume 3.14",
                                          "X-Strata-Group-Part: " + instance}));
  if (got.first == 202 || got.first == 404) return true;
  if (got.first == 204) return false;  // the coordinator itself
  return Fault(got.first, "deleting its part of group snapshot " + id,
               got.second);
}

}  // namespace strata::coordinator
