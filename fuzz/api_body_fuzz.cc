// Fuzz target: what the API does with a caller's bytes before any handler
// acts: JSON parsing, the body field helpers (api/body.h), microversion
// headers (api/microversion.h) and policy rule expressions
// (api/policy_rules.h), which an operator's policy file feeds.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "api/body.h"
#include "api/microversion.h"
#include "api/policy_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata::api;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (!body.is_discarded()) {
    auto vol = RequireObject(body, "volume");
    if (vol.ok()) {
      (void)RequireString(**vol, "name", 255);
      (void)OptString(**vol, "description");
      (void)OptBool(**vol, "bootable", false);
      (void)OptMetadata(**vol, "metadata");
    }
  }
  ApiRequest req;
  req.headers["openstack-api-version"] = text;
  req.headers["x-openstack-nova-api-version"] = text;
  req.segments = {"v3"};
  (void)NegotiateVersion(req, VolumeVersions());
  req.segments = {"v2.1"};
  (void)NegotiateVersion(req, ComputeVersions());
  auto rule = ParsePolicyRule(text);
  if (rule.ok()) {
    PolicyCredentials creds{"u", "p", {"member"}, false};
    (void)(*rule)->Evaluate(
        creds, {{"project_id", "p"}},
        [](const std::string&) { return nullptr; }, 0);
  }
  return 0;
}
