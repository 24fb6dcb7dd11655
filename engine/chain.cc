// Backing-chain reading. See chain.h.
#include "engine/chain.h"

#include <fcntl.h>

#include <filesystem>
#include <set>

#include "util/fs.h"
#include "util/open_beneath.h"

namespace strata::engine {

size_t Chain::FirstNonSnapshotBelow(size_t from) const {
  size_t i = from + 1;
  while (i < layers.size() && layers[i].name.kind == LayerKind::kSnapshot) ++i;
  return i;
}

Result<Chain> ReadChain(const std::string& top_path,
                        const std::string& disk_path,
                        const Confinement& confinement) {
  Chain chain;
  std::set<std::string> seen;
  // Absolute and lexically normal ("d/../d/x" → "d/x"), so layer names of
  // the disk are recognised however a backing file was spelled.
  auto normal = [](const std::string& p) {
    return std::filesystem::absolute(p).lexically_normal().string();
  };
  std::string path = normal(top_path);
  const std::string top_dir = DirName(path);
  std::string format = "qcow2";
  for (int depth = 0;; ++depth) {
    if (depth >= 32)
      return Status::Corruption("backing chain of " + top_path +
                                " is deeper than 32 files");
    STRATA_RETURN_IF_ERROR(confinement.CheckLayer(path, top_dir, depth == 0));
    auto canon = CanonicalPath(path);
    if (!canon.ok()) return canon.status();
    if (!seen.insert(*canon).second)
      return Status::Corruption("backing chain of " + top_path + " loops at " +
                                path);
    ChainLayer layer;
    layer.path = path;
    layer.name = ParseLayerName(normal(disk_path), path);
    if (format != "qcow2" && format != "raw" && !format.empty())
      return Status::NotSupported("backing file " + path + " has format " +
                                  format +
                                  "; only qcow2 and raw are supported");
    // Confined, the header is read from a file opened with no symlink on
    // its path: the file just checked, whatever its name points to now.
    Result<qcow2::Qcow2Header> hdr = Status::Internal("unread");
    if (confinement.enabled()) {
      STRATA_ASSIGN_OR_RETURN(UniqueFd fd, OpenFileNoSymlinks(path, O_RDONLY));
      hdr = qcow2::ReadQcow2Header(fd.get(), path);
    } else {
      hdr = qcow2::ReadQcow2Header(path);
    }
    if (format == "raw" ||
        (!hdr.ok() && hdr.status().code() == StatusCode::kInvalidArgument &&
         depth > 0 && format.empty())) {
      layer.format = "raw";
      chain.layers.push_back(std::move(layer));
      return chain;  // raw has no backing file
    }
    if (!hdr.ok()) return hdr.status();
    layer.format = "qcow2";
    layer.header = *hdr;
    std::string backing = hdr->backing_file;
    format = hdr->backing_format;
    chain.layers.push_back(std::move(layer));
    if (backing.empty()) return chain;
    STRATA_RETURN_IF_ERROR(
        Confinement::CheckBackingName(backing, chain.layers.back().path));
    path =
        normal(backing[0] == '/' ? backing : JoinPath(DirName(path), backing));
    if (!confinement.enabled() && !PathExists(path))
      return Status::NotFound("backing file " + path + " of " +
                              chain.layers.back().path + " does not exist");
  }
}

}  // namespace strata::engine
