// Backend specs, as the configuration names an export's `next` backend:
//   file:/path or /path            a raw file or block device (FileBackend)
//   nbd+unix:///NAME?socket=/path  an upstream NBD export on a unix socket
//   nbd://HOST:PORT/NAME           the same over TCP (NbdClientBackend)
//   qcow2:/path/disk.qcow2         a qcow2 chain served by a
//                                  qemu-storage-daemon Strata owns, which
//                                  snapshots can release (QcowChainBackend)
// (the URI forms are qemu's and libnbd's).
// Thread-safety: reentrant.
#pragma once

#include <memory>
#include <string>

#include "nbd/block_backend.h"

namespace strata::nbd {

// Where a backend that runs helper daemons keeps their sockets and logs.
struct BackendContext {
  std::string runtime_dir;  // e.g. the NBD socket directory
  std::string export_name;  // names the files in it
};

// Opens the backend `spec` names. InvalidArgument for a spec of no known
// form; the backend's own errors otherwise (NotFound, Unavailable, …).
Result<std::shared_ptr<BlockBackend>> OpenBackend(const std::string& spec,
                                                  const BackendContext& ctx);

// "NAME=SPEC" (an export definition) split in two; InvalidArgument when
// there is no '=' or either side is empty.
Status SplitExportDefinition(const std::string& def, std::string* name,
                             std::string* spec);

}  // namespace strata::nbd
