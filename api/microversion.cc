// Microversion negotiation. See microversion.h.
#include "api/microversion.h"

#include <cctype>
#include <sstream>

namespace strata::api {

const VersionRange& VolumeVersions() {
  static const VersionRange r{"volume", {3, 0}, {3, 71}, ""};
  return r;
}

const VersionRange& ComputeVersions() {
  static const VersionRange r{
      "compute", {2, 1}, {2, 95}, "x-openstack-nova-api-version"};
  return r;
}

namespace {

std::string Lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "3.40" → {3, 40}; anything else → nullopt.
std::optional<Microversion> ParseNumber(const std::string& s) {
  size_t dot = s.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == s.size())
    return std::nullopt;
  for (size_t i = 0; i < s.size(); ++i)
    if (i != dot && !std::isdigit(static_cast<unsigned char>(s[i])))
      return std::nullopt;
  if (s.size() > 9) return std::nullopt;
  return Microversion{std::stoi(s.substr(0, dot)),
                      std::stoi(s.substr(dot + 1))};
}

}  // namespace

Result<Microversion> NegotiateVersion(const ApiRequest& req,
                                      const VersionRange& range) {
  std::string want;
  std::string header = req.Header("openstack-api-version");
  if (!header.empty()) {
    // "volume 3.40" — possibly several comma-separated services.
    std::stringstream ss(header);
    std::string item;
    while (std::getline(ss, item, ',')) {
      std::stringstream is(item);
      std::string service, value;
      is >> service >> value;
      if (Lower(service) == range.service) want = Lower(value);
    }
  }
  if (want.empty() && !range.legacy_header.empty())
    want = Lower(req.Header(range.legacy_header));
  if (want.empty()) return range.min;
  if (want == "latest") return range.max;
  auto v = ParseNumber(want);
  if (!v)
    return Status::InvalidArgument("Invalid API version '" + want +
                                   "': expected " + range.service + " X.Y");
  bool below = v->major < range.min.major ||
               (v->major == range.min.major && v->minor < range.min.minor);
  bool above = v->major > range.max.major ||
               (v->major == range.max.major && v->minor > range.max.minor);
  if (below || above)
    return Status::NotSupported("Version " + v->ToString() +
                                " is not supported by the API. Minimum is " +
                                range.min.ToString() + " and maximum is " +
                                range.max.ToString() + ".");
  return *v;
}

}  // namespace strata::api
