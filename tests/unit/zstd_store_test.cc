// The zstd relay stage (R1.3) over a real local store: round trips of
// compressible and incompressible data across many chunks, the stored object
// read by zstd(1) itself, and damaged or truncated objects refused.
#include "storage-drivers/relay/zstd_store.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "storage-drivers/local/local_store.h"
#include "storage-drivers/store_registry.h"
#include "util/byte_stream.h"
#include "util/sha256.h"

namespace {

using namespace strata;
using namespace strata::store;

struct Fixture {
  std::string dir;
  LocalStore* local = nullptr;
  std::unique_ptr<Store> store;
  Fixture() {
    char t[] = "/var/tmp/strata-zstd-XXXXXX";
    REQUIRE(mkdtemp(t));
    dir = t;
    RegisterBuiltinStores();
    auto s = StoreRegistry::Global().Create("local:" + dir + "/store");
    REQUIRE(s.ok());
    local = dynamic_cast<LocalStore*>(s->get());
    store = MakeZstdStore(std::move(*s), 3);
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
};

// A qcow2-like mix: runs of zeros, repeated text, and random bytes.
std::string MixedData(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string d;
  while (d.size() < size) {
    switch (rng() % 3) {
      case 0:
        d.append(65536, '\0');
        break;
      case 1:
        for (int i = 0; i < 4096; ++i) d += "record ";
        break;
      default:
        for (int i = 0; i < 65536; ++i) d += static_cast<char>(rng());
    }
  }
  d.resize(size);
  return d;
}

std::string Get(Store& s, const std::string& key, const std::string& sha,
                Status* st) {
  StringSink sink;
  *st = s.Get(key, sink, sha, {});
  return sink.data();
}

}  // namespace

TEST_CASE("zstd stage: round trip, smaller object, zstd(1) reads it") {
  Fixture f;
  const std::string data = MixedData((5 << 20) + 12345, 1);
  StringSource src(data);
  auto put = f.store->Put("volumes/v/a.qcow2", src, {});
  REQUIRE(put.ok());
  CHECK(put->size < data.size());  // zeros and text compress
  // The caller's bytes' digest, apart from the stored frame's.
  Sha256 caller;
  caller.Update(data);
  CHECK(put->content_sha256 == caller.HexDigest());
  CHECK(put->sha256 != put->content_sha256);
  auto st = f.store->Stat("volumes/v/a.qcow2", {});
  REQUIRE(st.ok());
  CHECK(st->size == put->size);
  CHECK(st->sha256 == put->sha256);  // the stored bytes, verified after upload

  Status s;
  CHECK(Get(*f.store, "volumes/v/a.qcow2", put->sha256, &s) == data);
  CHECK(s.ok());

  // The stored object is a plain zstd frame.
  const std::string object = f.local->ObjectPath("volumes/v/a.qcow2");
  const std::string plain = f.dir + "/plain";
  REQUIRE(
      system(("zstd -q -d -c '" + object + "' > '" + plain + "'").c_str()) ==
      0);
  Sha256 h;
  h.Update(data);
  CHECK(Sha256File(plain).value() == h.HexDigest());
}

TEST_CASE("zstd stage: incompressible and empty objects") {
  Fixture f;
  std::string random(3 << 20, '\0');
  std::mt19937 rng(2);
  for (auto& c : random) c = static_cast<char>(rng());
  StringSource src(random);
  auto put = f.store->Put("r", src, {});
  REQUIRE(put.ok());
  CHECK(put->size < random.size() + (64 << 10));  // framing overhead only
  Status s;
  CHECK(Get(*f.store, "r", put->sha256, &s) == random);
  CHECK(s.ok());

  StringSource empty("");
  auto e = f.store->Put("e", empty, {});
  REQUIRE(e.ok());
  CHECK(Get(*f.store, "e", e->sha256, &s).empty());
  CHECK(s.ok());
}

TEST_CASE("zstd stage: damaged or truncated objects are Corruption") {
  Fixture f;
  const std::string data = MixedData(2 << 20, 3);
  StringSource src(data);
  auto put = f.store->Put("k", src, {});
  REQUIRE(put.ok());
  const std::string object = f.local->ObjectPath("k");

  SUBCASE("a flipped byte, with the recorded sha256") {
    std::fstream fs(object, std::ios::in | std::ios::out | std::ios::binary);
    fs.seekp(static_cast<std::streamoff>(put->size / 2));
    fs.put('\x5a');
    fs.close();
    Status s;
    Get(*f.store, "k", put->sha256, &s);
    CHECK(s.code() == StatusCode::kCorruption);
  }
  SUBCASE("a flipped byte, no sha256 given: zstd's own checksum") {
    std::fstream fs(object, std::ios::in | std::ios::out | std::ios::binary);
    fs.seekg(static_cast<std::streamoff>(put->size - 2));
    char c = 0;
    fs.get(c);
    fs.seekp(static_cast<std::streamoff>(put->size - 2));
    fs.put(static_cast<char>(c ^ 0x40));
    fs.close();
    Status s;
    Get(*f.store, "k", "", &s);
    CHECK(s.code() == StatusCode::kCorruption);
  }
  SUBCASE("truncated") {
    REQUIRE(truncate(object.c_str(), static_cast<off_t>(put->size / 2)) == 0);
    Status s;
    Get(*f.store, "k", "", &s);
    CHECK(s.code() == StatusCode::kCorruption);
  }
}
