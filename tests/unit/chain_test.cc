// Unit tests for engine/layer_names and engine/chain: the names of the files
// Strata keeps next to a disk (pure string logic), and ReadChain over real
// qcow2/raw files made by qemu-img: absolute and relative backing names, a
// raw bottom, missing backing files, loops, the 32-file depth limit, the
// classification of Strata-named layers, and FirstNonSnapshotBelow.
//
// Needs qemu-img on PATH for the file-based cases (they skip without it).
// Each case uses its own mkdtemp directory, removed at the end.
#include "engine/chain.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "engine/layer_names.h"
#include "skip.h"
#include "temp_dir.h"
#include "util/fs.h"
#include "util/subprocess.h"
#include "util/uuid.h"

using namespace strata;
using namespace strata::engine;

using strata::testing::TempDir;

namespace {

const std::string kId1 = "0b5c3b8e-1f5e-4a4c-9a39-6f1f1f5e2d01";
const std::string kId2 = "7d2e4c11-90ab-4cde-8f01-23456789abcd";
const std::string kId3 = "ffffffff-0000-4000-8000-000000000003";

// A fresh directory under /tmp (canonical), removed on destruction.
bool HaveQemuImg() {
  static const bool have = [] {
    auto r = RunProcess({"qemu-img", "--version"});
    return r.ok() && r->exit_code == 0;
  }();
  return have;
}

#define SKIP_WITHOUT_QEMU_IMG() \
  if (!HaveQemuImg()) STRATA_SKIP("qemu-img not found on PATH")

void QemuImg(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"qemu-img"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunChecked(argv);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
}

// A qcow2 image with no backing file.
void CreateBase(const std::string& path, const std::string& size = "1M") {
  QemuImg({"create", "-q", "-f", "qcow2", path, size});
}

// A qcow2 overlay whose header names `backing` (verbatim: relative names
// stay relative) with format `fmt`. -u: the backing file is not opened, so
// it may be missing or form a loop.
void CreateOverlay(const std::string& path, const std::string& backing,
                   const std::string& fmt = "qcow2") {
  QemuImg({"create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", fmt, path,
           "1M"});
}

// Rewrites the backing name in `path`'s header without touching data.
void Rebase(const std::string& path, const std::string& backing,
            const std::string& fmt = "qcow2") {
  QemuImg(
      {"rebase", "-q", "-u", "-f", "qcow2", "-b", backing, "-F", fmt, path});
}

// Renames the backing-format header extension (0xE2792ACA) of `path` to an
// unknown type, so the image names a backing file but no format.
void ForgetBackingFormat(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  std::string head(4096, '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  const std::string magic = "\xE2\x79\x2A\xCA";
  // Extensions follow the header (72 bytes in v2, more in v3).
  size_t pos = head.find(magic, 72);
  REQUIRE(pos != std::string::npos);
  f.clear();
  f.seekp(static_cast<std::streamoff>(pos));
  f.write("\x12\x34\x56\x78", 4);
  REQUIRE(f.good());
}

std::string Canon(const std::string& p) {
  auto c = CanonicalPath(p);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return *c;
}

std::vector<std::string> CanonPaths(const Chain& c) {
  std::vector<std::string> out;
  for (const auto& l : c.layers) out.push_back(Canon(l.path));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Layer names (pure logic).

TEST_CASE("DiskStem drops one .qcow2 and the directory") {
  CHECK(DiskStem("/d/vm1.qcow2") == "vm1");
  CHECK(DiskStem("vm1.qcow2") == "vm1");
  CHECK(DiskStem("/var/lib/nova/instances/abc/disk") == "disk");
  CHECK(DiskStem("/d/a.b.qcow2") == "a.b");
  CHECK(DiskStem("/d/vm1.qcow2.qcow2") == "vm1.qcow2");
  CHECK(DiskStem("/d/vm1.img") == "vm1.img");
  CHECK(DiskStem("/d/.qcow2") == ".qcow2");  // nothing would be left
}

TEST_CASE("SnapshotLayerPath, NewHistoryPath and TempPath") {
  const std::string disk = "/d/vm1.qcow2";
  CHECK(SnapshotLayerPath(disk, kId1) == "/d/vm1.snap-" + kId1 + ".qcow2");
  CHECK(SnapshotLayerPath("/var/lib/nova/instances/abc/disk", kId1) ==
        "/var/lib/nova/instances/abc/disk.snap-" + kId1 + ".qcow2");

  std::string h1 = NewHistoryPath(disk, kId2);
  std::string h2 = NewHistoryPath(disk, kId2);
  CHECK(h1 != h2);  // the tag keeps them apart
  for (const auto& h : {h1, h2}) {
    CAPTURE(h);
    const std::string prefix = "/d/vm1.history-" + kId2 + "-";
    REQUIRE(h.size() == prefix.size() + 8 + 6);
    CHECK(h.compare(0, prefix.size(), prefix) == 0);
    CHECK(h.compare(h.size() - 6, 6, ".qcow2") == 0);
    LayerName n = ParseLayerName(disk, h);
    CHECK(n.kind == LayerKind::kHistory);
    CHECK(n.snapshot_id == kId2);
  }

  CHECK(TempPath(disk, "overlay", kId3) ==
        "/d/.vm1.strata-overlay-" + kId3 + ".qcow2");
  CHECK(TempPath(disk, "merge", "x") == "/d/.vm1.strata-merge-x.qcow2");
}

TEST_CASE("ParseLayerName round-trips snapshot and history names") {
  const std::string disk = "/d/vm1.qcow2";
  LayerName s = ParseLayerName(disk, SnapshotLayerPath(disk, kId1));
  CHECK(s.kind == LayerKind::kSnapshot);
  CHECK(s.snapshot_id == kId1);

  LayerName h = ParseLayerName(disk, NewHistoryPath(disk, kId3));
  CHECK(h.kind == LayerKind::kHistory);
  CHECK(h.snapshot_id == kId3);

  // Fresh UUIDs too.
  for (int i = 0; i < 20; ++i) {
    std::string id = NewUuid();
    CHECK(ParseLayerName(disk, SnapshotLayerPath(disk, id)).snapshot_id == id);
    CHECK(ParseLayerName(disk, NewHistoryPath(disk, id)).snapshot_id == id);
  }

  // A disk without an extension (Nova's "disk").
  const std::string nova = "/i/abc/disk";
  LayerName n = ParseLayerName(nova, SnapshotLayerPath(nova, kId2));
  CHECK(n.kind == LayerKind::kSnapshot);
  CHECK(n.snapshot_id == kId2);

  // The disk itself is not one of its layers.
  CHECK(ParseLayerName(disk, disk).kind == LayerKind::kForeign);
}

TEST_CASE("ParseLayerName rejects names that are not this disk's layers") {
  const std::string disk = "/d/vm1.qcow2";
  auto foreign = [&](const std::string& path) {
    CAPTURE(path);
    LayerName n = ParseLayerName(disk, path);
    CHECK(n.kind == LayerKind::kForeign);
    CHECK(n.snapshot_id.empty());
  };
  // Another disk's stem (also one that merely starts with ours).
  foreign("/d/vm2.snap-" + kId1 + ".qcow2");
  foreign("/d/vm10.snap-" + kId1 + ".qcow2");
  foreign("/d/vm10.history-" + kId1 + "-abcdef01.qcow2");
  foreign("/d/xvm1.snap-" + kId1 + ".qcow2");
  // Another directory.
  foreign("/e/vm1.snap-" + kId1 + ".qcow2");
  foreign("/d/sub/vm1.snap-" + kId1 + ".qcow2");
  foreign("vm1.snap-" + kId1 + ".qcow2");
  // Malformed UUIDs.
  foreign("/d/vm1.snap-" + kId1.substr(0, 35) + ".qcow2");
  foreign("/d/vm1.snap-0b5c3b8e-1f5e-4a4c-9a39-6f1f1f5e2d0g.qcow2");
  foreign("/d/vm1.snap-0b5c3b8e1-f5e-4a4c-9a39-6f1f1f5e2d01.qcow2");
  foreign("/d/vm1.snap-0b5c3b8e_1f5e_4a4c_9a39_6f1f1f5e2d01.qcow2");
  foreign("/d/vm1.snap-.qcow2");
  foreign("/d/vm1.snap-");
  foreign("/d/vm1.history-not-a-uuid-abcdef01.qcow2");
  // Wrong suffix.
  foreign("/d/vm1.snap-" + kId1 + ".qcow2.bak");
  foreign("/d/vm1.snap-" + kId1 + ".raw");
  foreign("/d/vm1.snap-" + kId1);
  foreign("/d/vm1.snap-" + kId1 + "-abcdef01.qcow2");  // a tag on a snap
  foreign("/d/vm1.history-" + kId1 + ".qcow2");        // history without tag
  foreign("/d/vm1.history-" + kId1 + "-abc.qcow2");    // short tag
  foreign("/d/vm1.history-" + kId1 + "-abcdef012.qcow2");
  foreign("/d/vm1.history-" + kId1 + "_abcdef01.qcow2");
  foreign("/d/vm1.history-" + kId1 + "-abcdef01.qcow3");
  // Strata's temporaries are not layers.
  foreign(TempPath(disk, "overlay", kId1));
  foreign(TempPath(disk, "snap", kId1));
  foreign("/d/.vm1.snap-" + kId1 + ".qcow2");
}

TEST_CASE("IsTempOf recognises this disk's temporaries only") {
  const std::string disk = "/d/vm1.qcow2";
  CHECK(IsTempOf(disk, TempPath(disk, "overlay", kId1)));
  CHECK(IsTempOf(disk, TempPath(disk, "merge", kId2)));
  CHECK(IsTempOf(disk, "/d/.vm1.strata-download-x"));
  CHECK_FALSE(IsTempOf(disk, TempPath("/d/vm2.qcow2", "overlay", kId1)));
  CHECK_FALSE(IsTempOf(disk, TempPath("/d/vm10.qcow2", "overlay", kId1)));
  CHECK_FALSE(IsTempOf(disk, TempPath("/e/vm1.qcow2", "overlay", kId1)));
  CHECK_FALSE(IsTempOf(disk, SnapshotLayerPath(disk, kId1)));
  CHECK_FALSE(IsTempOf(disk, NewHistoryPath(disk, kId1)));
  CHECK_FALSE(IsTempOf(disk, disk));
  CHECK_FALSE(IsTempOf(disk, "/d/vm1.strata-overlay-x.qcow2"));  // no dot
}

// ---------------------------------------------------------------------------
// ReadChain on real files.

TEST_CASE("ReadChain: three qcow2 files with absolute backing names") {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string base = t.File("base.qcow2"), mid = t.File("mid.qcow2"),
                    top = t.File("top.qcow2");
  CreateBase(base, "2M");
  CreateOverlay(mid, base);
  CreateOverlay(top, mid);

  auto c = ReadChain(top, top);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  REQUIRE(c->length() == 3);
  CHECK(c->top().path == top);
  CHECK(c->layers[1].path == mid);
  CHECK(c->layers[2].path == base);
  for (const auto& l : c->layers) {
    CHECK(l.format == "qcow2");
    CHECK(l.header.version == 3);
    CHECK(l.name.kind == LayerKind::kForeign);
  }
  CHECK(c->layers[0].header.backing_file == mid);
  CHECK(c->layers[0].header.backing_format == "qcow2");
  CHECK(c->layers[2].header.backing_file.empty());
  CHECK(c->layers[2].header.virtual_size == 2u << 20);

  // Reading from the middle gives the lower part.
  auto lower = ReadChain(mid, mid);
  REQUIRE(lower.ok());
  CHECK(lower->length() == 2);
  // A single file is a chain of one.
  auto one = ReadChain(base, base);
  REQUIRE(one.ok());
  CHECK(one->length() == 1);
  // A missing top is NotFound.
  auto none = ReadChain(t.File("nope.qcow2"), t.File("nope.qcow2"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().IsNotFound());
}

TEST_CASE(
    "ReadChain: relative backing names resolve against the naming "
    "file's directory") {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  REQUIRE(MakeDirs(t.File("a/b")).ok());
  REQUIRE(MakeDirs(t.File("c")).ok());
  // t/base.qcow2 ← t/a/mid.qcow2 ("../base.qcow2") ← t/a/b/top.qcow2
  // ("../mid.qcow2") ; plus t/a/b/same.qcow2 ("top.qcow2", same dir), and
  // t/c/far.qcow2 ("../a/b/same.qcow2").
  CreateBase(t.File("base.qcow2"));
  CreateOverlay(t.File("a/mid.qcow2"), "../base.qcow2");
  CreateOverlay(t.File("a/b/top.qcow2"), "../mid.qcow2");
  CreateOverlay(t.File("a/b/same.qcow2"), "top.qcow2");
  CreateOverlay(t.File("c/far.qcow2"), "../a/b/same.qcow2");

  auto c = ReadChain(t.File("c/far.qcow2"), t.File("c/far.qcow2"));
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  CHECK(CanonPaths(*c) == std::vector<std::string>{
                              t.File("c/far.qcow2"), t.File("a/b/same.qcow2"),
                              t.File("a/b/top.qcow2"), t.File("a/mid.qcow2"),
                              t.File("base.qcow2")});
  // The header keeps the name as written; the layer path is resolved.
  CHECK(c->layers[1].header.backing_file == "top.qcow2");
  for (const auto& l : c->layers) CHECK(l.path[0] == '/');

  // A decoy with the same name in the reader's own directory must not be
  // picked: "../base.qcow2" from t/a/mid.qcow2 is t/base.qcow2, never
  // t/a/b/../base.qcow2 = t/a/base.qcow2.
  CreateBase(t.File("a/base.qcow2"), "3M");
  auto again = ReadChain(t.File("a/b/top.qcow2"), t.File("a/b/top.qcow2"));
  REQUIRE(again.ok());
  REQUIRE(again->length() == 3);
  CHECK(Canon(again->layers[2].path) == t.File("base.qcow2"));
  CHECK(again->layers[2].header.virtual_size == 1u << 20);

  // A relative name set afterwards with rebase -u resolves the same way.
  Rebase(t.File("a/b/top.qcow2"), "../../base.qcow2");
  auto rebased = ReadChain(t.File("a/b/top.qcow2"), t.File("a/b/top.qcow2"));
  REQUIRE(rebased.ok());
  CHECK(
      CanonPaths(*rebased) ==
      std::vector<std::string>{t.File("a/b/top.qcow2"), t.File("base.qcow2")});
}

TEST_CASE("ReadChain: a raw base at the bottom") {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string raw = t.File("base.raw"), top = t.File("top.qcow2");
  QemuImg({"create", "-q", "-f", "raw", raw, "1M"});
  QemuImg({"create", "-q", "-f", "qcow2", "-b", raw, "-F", "raw", top});

  auto c = ReadChain(top, top);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  REQUIRE(c->length() == 2);
  CHECK(c->layers[0].format == "qcow2");
  CHECK(c->layers[0].header.backing_format == "raw");
  CHECK(c->layers[1].format == "raw");
  CHECK(c->layers[1].path == raw);

  // A raw base under a qcow2 middle layer.
  const std::string mid = top, over = t.File("over.qcow2");
  CreateOverlay(over, mid);
  auto d = ReadChain(over, over);
  REQUIRE(d.ok());
  REQUIRE(d->length() == 3);
  CHECK(d->layers[2].format == "raw");

  // A top that is itself raw is refused (the disk must be qcow2).
  auto r = ReadChain(raw, raw);
  CHECK_FALSE(r.ok());

  // A backing format Strata does not handle is NotSupported: declared for a
  // file that parses as qcow2…
  const std::string odd = t.File("odd.qcow2");
  CreateOverlay(odd, mid);
  Rebase(odd, mid, "vmdk");
  auto o = ReadChain(odd, odd);
  REQUIRE_FALSE(o.ok());
  CHECK(o.status().code() == StatusCode::kNotSupported);
  CHECK(o.status().message().find("vmdk") != std::string::npos);
  // …and for one that does not (as a real vmdk would not).
  Rebase(odd, raw, "vmdk");
  auto v = ReadChain(odd, odd);
  REQUIRE_FALSE(v.ok());
  CHECK(v.status().code() == StatusCode::kNotSupported);
}

TEST_CASE("ReadChain: a backing file without a declared format is probed") {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  // qemu-img no longer writes backing names without a format, but older
  // images have them: drop the backing-format extension by renaming its
  // type to one the reader ignores.
  const std::string raw = t.File("base.raw"), top = t.File("top.qcow2");
  QemuImg({"create", "-q", "-f", "raw", raw, "1M"});
  CreateOverlay(top, raw, "raw");
  ForgetBackingFormat(top);
  auto c = ReadChain(top, top);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  CHECK(c->layers[0].header.backing_format.empty());
  REQUIRE(c->length() == 2);
  CHECK(c->layers[1].format == "raw");

  const std::string base = t.File("base.qcow2"), over = t.File("over.qcow2");
  CreateBase(base);
  CreateOverlay(over, base);
  ForgetBackingFormat(over);
  auto q = ReadChain(over, over);
  REQUIRE_MESSAGE(q.ok(), q.status().ToString());
  REQUIRE(q->length() == 2);
  CHECK(q->layers[1].format == "qcow2");
}

TEST_CASE("ReadChain: a missing backing file is NotFound and named") {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string top = t.File("top.qcow2"), mid = t.File("mid.qcow2");
  CreateOverlay(mid, t.File("gone-base.qcow2"));
  CreateOverlay(top, mid);
  auto c = ReadChain(top, top);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().IsNotFound());
  CHECK(c.status().message().find("gone-base.qcow2") != std::string::npos);

  // A relative missing name is reported resolved, next to its referrer.
  CreateOverlay(top, "missing-rel.qcow2");
  auto r = ReadChain(top, top);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().IsNotFound());
  CHECK(r.status().message().find(t.File("missing-rel.qcow2")) !=
        std::string::npos);
}

TEST_CASE("ReadChain: a backing loop is Corruption") {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string a = t.File("a.qcow2"), b = t.File("b.qcow2");
  CreateBase(a);
  CreateOverlay(b, a);
  Rebase(a, b);  // a → b → a
  auto c = ReadChain(a, a);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == StatusCode::kCorruption);
  CHECK(c.status().message().find("loop") != std::string::npos);
  auto from_b = ReadChain(b, b);
  REQUIRE_FALSE(from_b.ok());
  CHECK(from_b.status().code() == StatusCode::kCorruption);

  // A file backed by itself, by a relative name.
  const std::string self = t.File("self.qcow2");
  CreateBase(self);
  Rebase(self, "self.qcow2");
  auto s = ReadChain(self, self);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == StatusCode::kCorruption);

