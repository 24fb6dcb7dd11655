// Where a disk's files may lie. See confinement.h.
#include "engine/confinement.h"

#include <sys/stat.h>

#include <cstring>

#include "util/fs.h"

namespace strata::engine {
namespace {

// Below `dir` (and not `dir` itself), by name: both absolute and normal.
bool StrictlyUnder(const std::string& p, const std::string& dir) {
  return p != dir && IsUnderDir(p, dir);
}

}  // namespace

Confinement::Confinement(std::vector<std::string> writable_dirs,
                         std::vector<std::string> shared_base_dirs)
    : enabled_(true),
      writable_(std::move(writable_dirs)),
      shared_(std::move(shared_base_dirs)) {}

bool Confinement::InWritable(const std::string& p) const {
  for (const auto& d : writable_)
    if (StrictlyUnder(p, d)) return true;
  return false;
}

bool Confinement::InSharedBase(const std::string& p) const {
  for (const auto& d : shared_)
    if (StrictlyUnder(p, d)) return true;
  return false;
}

Status Confinement::CheckCallerPath(const std::string& path) const {
  if (path.empty() || path[0] != '/')
    return Status::InvalidArgument("source-name must be an absolute path");
  if (!enabled_) return Status::OK();
  // ".." and "//" are refused rather than normalised: the name must say
  // plainly where the file is.
  if (path.find("/../") != std::string::npos ||
      path.find("/./") != std::string::npos ||
      path.find("//") != std::string::npos ||
      (path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0))
    return Status::InvalidArgument(
        "source-name must be a plain path (no '.', '..' or '//')");
  if (!InWritable(path))
    return Status::InvalidArgument(
        "source-name must name a file under an allowed directory "
        "([engine] manage_dirs)");
  return Status::OK();
}

std::string Confinement::WritableDirOf(const std::string& path) const {
  for (const auto& d : writable_)
    if (StrictlyUnder(path, d)) return d;
  return "";
}

Status Confinement::CheckBackingName(const std::string& name,
                                     const std::string& of) {
  // QEMU's path_has_protocol: a ':' before any '/' makes a protocol name
  // ("json:{…}", "nbd:host:port", "file:x").
  const size_t stop = name.find_first_of(":/");
  if (stop != std::string::npos && name[stop] == ':')
    return Status::InvalidArgument(
        "the backing file of " + of +
        " is a protocol or json: name; only file names are accepted");
  return Status::OK();
}

Status Confinement::CheckLayer(const std::string& path,
                               const std::string& top_dir, bool is_top) const {
  if (!enabled_) return Status::OK();
  const bool by_name = is_top || InWritable(path) || InSharedBase(path) ||
                       StrictlyUnder(path, top_dir);
  if (!by_name)
    return Status::InvalidArgument(
        "a backing file lies outside the allowed directories ([engine] "
        "manage_dirs, shared_base_dirs, or the disk's own directory)");
  auto canon = CanonicalPath(path);
  if (!canon.ok()) return canon.status();
  if (*canon != path)
    return Status::InvalidArgument("the path of " + path +
                                   " goes through a symlink");
  struct stat st;
  if (lstat(path.c_str(), &st) != 0)
    return Status::FromErrno("stat " + path, errno);
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument(path + " is not a regular file");
  return Status::OK();
}

}  // namespace strata::engine
