// OpenStack fault bodies: a Status becomes {"<name>": {"code": N,
// "message": "…"}} with the HTTP status OpenStack services use for it
// (400 badRequest, 404 itemNotFound, 409 conflictingRequest, …).
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"

namespace strata::api {

int HttpStatusFor(const Status& s);
// The fault name for an HTTP status (badRequest, itemNotFound, …).
std::string FaultName(int http_status);
nlohmann::json FaultBody(int http_status, const std::string& message);

}  // namespace strata::api
