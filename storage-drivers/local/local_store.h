// LocalStore: the "local" driver — objects are plain files under one
// directory (spec "local:/abs/dir"), e.g. a local disk or an NFS mount.
//
// On-disk layout for key K under root R ('#' never occurs in a key, so these
// names cannot collide with an object and List skips them):
//   R/K                       the object's bytes (0640; parent dirs 0750)
//   R/K#sha256                sidecar: "sha256=<hex>\nsize=<n>\ninode=<n>\n"
//   R/K#part-<hex>            an object being written (temp)
//   R/K#sha256#part-<hex>     a sidecar being written (temp)
// The sidecar names the inode and size of the object it describes; Stat and
// List trust it only when both match, and otherwise report the digest as ""
// (unknown) rather than a wrong one. See docs/storage-drivers.md.
//
// Thread-safety: safe to call from several threads at once. Commits of the
// same key within one process are serialised, so a sidecar always describes
// the object that won; across processes a lost race can only leave the
// digest unknown.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage-drivers/store.h"

namespace strata::store {

class LocalStore : public Store {
 public:
  static constexpr const char kScheme[] = "local";
  // Suffix of a key's sidecar, and infix of temp files.
  static constexpr const char kSidecarSuffix[] = "#sha256";
  static constexpr const char kTempInfix[] = "#part-";

  // `spec` is "local:/abs/dir". The directory is created (0750) if missing,
  // and temp files a crash left there are swept (SweepStaleTemps).
  static Result<std::unique_ptr<Store>> Create(const std::string& spec);
  // Temp files ("#part-") untouched for this long belong to no Put: a Put
  // writes its temp file continuously until it renames it.
  static constexpr std::chrono::minutes kStaleTempAge{10};

  std::string Name() const override { return kScheme; }
  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override;
  Status Get(const std::string& key, ByteSink& sink,
             const std::string& expected_sha256,
             const RequestOptions& opts) override;
  Result<ObjectInfo> Stat(const std::string& key,
                          const RequestOptions& opts) override;
  Status Delete(const std::string& key, const RequestOptions& opts) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix,
                                       const RequestOptions& opts) override;

  // The canonical root directory.
  const std::string& root() const { return root_; }
  // Where the bytes of `key` live. REQUIRES: ValidateKey(key) is OK.
  std::string ObjectPath(const std::string& key) const;
  // Removes temp files under the root last modified more than `min_age`
  // ago: what a process killed during a Put left (never an upload in
  // progress, which keeps writing its file). Returns how many went.
  size_t SweepStaleTemps(std::chrono::seconds min_age);
  bool CanLink() const override { return true; }
  Result<std::string> LocalFile(const std::string& key) override;

 private:
  explicit LocalStore(std::string root) : root_(std::move(root)) {}

  // mkdir -p of the directories holding `key`, 0750, each made durable.
  Status MakeParentDirs(const std::string& key) const;
  // Writes the sidecar for the object at `path`.
  static Status WriteSidecar(const std::string& path, const std::string& sha,
                             uint64_t size, uint64_t inode);
  // Info for the regular file at `path` with this size and inode; the digest
  // comes from the sidecar if it matches both, else "".
  Result<ObjectInfo> InfoFor(const std::string& key, const std::string& path,
                             uint64_t size, uint64_t inode) const;
  // Appends the objects under directory `rel` (a key prefix ending in '/',
  // or "") that match `prefix`.
  Status Walk(const std::string& rel, const std::string& prefix,
              std::vector<ObjectInfo>* out) const;
  std::mutex& CommitMutex(const std::string& key);

  const std::string root_;
  // Serialises sidecar+object commits and deletes of one key (striped).
  std::array<std::mutex, 16> commit_mu_;
};

// "file://" + `path`, percent-encoding anything but [A-Za-z0-9._~/-].
std::string FileUrl(const std::string& path);

}  // namespace strata::store
