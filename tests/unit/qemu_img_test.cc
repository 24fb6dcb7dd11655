// Tests for engine/qemu_img's run bound (issue 16, item 4): a qemu-img run
// may take a floor plus its data at a slow rate, so a stalled run ends in
// bounded time however small its data, and a large merge is never cut short
// by a fixed limit.
#include "engine/qemu_img.h"

#include <doctest/doctest.h>

namespace strata::engine {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST_CASE("qemu-img runs are bounded by a floor plus their data") {
  CHECK(QemuImgTimeout(0) == minutes(2));
  CHECK(QemuImgTimeout(4ull << 30) == minutes(2) + seconds(1024));
  CHECK(QemuImgTimeout(100ull << 30) > std::chrono::hours(7));
  CHECK(QemuImgTimeout(1 << 20) < minutes(3));
}

}  // namespace
}  // namespace strata::engine
