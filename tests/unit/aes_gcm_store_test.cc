// The AES-256-GCM relay stage (R1.3) over a real local store: round trips
// at every chunk edge, the stored object decrypted by an independent
// implementation (Python's `cryptography`), fresh nonces, wrong keys,
// damaged, truncated and reordered objects refused before any of their
// plaintext is released, stacking under zstd, and key-file loading.
#include "storage-drivers/relay/aes_gcm_store.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "skip.h"
#include "storage-drivers/local/local_store.h"
#include "storage-drivers/relay/zstd_store.h"
#include "storage-drivers/store_registry.h"
#include "temp_dir.h"
#include "util/byte_stream.h"
#include "util/sha256.h"

using strata::testing::TempDir;

namespace {

using namespace strata;
using namespace strata::store;

constexpr size_t kC = kChunkSize;
constexpr size_t kRecord = kC + 16;

std::string RandomBytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string d(size, '\0');
  for (auto& c : d) c = static_cast<char>(rng());
  return d;
}

// Created with `mode` from the start (a key is never briefly world-readable).
void WriteFile(const std::string& path, const std::string& data,
               mode_t mode = 0600) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  REQUIRE(fd >= 0);
  const bool ok =
      fchmod(fd, mode) == 0 &&
      write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  close(fd);
  REQUIRE(ok);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Fixture {
  TempDir tmp{"strata-aesgcm", "/var/tmp"};
  std::string dir = tmp.path;
  LocalStore* local = nullptr;
  AesKey key;
  std::unique_ptr<Store> store;
  Fixture() {
    WriteFile(dir + "/key", RandomBytes(32, 99));
    auto k = LoadAesKey(dir + "/key");
    REQUIRE(k.ok());
    key = *k;
    store = MakeAesGcmStore(NewLocal(), key);
  }

  std::unique_ptr<Store> NewLocal() {
    RegisterBuiltinStores();
    auto s = StoreRegistry::Global().Create("local:" + dir + "/store");
    REQUIRE(s.ok());
    local = dynamic_cast<LocalStore*>(s->get());
    REQUIRE(local);
    return std::move(*s);
  }
  Result<ObjectInfo> Put(const std::string& k, const std::string& data) {
    StringSource src(data, 300000);  // short reads, across chunk edges
    return store->Put(k, src, {});
  }
  std::string Object(const std::string& k) {
    return ReadFile(local->ObjectPath(k));
  }
};

std::string Get(Store& s, const std::string& key, const std::string& sha,
                Status* st) {
  StringSink sink;
  *st = s.Get(key, sink, sha, {});
  return sink.data();
}

// True when `hay` contains some `run`-byte substring of `needle`
// (Rabin-Karp over every window of both).
bool SharesRun(const std::string& needle, const std::string& hay, size_t run) {
  if (needle.size() < run || hay.size() < run) return false;
  const uint64_t kBase = 1099511628211ULL;
  uint64_t top = 1;
  for (size_t i = 1; i < run; ++i) top *= kBase;
  auto windows = [&](const std::string& s, auto&& fn) {
    uint64_t h = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (i >= run) h -= top * static_cast<unsigned char>(s[i - run]);
      h = h * kBase + static_cast<unsigned char>(s[i]);
      if (i + 1 >= run) fn(h, i + 1 - run);
    }
  };
  std::vector<uint64_t> hashes;
  windows(hay, [&](uint64_t h, size_t) { hashes.push_back(h); });
  std::sort(hashes.begin(), hashes.end());
  bool found = false;
  windows(needle, [&](uint64_t h, size_t at) {
    if (!found && std::binary_search(hashes.begin(), hashes.end(), h))
      found = hay.find(needle.substr(at, run)) != std::string::npos;
  });
  return found;
}

