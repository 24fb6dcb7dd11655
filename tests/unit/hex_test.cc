// util/hex: hex digits both ways, and percent-encoding as the local store's
// file:// locations and the glance driver's queries and spec options use it.
#include "util/hex.h"

#include <doctest/doctest.h>

using strata::HexDigitValue;
using strata::HexEncode;
using strata::PercentDecode;
using strata::PercentEncode;

TEST_CASE("hex digits and encoding") {
  CHECK(HexDigitValue('0') == 0);
  CHECK(HexDigitValue('9') == 9);
  CHECK(HexDigitValue('a') == 10);
  CHECK(HexDigitValue('F') == 15);
  CHECK(HexDigitValue('g') == -1);
  CHECK(HexDigitValue('/') == -1);
  const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
  CHECK(HexEncode(bytes, sizeof bytes) == "000fa5ff");
  CHECK(HexEncode(bytes, 0) == "");
}

TEST_CASE("percent-encoding") {
  CHECK(PercentEncode("volumes/v1/s1.qcow2") == "volumes%2Fv1%2Fs1.qcow2");
  CHECK(PercentEncode("/var/lib/a b#c", "/") == "/var/lib/a%20b%23c");
  CHECK(PercentEncode("A-z_0.9~") == "A-z_0.9~");
  CHECK(PercentEncode("caf\xc3\xa9") == "caf%C3%A9");
  CHECK(PercentDecode("a%2Fb%2fc") == "a/b/c");
  CHECK(PercentDecode("%zz%4") == "%zz%4");  // malformed: kept
  CHECK(PercentDecode(PercentEncode("x y/\x01", "")) == "x y/\x01");
}
