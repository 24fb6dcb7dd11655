// What the HTTP drivers that talk to an OpenStack service (glance, swift)
// share: their spec's "?option=value&…" tail, the stamp that orders a
// key's versions, and the options of a failed Put's cleanup.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "storage-drivers/store.h"

namespace strata::store {

// "<scheme>:http(s)://…[?name=value&…]" → the URL and the options, in
// order, values percent-decoded. InvalidArgument `usage` when the spec is
// not of that form, or an option has no value.
struct SpecParts {
  std::string url;
  std::vector<std::pair<std::string, std::string>> options;
};
[[nodiscard]] Result<SpecParts> SplitSpec(const std::string& spec,
                                          const std::string& scheme,
                                          const std::string& usage);

// The secret (a token, a key, a password) on the first line of `path`,
// trailing blanks and CR trimmed; read at each use, so a refresher may
// replace the file. Unauthenticated "`missing` PATH" when there is none.
[[nodiscard]] Result<std::string> ReadSecretLine(const std::string& path,
                                                 const std::string& missing);

// A nanosecond wall-clock stamp, zero-padded so that strings sort as numbers.
std::string PutStamp();

// Cleaning up after a failed Put gets a deadline of its own (the request's
// may be what ran out): 10 s, and no longer than the request's stall
// bound, so that a stopped server fails an upload attempt in about that
// bound rather than that plus a cleanup's 10 s.
RequestOptions CleanupOptions(const RequestOptions& opts);

}  // namespace strata::store
