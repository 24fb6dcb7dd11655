// LocalStore: construction, Put, Get and Delete. (Stat, List and the
// sidecar reader are in local_store_list.cc.) See local_store.h.
//
// Put, step by step, for key K (a crash at any point leaves the old object,
// or the new one, never a mix; at worst the digest reads as unknown):
//   1. mkdir -p the parents of K (0750), fsync each new directory's parent;
//   2. stream the source into K#part-<hex>, hashing each 1 MiB chunk, and
//      fsync it;
//   3. under K's commit lock: write K#sha256 (naming the temp file's inode),
//      then rename the temp file onto K + fsync the directory.
// Writing the sidecar before the rename means a failed Put never exposes
// new bytes; until the rename, the sidecar does not match the old object's
// inode, so Stat reports its digest as unknown instead of wrong.
//
// Thread-safety: see local_store.h.
#include "storage-drivers/local/local_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>

#include "util/fs.h"
#include "util/log.h"

namespace strata::store {

Result<std::unique_ptr<Store>> LocalStore::Create(const std::string& spec) {
  const std::string scheme_prefix = std::string(kScheme) + ":";
  if (spec.rfind(scheme_prefix, 0) != 0)
    return Status::InvalidArgument("local store spec '" + spec +
                                   "' does not start with 'local:'");
  std::string dir = spec.substr(scheme_prefix.size());
  if (dir.empty() || dir[0] != '/')
    return Status::InvalidArgument("local store spec '" + spec +
                                   "' needs an absolute directory");
  STRATA_RETURN_IF_ERROR(MakeDirs(dir, 0750).WithContext("local store"));
  STRATA_ASSIGN_OR_RETURN(std::string root, CanonicalPath(dir));
  struct stat st;
  if (stat(root.c_str(), &st) != 0)
    return Status::FromErrno("local store: stat " + root, errno);
  if (!S_ISDIR(st.st_mode))
    return Status::InvalidArgument("local store: " + root +
                                   " is not a directory");
  std::unique_ptr<LocalStore> store(new LocalStore(std::move(root)));
  store->SweepStaleTemps(kStaleTempAge);
  return std::unique_ptr<Store>(std::move(store));
}

size_t LocalStore::SweepStaleTemps(std::chrono::seconds min_age) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - min_age;
  size_t removed = 0;
  // Symbolic links to directories are not followed (as in List).
  for (fs::recursive_directory_iterator it(root_, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find(kTempInfix) == std::string::npos) continue;
    if (!it->is_regular_file(ec) || ec) continue;
    const auto mtime = it->last_write_time(ec);
    if (ec || mtime > cutoff) continue;
    if (unlink(it->path().c_str()) == 0) {
      ++removed;
      LogInfo("local store: removed " + it->path().string() +
              ", a temp file a crash left");
    }
  }
  return removed;
}

std::string LocalStore::ObjectPath(const std::string& key) const {
  return root_ + "/" + key;
}

std::mutex& LocalStore::CommitMutex(const std::string& key) {
  return commit_mu_[std::hash<std::string>{}(key) % commit_mu_.size()];
}

Status LocalStore::MakeParentDirs(const std::string& key) const {
  for (size_t slash = key.find('/'); slash != std::string::npos;
       slash = key.find('/', slash + 1)) {
    std::string dir = ObjectPath(key.substr(0, slash));
    if (mkdir(dir.c_str(), 0750) == 0) {
      // The new entry must survive a crash, or the object in it would not.
      STRATA_RETURN_IF_ERROR(FsyncDir(DirName(dir)));
      continue;
    }
    if (errno != EEXIST) return Status::FromErrno("mkdir " + dir, errno);
    struct stat st;
    if (stat(dir.c_str(), &st) != 0)
      return Status::FromErrno("stat " + dir, errno);
    if (!S_ISDIR(st.st_mode))
      return Status::Conflict("object '" + key.substr(0, slash) +
                              "' exists, so it cannot hold '" + key + "'");
  }
  return Status::OK();
}

