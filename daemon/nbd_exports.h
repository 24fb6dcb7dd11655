// Sets up stratad's NBD exports (issue 6) from its configuration: each
// backend opened, with [nbd] cache a redirect cache over it (a crash's
// records replayed first), served on <socket dir>/NAME.sock. Disks served
// through a `qcow2:` backend become volumes (adopted on first sight) and
// are registered with the engine's chain holder, so their snapshots run
// through the redirect cache.
#pragma once

#include <vector>

#include "api/handlers.h"
#include "daemon/daemon_config.h"
#include "engine/engine.h"
#include "engine/exported_chains.h"
#include "nbd/server.h"

namespace strata::daemon {

// InvalidArgument for a bad export definition (exit code 2), other errors
// for an export that cannot be opened. `chains` must outlive the engine's
// tasks; the caller attaches it to the engine.
Status SetUpNbdExports(const DaemonConfig& cfg, const std::string& socket_dir,
                       engine::Engine* engine, nbd::NbdServer* server,
                       engine::ExportedChains* chains,
                       std::vector<api::NbdExportInfo>* exports);

}  // namespace strata::daemon
