// A snapshot's memory brought back from the store (issue 21): the restore
// image the store keeps (LayerTransfer::UploadMemory) made into a region
// again, for a restore on a host whose region is gone or damaged. See
// memory_snapshot.h.
#include <fcntl.h>
#include <unistd.h>

#include "engine/memory_regions.h"
#include "engine/memory_snapshot.h"
#include "memsnap/restore_image.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"

namespace strata::engine {

Status CheckMemoryRegion(const std::string& region) {
  UniqueFd fd(open(region.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Status::FromErrno("open " + region, errno);
  return memsnap::RegionReader::Open(fd.get(), region).status();
}

std::string FetchScratch(const std::string& memory_dir,
                         const std::string& snap_id) {
  return JoinPath(memory_dir, snap_id + ".fetch");
}

void RemoveMemoryLeftovers(const std::string& scratch) {
  auto names = ListDirNoSymlinks(DirName(scratch));
  if (!names.ok()) return;
  const std::string prefix = BaseName(scratch) + ".";
  for (const std::string& n : *names)
    if (n.compare(0, prefix.size(), prefix) == 0)
      LogIfError(RemoveFileNoSymlinks(JoinPath(DirName(scratch), n)),
                 "removing " + n + ", left by a fetch");
}

namespace {

Status Fetch(store::Store& store, const std::string& key,
             const std::string& sha256, const std::string& region,
             const std::string& scratch) {
  const std::string image = scratch + ".image";
  const bool device = IsBlockDevice(region);
  const std::string part = device ? region : scratch + ".part";
  FileSinkOptions once;
  once.durable = false;  // read once, then removed
  STRATA_RETURN_IF_ERROR(store::GetToFile(store, key, image, sha256, {}, once));
  STRATA_ASSIGN_OR_RETURN(auto in, FileSource::Open(image));
  {
    bool fresh = true;
    STRATA_ASSIGN_OR_RETURN(UniqueFd fd, OpenRegionForTake(part, &fresh));
    STRATA_ASSIGN_OR_RETURN(
        memsnap::StreamStats stats,
        memsnap::ImportRestoreImage(*in, fd.get(), part, fresh));
    LogInfo("the memory stored as " + key + " is a region again in " + region +
            ": " + std::to_string(stats.pages) + " pages, " +
            std::to_string(stats.zero_pages) + " zero pages");
  }
  // RegionWriter::Finish synced the region: the rename makes it the one.
  if (!device) STRATA_RETURN_IF_ERROR(RenameDurableNoSymlinks(part, region));
  return RemoveFileNoSymlinks(image);
}

}  // namespace

Status FetchMemoryRegion(store::Store& store, const std::string& key,
                         const std::string& sha256, const std::string& region,
                         const std::string& scratch) {
  RemoveMemoryLeftovers(scratch);
  Status s = Fetch(store, key, sha256, region, scratch);
  if (!s.ok()) RemoveMemoryLeftovers(scratch);
  return s.WithContext("fetching the memory stored as " + key);
}

}  // namespace strata::engine