// Decrypts a stored object the way the format says, with Python's
// `cryptography` (AESGCM), independently of the C++ code.
constexpr char kPyDecrypt[] = R"PY(
import hashlib, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key = open(sys.argv[1], 'rb').read()
obj = open(sys.argv[2], 'rb').read()
hdr = obj[:32]
magic, version, chunk, fp, prefix = struct.unpack('>8sII8s8s', hdr)
assert magic == b'STRATAGC' and version == 1
assert fp == hashlib.sha256(b'strata-aes-gcm-key-v1' + key).digest()[:8]
aes, pos, i, out = AESGCM(key), 32, 0, []
while True:
    final = len(obj) - pos < chunk + 16
    rec = obj[pos:] if final else obj[pos:pos + chunk + 16]
    assert len(rec) >= 16
    iv = prefix + struct.pack('>I', i)
    aad = hdr + struct.pack('>QB', i, 1 if final else 0)
    out.append(aes.decrypt(iv, rec, aad))
    if final:
        break
    pos, i = pos + chunk + 16, i + 1
open(sys.argv[3], 'wb').write(b''.join(out))
)PY";

}  // namespace

TEST_CASE("aes-gcm stage: round trips at every chunk edge") {
  Fixture f;
  for (size_t size : {size_t{0}, size_t{1}, kC - 1, kC, kC + 1, 3 * kC,
                      size_t{(5 << 20) + 12345}}) {
    CAPTURE(size);
    const std::string data = RandomBytes(size, static_cast<unsigned>(size));
    auto put = f.Put("volumes/v/a.qcow2", data);
    REQUIRE(put.ok());
    const uint64_t expected_size = 32 + size + 16 * (size / kC + 1);
    CHECK(put->size == expected_size);
    auto st = f.store->Stat("volumes/v/a.qcow2", {});
    REQUIRE(st.ok());
    CHECK(st->size == expected_size);
    CHECK(st->sha256 == put->sha256);

    const std::string object = f.Object("volumes/v/a.qcow2");
    CHECK(object.size() == expected_size);
    CHECK(object.compare(0, 8, "STRATAGC") == 0);
    CHECK_FALSE(SharesRun(data, object, 64));

    Status s;
    CHECK(Get(*f.store, "volumes/v/a.qcow2", put->sha256, &s) == data);
    CHECK(s.ok());
    CHECK(Get(*f.store, "volumes/v/a.qcow2", "", &s) == data);
    CHECK(s.ok());
  }
}

TEST_CASE("aes-gcm stage: Python's cryptography decrypts the object") {
  if (system("/usr/bin/python3 -c 'import cryptography.hazmat.primitives."
             "ciphers.aead' 2>/dev/null") != 0)
    STRATA_SKIP("/usr/bin/python3 cannot import cryptography");
  Fixture f;
  const std::string data = RandomBytes((5 << 20) / 2 + 777, 7);
  auto put = f.Put("k", data);
  REQUIRE(put.ok());
  WriteFile(f.dir + "/decrypt.py", kPyDecrypt);
  const std::string plain = f.dir + "/plain";
  const std::string cmd = "/usr/bin/python3 '" + f.dir + "/decrypt.py' '" +
                          f.dir + "/key' '" + f.local->ObjectPath("k") + "' '" +
                          plain + "'";
  REQUIRE(system(cmd.c_str()) == 0);
  CHECK(ReadFile(plain) == data);
}

TEST_CASE("aes-gcm stage: each object gets a fresh nonce prefix") {
  Fixture f;
  const std::string data = RandomBytes(kC + 5, 3);
  REQUIRE(f.Put("a", data).ok());
  REQUIRE(f.Put("b", data).ok());
  const std::string a = f.Object("a"), b = f.Object("b");
  REQUIRE(a.size() == b.size());
  CHECK(a.compare(0, 24, b, 0, 24) == 0);  // same magic, sizes, key
  CHECK(a.compare(24, 8, b, 24, 8) != 0);  // nonce prefix differs
  CHECK(a.substr(32) != b.substr(32));
  Status s;
  CHECK(Get(*f.store, "a", "", &s) == data);
  CHECK(s.ok());
  CHECK(Get(*f.store, "b", "", &s) == data);
  CHECK(s.ok());
}

