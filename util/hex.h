// Hex digits and percent-encoding, shared by digests (lower-case hex), key
// files and fingerprints (hex parsing), and URLs built from paths and keys
// (RFC 3986 percent-encoding).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace strata {

// The value of hex digit `c` (either case), or -1 when it is not one.
int HexDigitValue(char c);

// `n` bytes at `p` as lower-case hex.
std::string HexEncode(const unsigned char* p, size_t n);

// RFC 3986's unreserved characters [A-Za-z0-9-._~] and those in `keep` stay
// as they are; every other byte becomes %XX (upper-case hex).
std::string PercentEncode(std::string_view s, std::string_view keep = "");

// %XX decoded; a '%' not followed by two hex digits stays as it is.
std::string PercentDecode(std::string_view s);

}  // namespace strata
