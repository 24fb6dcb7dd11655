// Confinement: where the files of a disk Strata manages may lie (issue 16,
// item 1). Strata runs as root beside every VM's disk; without this, a
// tenant could adopt a qcow2 whose backing file is any host file (a
// `qemu-img create -b /etc/shadow -F raw`, a `json:` or `nbd:` name, a
// device, another tenant's disk) and read it back through snapshots.
//
// The rules, checked on every layer of a chain each time it is read:
//   - a backing name is a file name: `json:` and protocol names (a ':'
//     before any '/', as QEMU tells them apart) are refused unread;
//   - every layer is a regular file whose path has no symlink in it (its
//     canonical path is the path itself), so a directory swapped for a
//     symlink is refused at the next read instead of redirecting root's
//     renames;
//   - the top lies in a writable directory (`[engine] manage_dirs`), or,
//     for a disk the operator named (a server's disk, an NBD export), where
//     it is; every lower layer in a writable directory, the top's own
//     directory, or a shared base directory (`[engine] shared_base_dirs`,
//     e.g. Nova's `_base` image cache), which Strata never writes.
// A path is checked by its name before the file system is asked about it,
// so a refusal never tells the caller whether a host path exists.
// Thread-safety: immutable; every method is reentrant.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace strata::engine {

struct Chain;

class Confinement {
 public:
  Confinement() = default;  // confines nothing: tools and tests only
  Confinement(std::vector<std::string> writable_dirs,
              std::vector<std::string> shared_base_dirs);

  bool enabled() const { return enabled_; }

  // A top path a caller names (manage-existing): absolute and, by name,
  // in a writable directory (not the directory itself). Touches nothing.
  [[nodiscard]] Status CheckCallerPath(const std::string& path) const;
  // The writable directory `path` (checked by CheckCallerPath) lies in.
  std::string WritableDirOf(const std::string& path) const;

  // Checks a backing file name (as a qcow2 header holds it) before it is
  // resolved: protocol and json: names are refused.
  [[nodiscard]] static Status CheckBackingName(const std::string& name,
                                               const std::string& of);

  // Checks layer `path` (absolute, lexically normal), the top's directory
  // `top_dir` (canonical) and whether it is the top. Lexical rules first;
  // then the file: it exists, is regular, and has no symlink in its path.
  [[nodiscard]] Status CheckLayer(const std::string& path,
                                  const std::string& top_dir,
                                  bool is_top) const;

 private:
  bool InWritable(const std::string& p) const;
  bool InSharedBase(const std::string& p) const;

  bool enabled_ = false;
  std::vector<std::string> writable_, shared_;
};

}  // namespace strata::engine
