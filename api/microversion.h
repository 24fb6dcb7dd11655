// Microversion negotiation (OpenStack-API-Version header), per service:
// "volume 3.x" for Cinder's API, "compute 2.x" for Nova's. No header → the
// minimum; "latest" → the maximum; malformed → 400; outside [min, max] → 406.
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "api/api_types.h"

namespace strata::api {

struct VersionRange {
  std::string service;  // "volume" or "compute"
  Microversion min, max;
  std::string legacy_header;  // e.g. x-openstack-nova-api-version, or ""
};

const VersionRange& VolumeVersions();   // 3.0 – 3.71
const VersionRange& ComputeVersions();  // 2.1 – 2.95
// Picks the version the request asks for. A Status of kInvalidArgument
// (400) for a malformed header; kNotSupported carries 406 (see server.cc).
Result<Microversion> NegotiateVersion(const ApiRequest& req,
                                      const VersionRange& range);

}  // namespace strata::api
