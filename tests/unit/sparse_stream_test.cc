// Tests for util/sparse_stream (issue 17): a sparse file streamed as its
// data extents decodes to the same bytes with the same holes, the stream is
// no bigger than its data and table, and a stream that is not one (cut,
// padded, reordered, out of bounds) is refused before anything appears.
#include "util/sparse_stream.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "util/fs.h"

namespace strata {
namespace {

using testing::TempDir;

// A file of `size` bytes with `data` written at each offset, holes between.
void MakeSparse(const std::string& path, uint64_t size,
                const std::vector<std::pair<uint64_t, std::string>>& data) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
  REQUIRE(fd.valid());
  for (const auto& [off, bytes] : data)
    REQUIRE(PwriteAll(fd.get(), bytes.data(), bytes.size(), off, path).ok());
  REQUIRE(ftruncate(fd.get(), static_cast<off_t>(size)) == 0);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uint64_t DataBytesOf(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY));
  REQUIRE(fd.valid());
  auto e = DataExtents(fd.get(), ReadAll(path).size());
  REQUIRE(e.ok());
  uint64_t n = 0;
  for (const Extent& x : *e) n += x.length;
  return n;
}

// The stream of `path`, read `chunk` bytes at a time.
std::string Encode(const std::string& path, size_t chunk = 1 << 20) {
  auto src = SparseFileSource::Open(path);
  REQUIRE(src.ok());
  std::string out, buf(chunk, '\0');
  for (;;) {
    auto r = (*src)->Read(buf.data(), buf.size());
    REQUIRE(r.ok());
    if (*r == 0) break;
    out.append(buf.data(), *r);
  }
  CHECK(out.size() == (*src)->size());
  return out;
}

// Decodes `stream` into `path`, `chunk` bytes per Write.
Status Decode(const std::string& stream, const std::string& path,
              size_t chunk = 1 << 20) {
  STRATA_ASSIGN_OR_RETURN(auto sink, FileSink::Create(path));
  SparseDecoder d(sink.get());
  for (size_t at = 0; at < stream.size(); at += chunk)
    STRATA_RETURN_IF_ERROR(
        d.Write(stream.data() + at, std::min(chunk, stream.size() - at)));
  STRATA_RETURN_IF_ERROR(d.Finish());
  return sink->Commit();
}

TEST_CASE("a sparse file round-trips: same bytes, same holes") {
  TempDir t;
  const std::string in = t.File("layer"), out = t.File("back");
  const std::string a(4096, 'a'), b(8192, 'b'), c(4096, 'c');
  MakeSparse(in, 64 << 20, {{0, a}, {1 << 20, b}, {(64 << 20) - 4096, c}});
  const std::string stream = Encode(in);
  // Header and table, then the data: nothing for the holes.
  CHECK(stream.size() == 32 + 3 * 16 + a.size() + b.size() + c.size());
  CHECK(stream.compare(0, 16, kSparseMagic) == 0);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 20}) {
    CAPTURE(chunk);
    REQUIRE(Decode(stream, out, chunk).ok());
    CHECK(ReadAll(out) == ReadAll(in));
    CHECK(DataBytesOf(out) <= 2 * DataBytesOf(in));  // holes stayed holes
    CHECK(DataBytesOf(out) < (1 << 20));
  }
  // Read in small pieces, the stream is the same.
  CHECK(Encode(in, 5) == stream);
}

TEST_CASE("empty, all-hole and dense files round-trip") {
  TempDir t;
  const std::string in = t.File("in"), out = t.File("out");
  MakeSparse(in, 0, {});
  REQUIRE(Decode(Encode(in), out).ok());
  CHECK(ReadAll(out).empty());
  MakeSparse(in, 1 << 20, {});
  CHECK(Encode(in).size() == 32);
  REQUIRE(Decode(Encode(in), out).ok());
  CHECK(ReadAll(out) == std::string(1 << 20, '\0'));
  std::string dense(3 << 20, 'd');
  for (size_t i = 0; i < dense.size(); i += 4093) dense[i] = 'x';
  MakeSparse(in, dense.size(), {{0, dense}});
  REQUIRE(Decode(Encode(in), out).ok());
  CHECK(ReadAll(out) == dense);
}

TEST_CASE("a stream that is not one is refused and nothing appears") {
  TempDir t;
  const std::string in = t.File("in"), out = t.File("out");
  MakeSparse(in, 1 << 20,
             {{4096, std::string(4096, 'a')}, {65536, std::string(4096, 'b')}});
  const std::string good = Encode(in);
  auto refused = [&](const std::string& stream, const char* what) {
    CAPTURE(what);
    Status s = Decode(stream, out);
    CHECK(s.code() == StatusCode::kCorruption);
    CHECK_FALSE(PathExists(out));
  };
  auto be64 = [](std::string* s, size_t at, uint64_t v) {
    for (int i = 7; i >= 0; --i, v >>= 8) (*s)[at + i] = static_cast<char>(v);
  };
  std::string s = good;
  s[0] = 'X';
  refused(s, "bad magic");
  refused(good.substr(0, 20), "cut in the header");
  refused(good.substr(0, 40), "cut in the table");
  refused(good.substr(0, good.size() - 1), "cut in the data");
  refused(good + "z", "a byte after the last extent");
  s = good;
  be64(&s, 32, 65536);  // the first extent now overlaps the second
  refused(s, "extents out of order");
  s = good;
  be64(&s, 48 + 8, 1 << 20);  // the second extent runs past the end
  refused(s, "an extent past the end");
  s = good;
  be64(&s, 40, 0);  // an empty extent
  refused(s, "an empty extent");
  s = good;
  be64(&s, 24, kMaxExtents + 1);
  refused(s, "too many extents");
  refused("", "nothing at all");
  REQUIRE(Decode(good, out).ok());  // the good one, for contrast
  CHECK(ReadAll(out) == ReadAll(in));
}

}  // namespace
}  // namespace strata