  // A loop spelled with different names for the same file (./a.qcow2).
  const std::string x = t.File("x.qcow2"), y = t.File("y.qcow2");
  CreateBase(x);
  CreateOverlay(y, "x.qcow2");
  Rebase(x, "./y.qcow2");
  auto xy = ReadChain(y, y);
  REQUIRE_FALSE(xy.ok());
  CHECK(xy.status().code() == StatusCode::kCorruption);
}

TEST_CASE("ReadChain: 32 files are fine, 33 are Corruption") {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  auto name = [&](int i) { return t.File("f" + std::to_string(i) + ".qcow2"); };
  CreateBase(name(0));
  for (int i = 1; i <= 32; ++i) CreateOverlay(name(i), name(i - 1));

  auto ok = ReadChain(name(31), name(31));  // f31 … f0: 32 files
  REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
  CHECK(ok->length() == 32);

  auto deep = ReadChain(name(32), name(32));  // 33 files
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.status().code() == StatusCode::kCorruption);
  CHECK(deep.status().message().find("32") != std::string::npos);
}

TEST_CASE("ReadChain classifies Strata-named layers; FirstNonSnapshotBelow") {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  REQUIRE(MakeDirs(t.File("base")).ok());
  const std::string disk = t.File("vm1.qcow2");
  const std::string base = t.File("base/image");  // a foreign base elsewhere
  const std::string hist = NewHistoryPath(disk, kId1);
  const std::string s2 = SnapshotLayerPath(disk, kId2);
  const std::string s3 = SnapshotLayerPath(disk, kId3);
  CreateBase(base);
  CreateOverlay(hist, base);
  CreateOverlay(s2, hist);
  CreateOverlay(s3, s2);
  CreateOverlay(disk, s3);

  auto c = ReadChain(disk, disk);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  REQUIRE(c->length() == 5);
  CHECK(c->layers[0].name.kind == LayerKind::kForeign);  // the disk itself
  CHECK(c->layers[1].name.kind == LayerKind::kSnapshot);
  CHECK(c->layers[1].name.snapshot_id == kId3);
  CHECK(c->layers[2].name.kind == LayerKind::kSnapshot);
  CHECK(c->layers[2].name.snapshot_id == kId2);
  CHECK(c->layers[3].name.kind == LayerKind::kHistory);
  CHECK(c->layers[3].name.snapshot_id == kId1);
  CHECK(c->layers[4].name.kind == LayerKind::kForeign);
  CHECK(c->layers[4].name.snapshot_id.empty());

  CHECK(c->FirstNonSnapshotBelow(0) == 3);  // skips both snaps → history
  CHECK(c->FirstNonSnapshotBelow(1) == 3);
  CHECK(c->FirstNonSnapshotBelow(2) == 3);
  CHECK(c->FirstNonSnapshotBelow(3) == 4);  // the foreign base
  CHECK(c->FirstNonSnapshotBelow(4) == 5);  // none: length()

  // Classification is relative to disk_path, not to the top being read.
  auto from_snap = ReadChain(s3, disk);
  REQUIRE(from_snap.ok());
  CHECK(from_snap->layers[0].name.kind == LayerKind::kSnapshot);
  CHECK(from_snap->layers[0].name.snapshot_id == kId3);
  // Read for another disk, none of them is a layer of it.
  auto other = ReadChain(disk, t.File("vm2.qcow2"));
  REQUIRE(other.ok());
  for (const auto& l : other->layers) CHECK(l.name.kind == LayerKind::kForeign);

  // The same chain with bare (same-directory) relative names, as Strata
  // writes them, classifies the same.
  Rebase(disk, BaseName(s3));
  Rebase(s3, BaseName(s2));
  Rebase(s2, BaseName(hist));
  auto rel = ReadChain(disk, disk);
  REQUIRE(rel.ok());
  REQUIRE(rel->length() == 5);
  CHECK(rel->layers[1].name.snapshot_id == kId3);
  CHECK(rel->layers[2].name.snapshot_id == kId2);
  CHECK(rel->layers[3].name.kind == LayerKind::kHistory);
  CHECK(rel->FirstNonSnapshotBelow(0) == 3);

  // No snapshot layers at all: the first layer below is the answer.
  auto plain = ReadChain(hist, disk);
  REQUIRE(plain.ok());
  CHECK(plain->length() == 2);
  CHECK(plain->FirstNonSnapshotBelow(0) == 1);
}

