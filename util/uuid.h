// UUIDs: random version-4 generation and validation of the canonical form;
// random hex strings (keys, salts) from the same source.
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

namespace strata {

// A new random (v4) UUID in lower-case canonical form (8-4-4-4-12).
std::string NewUuid();
// True when `s` is a canonical UUID (hex digits and dashes at 8-4-4-4-12).
bool IsUuid(std::string_view s);
// `bytes` random bytes from OpenSSL's CSPRNG, as lower-case hex.
std::string RandomHex(size_t bytes);

}  // namespace strata
