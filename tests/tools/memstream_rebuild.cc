// Test helper (tests/integration/test-memory-stream.sh, issue 21): reads a
// QEMU migration stream with memsnap's parser and writes it again with
// memsnap's writer, each page once (the form a memory snapshot restores
// from: memsnap::ZeroedAtLoad's zero pages left out), then prints the parse's
// totals as JSON.
//   memstream_rebuild IN [OUT]                 through memory
//   memstream_rebuild --region R IN [OUT]      through a region: a new file
//                                              R, or the block device R
//                                              (also its size and space)
//   memstream_rebuild --from-region R OUT      a region back to a stream
//   memstream_rebuild --restore-image R OUT    libvirt's header and the
//                                              stream, into OUT as it is
//                                              (a FIFO virsh restore reads)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "memsnap/migration_stream.h"
#include "memsnap/region.h"
#include "memsnap/restore_image.h"
#include "page_map.h"

using namespace strata;
using namespace strata::memsnap;

namespace {

Status Rebuild(const PageMap& k, const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(auto sink, FileSink::Create(path));
  MigrationStreamWriter w(*sink);
  STRATA_RETURN_IF_ERROR(w.Begin(k.prologue, k.ram));
  for (const auto& [at, p] : k.pages) {
    // As a region's restore image: no zeros of a block QEMU holds zeroed.
    if (p == std::string(1, '\0') && ZeroedAtLoad(k.ram.blocks[at.first]))
      continue;
    STRATA_RETURN_IF_ERROR(
        p.size() == 1
            ? w.ZeroPage(at.first, at.second, static_cast<uint8_t>(p[0]))
            : w.Page(at.first, at.second, p.data()));
  }
  STRATA_RETURN_IF_ERROR(w.End(k.devices));
  return sink->Commit();
}

}  // namespace

int Fail(const Status& s) {
  std::fprintf(stderr, "%s\n", s.ToString().c_str());
  return 1;
}

Status RegionToStream(int fd, const std::string& region,
                      const std::string& out) {
  STRATA_ASSIGN_OR_RETURN(RegionReader r, RegionReader::Open(fd, region));
  STRATA_ASSIGN_OR_RETURN(auto sink, FileSink::Create(out));
  STRATA_RETURN_IF_ERROR(WriteRestoreImage(r, *sink, false));
  return sink->Commit();
}

// Stream IN into a new region file; then, with OUT, the region back to a
// stream. Prints the layout and the space the region takes.
int ThroughRegion(const std::string& region, const char* in_path,
                  const char* out) {
  // A new file reads as zeros (fresh); a block device holds whatever an
  // older snapshot left.
  struct stat before;
  const bool device =
      stat(region.c_str(), &before) == 0 && S_ISBLK(before.st_mode);
  UniqueFd fd(open(region.c_str(),
                   O_RDWR | O_CLOEXEC | (device ? 0 : O_CREAT | O_TRUNC),
                   0600));
  if (!fd.valid()) return Fail(Status::IoError("open " + region));
  auto in = FileSource::Open(in_path);
  if (!in.ok()) return Fail(in.status());
  RegionWriter w(fd.get(), region, /*fresh=*/!device);
  auto st = ParseMigrationStream(**in, w);
  if (!st.ok()) return Fail(st.status());
  Status s = w.Finish();
  if (s.ok() && out) s = RegionToStream(fd.get(), region, out);
  if (!s.ok()) return Fail(s);
  struct stat sb;
  fstat(fd.get(), &sb);
  const RegionLayout& l = w.layout();
  std::printf("%s\n", nlohmann::json{{"region_bytes", sb.st_size},
                                     {"allocated_bytes", sb.st_blocks * 512},
                                     {"slots_offset", l.slots_offset},
                                     {"metadata_bound", l.metadata_bound},
                                     {"slots", l.pages},
                                     {"pages", st->pages},
                                     {"zero_pages", st->zero_pages},
                                     {"iterations", st->iterations},
                                     {"device_bytes", st->device_bytes}}
                          .dump()
                          .c_str());
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--restore-image") {
    UniqueFd fd(open(argv[2], O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
      return Fail(Status::IoError(std::string("open ") + argv[2]));
    auto r = RegionReader::Open(fd.get(), argv[2]);
    if (!r.ok()) return Fail(r.status());
    UniqueFd out(open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out.valid())
      return Fail(Status::IoError(std::string("open ") + argv[3]));
    FdSink sink(out.get(), argv[3]);
    Status s = WriteRestoreImage(*r, sink);
    return s.ok() ? 0 : Fail(s);
  }
  if (argc == 4 && std::string(argv[1]) == "--from-region") {
    UniqueFd fd(open(argv[2], O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
      return Fail(Status::IoError(std::string("open ") + argv[2]));
    Status s = RegionToStream(fd.get(), argv[2], argv[3]);
    return s.ok() ? 0 : Fail(s);
  }
  if ((argc == 4 || argc == 5) && std::string(argv[1]) == "--region")
    return ThroughRegion(argv[2], argv[3], argc == 5 ? argv[4] : nullptr);
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr,
                 "usage: %s IN [OUT] | --region R IN [OUT] | "
                 "--from-region R OUT\n",
                 argv[0]);
    return 2;
  }
  auto in = FileSource::Open(argv[1]);
  PageMap k;
  Result<StreamStats> st = in.ok() ? ParseMigrationStream(**in, k)
                                   : Result<StreamStats>(in.status());
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.status().ToString().c_str());
    return 1;
  }
  if (argc == 3) {
    Status s = Rebuild(k, argv[2]);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& b : k.ram.blocks)
    blocks.push_back({{"id", b.id}, {"length", b.length}});
  std::printf("%s\n", nlohmann::json{{"machine", k.machine},
                                     {"blocks", blocks},
                                     {"pages", st->pages},
                                     {"zero_pages", st->zero_pages},
                                     {"distinct_pages", k.pages.size()},
                                     {"iterations", st->iterations},
                                     {"device_bytes", st->device_bytes},
                                     {"bytes", st->bytes}}
                          .dump()
                          .c_str());
  return 0;
}
