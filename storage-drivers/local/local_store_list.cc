// LocalStore: Stat, List (a walk of the directory tree) and the sidecar
// reader they share. See local_store.h for the layout.
//
// List skips every name containing '#' (temp files and sidecars), names that
// are not valid key segments (foreign files), and does not descend into
// symbolic links to directories.
//
// Thread-safety: reentrant; a walk racing with Put/Delete sees each object
// either before or after the change (vanished entries are skipped).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "storage-drivers/local/local_store.h"
#include "util/fs.h"
#include "util/hex.h"

namespace strata::store {

namespace {

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The value of "<name>=<value>" in the sidecar text, or "".
std::string SidecarField(const std::string& text, const std::string& name) {
  std::string needle = name + "=";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (text.compare(pos, needle.size(), needle) == 0)
      return text.substr(pos + needle.size(), end - pos - needle.size());
    pos = end + 1;
  }
  return "";
}

}  // namespace

std::string FileUrl(const std::string& path) {
  return "file://" + PercentEncode(path, "/");
}

Result<ObjectInfo> LocalStore::InfoFor(const std::string& key,
                                       const std::string& path, uint64_t size,
                                       uint64_t inode) const {
  ObjectInfo info;
  info.key = key;
  info.size = size;
  info.location = FileUrl(path);
  auto text = ReadSmallFile(path + kSidecarSuffix, 4096);
  if (!text.ok()) {
    StatusCode code = text.status().code();
    if (code == StatusCode::kNotFound || code == StatusCode::kTooLarge)
      return info;  // no usable sidecar: digest unknown
    return text.status();
  }
  // Trust the digest only if the sidecar describes this very file.
  std::string sha = SidecarField(*text, "sha256");
  if (IsSha256Hex(sha) && SidecarField(*text, "size") == std::to_string(size) &&
      SidecarField(*text, "inode") == std::to_string(inode))
    info.sha256 = sha;
  return info;
}

Result<ObjectInfo> LocalStore::Stat(const std::string& key,
                                    const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("local stat", key, opts);
  const std::string path = ObjectPath(key);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return Status::NotFound(ctx + ": no such object");
    return Status::FromErrno(ctx + ": stat " + path, errno);
  }
  if (!S_ISREG(st.st_mode)) return Status::NotFound(ctx + ": no such object");
  auto info = InfoFor(key, path, static_cast<uint64_t>(st.st_size),
                      static_cast<uint64_t>(st.st_ino));
  if (!info.ok()) return info.status().WithContext(ctx);
  return info;
}

Result<std::vector<ObjectInfo>> LocalStore::List(const std::string& prefix,
                                                 const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKeyPrefix(prefix));
  const std::string ctx = OpContext("local list", prefix, opts);
  const Deadline deadline = DeadlineOf(opts);
  // Start at the deepest directory the prefix names completely.
  size_t last_slash = prefix.rfind('/');
  std::string rel =
      last_slash == std::string::npos ? "" : prefix.substr(0, last_slash + 1);
  std::vector<ObjectInfo> out;
  Status s = Walk(rel, prefix, &out);
  if (s.ok()) s = deadline.Check();
  if (!s.ok()) return s.WithContext(ctx);
  std::sort(
      out.begin(), out.end(),
      [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status LocalStore::Walk(const std::string& rel, const std::string& prefix,
                        std::vector<ObjectInfo>* out) const {
  const std::string dir = rel.empty() ? root_ : ObjectPath(rel);
  UniqueDir d(opendir(dir.c_str()));
  if (!d) {
    // Gone, or never there (a prefix naming no directory): nothing below.
    if (errno == ENOENT || errno == ENOTDIR) return Status::OK();
    return Status::FromErrno("opendir " + dir, errno);
  }
  for (;;) {
    errno = 0;
    struct dirent* e = readdir(d.get());
    if (!e) {
      if (errno != 0) return Status::FromErrno("readdir " + dir, errno);
      return Status::OK();
    }
    std::string name = e->d_name;
    if (name.find('#') != std::string::npos) continue;  // temp or sidecar
    std::string key = rel + name;
    if (!ValidateKey(key).ok()) continue;  // ".", "..", foreign names
    std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // deleted while we walked
      return Status::FromErrno("lstat " + path, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      std::string sub = key + "/";
      if (StartsWith(sub, prefix) || StartsWith(prefix, sub))
        STRATA_RETURN_IF_ERROR(Walk(sub, prefix, out));
      continue;
    }
    if (!StartsWith(key, prefix)) continue;
    if (S_ISLNK(st.st_mode) && stat(path.c_str(), &st) != 0) continue;
    if (!S_ISREG(st.st_mode)) continue;
    STRATA_ASSIGN_OR_RETURN(
        ObjectInfo info, InfoFor(key, path, static_cast<uint64_t>(st.st_size),
                                 static_cast<uint64_t>(st.st_ino)));
    out->push_back(std::move(info));
  }
}

}  // namespace strata::store
