// Route tables of Strata's REST API, one function per resource family.
// Handlers parse and authorise, then call the Engine; reads and record-only
// edits (names, metadata) go to the catalog through the Engine's accessor.
// Thread-safety: handlers run concurrently; the Engine and catalog are
// thread-safe.
#pragma once

#include "api/router.h"
#include "engine/engine.h"

namespace strata::api {

void AddVersionRoutes(Router& r);
void AddVolumeRoutes(Router& r, engine::Engine* engine);
void AddSnapshotRoutes(Router& r, engine::Engine* engine);
// First path segments under /v3/ that are collections (not project ids).
std::set<std::string> V3Collections();

}  // namespace strata::api