TEST_CASE(
    "ReadChain: a Strata layer named through ./ or ../ is still the "
    "disk's layer") {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  REQUIRE(MakeDirs(t.File("d")).ok());
  const std::string disk = t.File("d/vm1.qcow2");
  const std::string snap = SnapshotLayerPath(disk, kId1);
  CreateBase(snap);
  CreateOverlay(disk, "../d/" + BaseName(snap));
  auto c = ReadChain(disk, disk);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  REQUIRE(c->length() == 2);
  CHECK(Canon(c->layers[1].path) == snap);
  CHECK(c->layers[1].name.kind == LayerKind::kSnapshot);
  CHECK(c->layers[1].name.snapshot_id == kId1);

  CreateOverlay(disk, "./" + BaseName(snap));
  auto dot = ReadChain(disk, disk);
  REQUIRE(dot.ok());
  REQUIRE(dot->length() == 2);
  CHECK(dot->layers[1].name.kind == LayerKind::kSnapshot);
}

TEST_CASE("IsStrataTemp recognises every disk's temporaries") {
  CHECK(IsStrataTemp(TempPath("/d/vm1.qcow2", "cut", "abc")));
  CHECK(IsStrataTemp(TempPath("/x/other.qcow2", "overlay", "1")));
  CHECK_FALSE(IsStrataTemp("/d/vm1.qcow2"));
  CHECK_FALSE(IsStrataTemp(SnapshotLayerPath("/d/vm1.qcow2", kId1)));
  CHECK_FALSE(IsStrataTemp("/d/.hidden.qcow2"));
}
