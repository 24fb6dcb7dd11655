// What the swift driver's files share about Swift's HTTP answers: its
// errors as Statuses, ETags, and the Strata metadata carried as
// X-Object-Meta-Strata-* headers.
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>

#include "util/status.h"

namespace strata::http {
struct HttpExchange;
}

namespace strata::store {

// 401 Unauthenticated, 403 PermissionDenied, 413 TooLarge, others as
// http::HttpError (5xx Unavailable).
Status SwiftError(long code, const std::string& ctx, const std::string& body);

// The ETag header without its quotes.
std::string ETagOf(const http::HttpExchange& x);

// {"volume_id": "v1"} → "X-Object-Meta-Strata-Volume-Id: v1" (a WSGI server
// cannot tell '_' from '-' in a header's name, so labels, [a-z_]+, go with
// '-' and come back with '_'); values percent-encoded, decoded back.
std::string MetaHeader(const std::string& label, const std::string& value);
// The labels of an answer's X-Object-Meta-Strata-* headers.
std::map<std::string, std::string> StrataLabels(const http::HttpExchange& x);

}  // namespace strata::store
