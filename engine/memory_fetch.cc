// A snapshot's memory brought back from the store (issue 21): the restore
// image the store keeps (LayerTransfer::UploadMemory) made into a region
// again, for a restore on a host whose region is gone or damaged. See
// memory_snapshot.h.
#include <fcntl.h>
#include <unistd.h>

#include "engine/memory_snapshot.h"
#include "memsnap/restore_image.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"

namespace strata::engine {

bool MemoryRegionReadable(const std::string& region) {
  UniqueFd fd(open(region.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  return fd.valid() && memsnap::RegionReader::Open(fd.get(), region).ok();
}

void RemoveMemoryLeftovers(const std::string& region) {
  auto names = ListDirNoSymlinks(DirName(region));
  if (!names.ok()) return;
  const std::string prefix = BaseName(region) + ".";
  for (const std::string& n : *names)
    if (n.compare(0, prefix.size(), prefix) == 0)
      LogIfError(RemoveFileNoSymlinks(JoinPath(DirName(region), n)),
                 "removing " + n + " left by a fetch of " + region);
}

namespace {

Status Fetch(store::Store& store, const std::string& key,
             const std::string& sha256, const std::string& region) {
  const std::string image = region + ".image";
  const std::string part = region + ".part";
  FileSinkOptions scratch;
  scratch.durable = false;  // read once, then removed
  STRATA_RETURN_IF_ERROR(
      store::GetToFile(store, key, image, sha256, {}, scratch));
  STRATA_ASSIGN_OR_RETURN(auto in, FileSource::Open(image));
  {
    UniqueFd fd(open(part.c_str(),
                     O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                     0600));
    if (!fd.valid()) return Status::FromErrno("create " + part, errno);
    STRATA_ASSIGN_OR_RETURN(
        memsnap::StreamStats stats,
        memsnap::ImportRestoreImage(*in, fd.get(), part, /*fresh=*/true));
    LogInfo("the memory stored as " + key +
            " is a region again: " + std::to_string(stats.pages) + " pages, " +
            std::to_string(stats.zero_pages) + " zero pages");
  }
  // RegionWriter::Finish synced the region: the rename makes it the one.
  STRATA_RETURN_IF_ERROR(RenameDurableNoSymlinks(part, region));
  return RemoveFileNoSymlinks(image);
}

}  // namespace

Status FetchMemoryRegion(store::Store& store, const std::string& key,
                         const std::string& sha256, const std::string& region) {
  RemoveMemoryLeftovers(region);
  Status s = Fetch(store, key, sha256, region);
  if (!s.ok()) RemoveMemoryLeftovers(region);
  return s.WithContext("fetching the memory stored as " + key);
}

}  // namespace strata::engine