Status LocalStore::WriteSidecar(const std::string& path, const std::string& sha,
                                uint64_t size, uint64_t inode) {
  STRATA_ASSIGN_OR_RETURN(
      std::unique_ptr<FileSink> sink,
      FileSink::Create(path + kSidecarSuffix, {kTempInfix, 0640}));
  std::string text = "sha256=" + sha + "\nsize=" + std::to_string(size) +
                     "\ninode=" + std::to_string(inode) + "\n";
  STRATA_RETURN_IF_ERROR(sink->Write(text.data(), text.size()));
  return sink->Commit();
}

Result<ObjectInfo> LocalStore::Put(const std::string& key, ByteSource& src,
                                   const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("local put", key, opts);
  const Deadline deadline = DeadlineOf(opts);
  const std::string path = ObjectPath(key);

  Status s = MakeParentDirs(key);
  if (!s.ok()) return s.WithContext(ctx);
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return Status::Conflict(ctx + ": the key is a prefix of other objects");

  // Objects can be as large as a disk: written back as they arrive.
  FileSinkOptions file{kTempInfix, 0640};
  file.write_behind = true;
  auto sink = FileSink::Create(path, file);
  if (!sink.ok()) return sink.status().WithContext(ctx);
  BackgroundSha256 hash;
  auto size = CopyStream(src, **sink, &hash, deadline);
  if (!size.ok()) return size.status().WithContext(ctx);
  STRATA_RETURN_IF_ERROR(deadline.Check().WithContext(ctx));
  // The slow fsync of the data happens before the commit lock is taken.
  s = (*sink)->Sync();
  if (!s.ok()) return s.WithContext(ctx);

  ObjectInfo info;
  info.key = key;
  info.size = *size;
  info.sha256 = hash.HexDigest();
  info.location = FileUrl(path);
  std::lock_guard<std::mutex> lock(CommitMutex(key));
  s = WriteSidecar(path, info.sha256, info.size, (*sink)->inode());
  if (s.ok()) s = (*sink)->Commit();
  if (!s.ok()) return s.WithContext(ctx);
  return info;
}

Status LocalStore::Get(const std::string& key, ByteSink& sink,
                       const std::string& expected_sha256,
                       const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  STRATA_ASSIGN_OR_RETURN(std::string expected,
                          NormalizeExpectedSha256(expected_sha256));
  const std::string ctx = OpContext("local get", key, opts);
  const Deadline deadline = DeadlineOf(opts);

  auto src = FileSource::Open(ObjectPath(key));
  if (!src.ok()) {
    // A directory is a prefix of other keys, not an object.
    if (src.status().IsNotFound() ||
        src.status().code() == StatusCode::kInvalidArgument)
      return Status::NotFound(ctx + ": no such object");
    return src.status().WithContext(ctx);
  }
  BackgroundSha256 hash;
  auto size =
      CopyStream(**src, sink, expected.empty() ? nullptr : &hash, deadline);
  if (!size.ok()) return size.status().WithContext(ctx);
  return CheckDownloadDigest(ctx, *size, hash, expected);
}

Result<std::string> LocalStore::LocalFile(const std::string& key) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  return ObjectPath(key);
}

Status LocalStore::Delete(const std::string& key, const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("local delete", key, opts);
  const std::string path = ObjectPath(key);
  std::lock_guard<std::mutex> lock(CommitMutex(key));
  bool removed = false;
  for (const std::string& p : {path, path + kSidecarSuffix}) {
    if (unlink(p.c_str()) == 0) {
      removed = true;
      continue;
    }
    // Absent (or a directory, i.e. only a prefix): nothing to delete.
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) continue;
    return Status::FromErrno(ctx + ": unlink " + p, errno);
  }
  if (removed) STRATA_RETURN_IF_ERROR(FsyncDir(DirName(path)).WithContext(ctx));
  return Status::OK();
}

}  // namespace strata::store
