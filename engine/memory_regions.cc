// Where memory snapshots go: see memory_regions.h.
#include "engine/memory_regions.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "memsnap/region.h"
#include "util/open_beneath.h"

namespace strata::engine {

bool IsBlockDevice(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode);
}

Result<std::string> FreeMemoryDevice(db::Catalog* catalog,
                                     const std::vector<std::string>& devices) {
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> held,
                          catalog->MemoryRegionsHeld());
  auto free = std::find_if(devices.begin(), devices.end(), [&](auto& d) {
    return std::find(held.begin(), held.end(), d) == held.end();
  });
  if (free == devices.end())
    return Status::Conflict(
        "Every memory device ([memory] devices: " +
        std::to_string(devices.size()) +
        ") holds a snapshot's memory; delete one of those snapshots first.");
  return *free;
}

std::string MemoryRegionFile(const std::string& dir,
                             const std::string& snap_id) {
  return JoinPath(dir, snap_id + ".region");
}

Result<std::string> ClaimMemoryRegion(db::Catalog* catalog,
                                      const std::string& dir,
                                      const std::vector<std::string>& devices,
                                      const std::string& snap_id,
                                      const std::string& domain) {
  static std::mutex claiming;
  std::lock_guard<std::mutex> lock(claiming);
  std::string region = MemoryRegionFile(dir, snap_id);
  if (!devices.empty()) {
    STRATA_ASSIGN_OR_RETURN(region, FreeMemoryDevice(catalog, devices));
  }
  STRATA_RETURN_IF_ERROR(
      catalog->SetSnapshotMemory(snap_id, "writing", domain, region, "{}"));
  return region;
}

Result<UniqueFd> OpenRegionForTake(const std::string& region, bool* fresh) {
  *fresh = !IsBlockDevice(region);
  UniqueFd fd(
      open(region.c_str(),
           O_RDWR | O_CLOEXEC | O_NOFOLLOW | (*fresh ? O_CREAT | O_TRUNC : 0),
           0600));
  if (!fd.valid()) return Status::FromErrno("open " + region, errno);
  return fd;
}

Status ReleaseMemoryRegion(const std::string& region) {
  if (!IsBlockDevice(region)) return RemoveFileNoSymlinks(region);
  UniqueFd fd(open(region.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + region, errno);
  const std::string zeros(memsnap::kSuperblockBytes, '\0');
  STRATA_RETURN_IF_ERROR(
      PwriteAll(fd.get(), zeros.data(), zeros.size(), 0, region));
  if (fsync(fd.get()) != 0) return Status::FromErrno("fsync " + region, errno);
  return Status::OK();
}

}  // namespace strata::engine
