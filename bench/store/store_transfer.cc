// store_transfer: moves one file into or out of a store through Strata's
// store drivers and relay stages, and prints what it measured, for
// bench/store_bench.sh to set next to curl and cp:
//   store_transfer put SPEC KEY FILE [--zstd LEVEL] [--aes KEYFILE]
//   store_transfer get SPEC KEY FILE [SHA256] [--zstd LEVEL] [--aes KEYFILE]
// (relay stages stacked as stratad does: zstd over AES-256-GCM over SPEC).
// A get without SHA256 checks nothing: the transfer alone, which the engine
// never does (it always passes the catalog's digest); the bench sets it
// beside the verified get to show what the SHA-256 check costs.
// Output, one line: "<op> <bytes> <ms> <peak RSS KiB> <sha256>" (bytes and
// sha256 as the store reports them for put; the file's size for get). A get
// writes FILE without fsync, as `curl -o` does; exit 1 on any error.
#include <sys/resource.h>

#include <cstdio>
#include <string>

#include "storage-drivers/relay/aes_gcm_store.h"
#include "storage-drivers/relay/zstd_store.h"
#include "storage-drivers/store_registry.h"
#include "util/time_util.h"

using namespace strata;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: store_transfer put|get SPEC KEY FILE [SHA256] "
                 "[--zstd LEVEL] [--aes KEYFILE]\n");
    return 2;
  }
  const std::string op = argv[1], spec = argv[2], key = argv[3], file = argv[4];
  std::string sha;
  int zstd_level = 0;
  std::string aes_key_file;
  for (int i = 5; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--zstd" && i + 1 < argc)
      zstd_level = std::stoi(argv[++i]);
    else if (a == "--aes" && i + 1 < argc)
      aes_key_file = argv[++i];
    else
      sha = a;
  }
  store::RegisterBuiltinStores();
  auto made = store::StoreRegistry::Global().Create(spec);
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<store::Store> s = std::move(*made);
  if (!aes_key_file.empty()) {
    auto key = store::LoadAesKey(aes_key_file);
    if (!key.ok()) {
      std::fprintf(stderr, "%s\n", key.status().ToString().c_str());
      return 1;
    }
    s = store::MakeAesGcmStore(std::move(s), *key);
  }
  if (zstd_level > 0) s = store::MakeZstdStore(std::move(s), zstd_level);

  const int64_t start = MonotonicMicros();
  uint64_t bytes = 0;
  if (op == "put") {
    auto put = store::PutFile(*s, key, file, {});
    if (!put.ok()) {
      std::fprintf(stderr, "%s\n", put.status().ToString().c_str());
      return 1;
    }
    bytes = put->size;
    sha = put->sha256;
  } else if (op == "get") {
    FileSinkOptions plain;
    plain.durable = false;
    Status g = store::GetToFile(*s, key, file, sha, {}, plain);
    if (!g.ok()) {
      std::fprintf(stderr, "%s\n", g.ToString().c_str());
      return 1;
    }
    auto src = FileSource::Open(file);
    if (src.ok()) bytes = (*src)->size();
  } else {
    std::fprintf(stderr, "unknown operation %s\n", op.c_str());
    return 2;
  }
  const double ms = (MonotonicMicros() - start) / 1000.0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("%s %llu %.1f %ld %s\n", op.c_str(),
              static_cast<unsigned long long>(bytes), ms, ru.ru_maxrss,
              sha.c_str());
  return 0;
}