TEST_CASE("aes-gcm stage: the wrong key is refused, naming both keys") {
  Fixture f;
  auto put = f.Put("k", RandomBytes(2 * kC, 4));
  REQUIRE(put.ok());
  WriteFile(f.dir + "/key2", RandomBytes(32, 100));
  auto key2 = LoadAesKey(f.dir + "/key2");
  REQUIRE(key2.ok());
  REQUIRE(key2->fingerprint != f.key.fingerprint);
  auto other = MakeAesGcmStore(f.NewLocal(), *key2);
  Status s;
  CHECK(Get(*other, "k", put->sha256, &s).empty());
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK(s.message().find("different key") != std::string::npos);
  CHECK(s.message().find(f.key.fingerprint) != std::string::npos);
  CHECK(s.message().find(key2->fingerprint) != std::string::npos);
}

TEST_CASE("aes-gcm stage: a damaged chunk releases no plaintext of its own") {
  Fixture f;
  const std::string data = RandomBytes(4 * kC + 100, 5);
  REQUIRE(f.Put("k", data).ok());
  const std::string path = f.local->ObjectPath("k");
  const std::streamoff at = 32 + 2 * kRecord + kC / 2;  // chunk 2's middle
  std::string object = ReadFile(path);
  object[at] = static_cast<char>(object[at] ^ 0x01);
  WriteFile(path, object, 0640);
  Status s;
  const std::string got = Get(*f.store, "k", "", &s);
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK(s.message().find("authentication failed at chunk 2") !=
        std::string::npos);
  CHECK(got.size() <= 2 * kC);
  CHECK(got == data.substr(0, got.size()));
}

TEST_CASE("aes-gcm stage: truncated, reordered or altered objects") {
  Fixture f;
  const std::string data = RandomBytes(3 * kC + 1000, 6);
  auto put = f.Put("k", data);
  REQUIRE(put.ok());
  const std::string path = f.local->ObjectPath("k");
  std::string object = ReadFile(path);
  REQUIRE(object.size() == 32 + 3 * kRecord + 1016);
  std::string expect;  // part of the Corruption message

  SUBCASE("cut at a chunk boundary: the final chunk dropped") {
    object.resize(32 + 3 * kRecord);
    expect = "final chunk, is missing";
  }
  SUBCASE("cut in the middle of a chunk") {
    object.resize(32 + kRecord + kC / 2);
    expect = "authentication failed at chunk 1";
  }
  SUBCASE("cut inside the header") {
    object.resize(20);
    expect = "ends inside its header";
  }
  SUBCASE("two non-final chunks swapped") {
    const std::string c0 = object.substr(32, kRecord);
    const std::string c1 = object.substr(32 + kRecord, kRecord);
    object.replace(32, kRecord, c1);
    object.replace(32 + kRecord, kRecord, c0);
    expect = "authentication failed at chunk 0";
  }
  SUBCASE("the nonce prefix changed") {
    object[30] = static_cast<char>(object[30] ^ 0x80);
    expect = "authentication failed at chunk 0";
  }
  SUBCASE("the chunk size changed (the header is in every chunk's AAD)") {
    object[13] = 0x20;  // 1 MiB -> 2 MiB
    expect = "authentication failed at chunk 0";
  }
  SUBCASE("wrong magic") {
    object[0] = 'X';
    expect = "not a Strata AES-256-GCM object";
  }
  SUBCASE("unknown version") {
    object[11] = 2;
    expect = "unknown format version 2";
  }
  WriteFile(path, object, 0640);
  Status s;
  const std::string got = Get(*f.store, "k", "", &s);
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK_MESSAGE(s.message().find(expect) != std::string::npos, s.message());
  CHECK(got == data.substr(0, got.size()));
  CHECK(got.size() < data.size());
}

