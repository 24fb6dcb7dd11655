// The chunked XXH3-128 file check. See file_check.h.
#include "util/file_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t's definition
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <thread>
#include <vector>

#include "util/fs.h"
#include "util/guarded.h"
#include "util/hex.h"
#include "util/log.h"

namespace strata {
namespace {

constexpr std::string_view kPrefix = "xxh3-128/64MiB:";
constexpr size_t kReadBytes = 1 << 20;

XXH3_state_t* NewState() {
  XXH3_state_t* s = XXH3_createState();
  if (s == nullptr) std::abort();  // out of memory for 576 bytes
  XXH3_128bits_reset(s);
  return s;
}

using ChunkDigest = std::array<unsigned char, 16>;

// The digest in its canonical (big-endian) bytes.
ChunkDigest Canonical(XXH128_hash_t h) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  ChunkDigest d;
  std::copy(std::begin(c.digest), std::end(c.digest), d.begin());
  return d;
}

// The fold of the chunk digests, in order, and the length.
std::string Fold(const std::vector<ChunkDigest>& chunks, uint64_t total) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> fold(
      NewState(), &XXH3_freeState);
  for (const auto& c : chunks)
    XXH3_128bits_update(fold.get(), c.data(), c.size());
  unsigned char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<unsigned char>(total >> (8 * i));
  XXH3_128bits_update(fold.get(), len, sizeof len);
  const ChunkDigest d = Canonical(XXH3_128bits_digest(fold.get()));
  return std::string(kPrefix) + HexEncode(d.data(), d.size());
}

}  // namespace

void FileCheckHasher::StateFree::operator()(XXH3_state_s* s) const {
  XXH3_freeState(s);
}

FileCheckHasher::FileCheckHasher() : chunk_(NewState()) {}
FileCheckHasher::~FileCheckHasher() = default;

void FileCheckHasher::Update(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const size_t take = static_cast<size_t>(
        std::min<uint64_t>(n, kFileCheckChunkBytes - in_chunk_));
    XXH3_128bits_update(chunk_.get(), c, take);
    in_chunk_ += take;
    total_ += take;
    c += take;
    n -= take;
    if (in_chunk_ == kFileCheckChunkBytes) EndChunk();
  }
}

void FileCheckHasher::EndChunk() {
  chunks_.push_back(Canonical(XXH3_128bits_digest(chunk_.get())));
  XXH3_128bits_reset(chunk_.get());
  in_chunk_ = 0;
}

std::string FileCheckHasher::Finish() {
  if (in_chunk_ > 0) EndChunk();
  return Fold(chunks_, total_);
}

Result<std::string> FileCheck(const std::string& path, int threads) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::FromErrno("open " + path, errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0)
    return Status::FromErrno("stat " + path, errno);
  const uint64_t total = static_cast<uint64_t>(st.st_size);
  const size_t n_chunks = static_cast<size_t>(
      (total + kFileCheckChunkBytes - 1) / kFileCheckChunkBytes);
  std::vector<ChunkDigest> chunks(n_chunks);
  std::atomic<size_t> next{0};
  std::atomic<int> failed_errno{0};
  auto work = [&] {
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(
        NewState(), &XXH3_freeState);
    std::vector<char> buf(kReadBytes);
    for (size_t i; (i = next.fetch_add(1)) < n_chunks;) {
      XXH3_128bits_reset(state.get());
      const uint64_t begin = i * kFileCheckChunkBytes;
      const uint64_t end = std::min(total, begin + kFileCheckChunkBytes);
      for (uint64_t off = begin; off < end;) {
        const size_t want =
            static_cast<size_t>(std::min<uint64_t>(kReadBytes, end - off));
        ssize_t got =
            pread(fd.get(), buf.data(), want, static_cast<off_t>(off));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {  // an error, or the file shrank under us
          failed_errno = got < 0 ? errno : EIO;
          next.store(n_chunks);
          return;
        }
        XXH3_128bits_update(state.get(), buf.data(), static_cast<size_t>(got));
        off += static_cast<uint64_t>(got);
      }
      chunks[i] = Canonical(XXH3_128bits_digest(state.get()));
    }
  };
  std::vector<std::thread> helpers;
  const size_t n_helpers =
      std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), n_chunks);
  // An exception on any thread fails the check (a chunk left unhashed
  // must not fold into a wrong answer) instead of ending the process.
  auto guarded = [&] {
    Status s = CatchAll("util.file_check", [&] {
      work();
      return Status::OK();
    });
    if (!s.ok()) {
      LogWarning("file check of " + path + ": " + s.message());
      failed_errno = EIO;
      next.store(n_chunks);
    }
  };
  for (size_t t = 1; t < n_helpers; ++t) helpers.emplace_back(guarded);
  guarded();
  for (auto& h : helpers) h.join();
  if (failed_errno != 0)
    return Status::FromErrno("read " + path, failed_errno.load());
  return Fold(chunks, total);
}

bool IsFileCheck(std::string_view s) {
  if (s.size() != kPrefix.size() + 32 || s.substr(0, kPrefix.size()) != kPrefix)
    return false;
  for (char c : s.substr(kPrefix.size()))
    if (HexDigitValue(c) < 0) return false;
  return true;
}

}  // namespace strata