TEST_CASE("aes-gcm stage: with the recorded sha256 the store's check fires") {
  Fixture f;
  const std::string data = RandomBytes(2 * kC + 10, 8);
  auto put = f.Put("k", data);
  REQUIRE(put.ok());
  const std::string path = f.local->ObjectPath("k");
  REQUIRE(truncate(path.c_str(), 32 + 2 * kRecord) == 0);  // final chunk gone
  Status s;
  Get(*f.store, "k", put->sha256, &s);
  CHECK(s.code() == StatusCode::kCorruption);
  // The local store's digest, not the AES layer's final-chunk check.
  CHECK_MESSAGE(s.message().find("sha256 of the") != std::string::npos,
                s.message());
  CHECK(s.message().find("final chunk") == std::string::npos);
}

TEST_CASE("aes-gcm stage: stacked under zstd") {
  Fixture f;
  auto stacked = MakeZstdStore(MakeAesGcmStore(f.NewLocal(), f.key), 3);
  std::string data(2 << 20, '\0');
  for (int i = 0; i < 100000; ++i)
    data += "compressible record " + std::to_string(i % 50) + "\n";
  StringSource src(data);
  auto put = stacked->Put("z", src, {});
  REQUIRE(put.ok());
  CHECK(put->size < data.size() / 20);
  const std::string object = f.Object("z");
  CHECK(object.size() == put->size);
  CHECK(object.compare(0, 8, "STRATAGC") == 0);  // encrypted after zstd
  // The outermost stage (zstd) reports the caller's bytes' digest.
  Sha256 plain;
  plain.Update(data);
  CHECK(put->content_sha256 == plain.HexDigest());
  Status s;
  CHECK(Get(*stacked, "z", put->sha256, &s) == data);
  CHECK(s.ok());
}

TEST_CASE("aes-gcm stage: LoadAesKey") {
  Fixture f;
  const std::string raw = RandomBytes(32, 42);
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : raw) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  const std::string d = f.dir + "/";
  WriteFile(d + "raw", raw);
  WriteFile(d + "hex", hex + "\n");
  WriteFile(d + "HEX", [&] {
    std::string u = hex;
    for (auto& c : u) c = static_cast<char>(toupper(c));
    return u;
  }());
  auto r = LoadAesKey(d + "raw");
  auto h = LoadAesKey(d + "hex");
  auto u = LoadAesKey(d + "HEX");
  REQUIRE(r.ok());
  REQUIRE(h.ok());
  REQUIRE(u.ok());
  CHECK(std::string(r->bytes.begin(), r->bytes.end()) == raw);
  CHECK(h->bytes == r->bytes);
  CHECK(u->bytes == r->bytes);
  CHECK(r->fingerprint.size() == 16);
  CHECK(h->fingerprint == r->fingerprint);
  Sha256 sha;
  sha.Update("strata-aes-gcm-key-v1" + raw);
  CHECK(r->fingerprint == sha.HexDigest().substr(0, 16));

  auto invalid = [&](const std::string& name, const std::string& content,
                     const std::string& says, mode_t mode = 0600) {
    CAPTURE(name);
    WriteFile(d + name, content, mode);
    auto k = LoadAesKey(d + name);
    REQUIRE_FALSE(k.ok());
    CHECK(k.status().code() == StatusCode::kInvalidArgument);
    CHECK(k.status().message().find(d + name) != std::string::npos);
    CHECK_MESSAGE(k.status().message().find(says) != std::string::npos,
                  k.status().message());
  };
  invalid("short", raw.substr(0, 31), "holds 31 bytes");
  invalid("long", hex + "a", "holds 65 bytes");
  invalid("huge", std::string(4096, 'a'), "holds 4096 bytes");
  invalid("raw-newline", raw + "\n", "holds 33 bytes");
  invalid("nothex", "g" + hex.substr(1), "bad hex digit at offset 0");
  invalid("open", raw, "chmod 600", 0644);
  invalid("group", raw, "mode 0640", 0640);

  auto missing = LoadAesKey(d + "absent");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kInvalidArgument);
  CHECK(missing.status().message().find(d + "absent") != std::string::npos);
}
