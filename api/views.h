// JSON views of volumes and snapshots as Cinder v3 renders them, per
// microversion (group_snapshot_id ≥ 3.14, user_id ≥ 3.41, consumes_quota ≥
// 3.65, …). Strata-specific facts appear only under "os-strata:" keys.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "api/api_types.h"
#include "db/records.h"
#include "engine/chain.h"
#include "engine/chain_holder.h"

namespace strata::api {

// Strata's own facts ("os-strata:" keys) are shown only to a caller that
// asks for them with the request header `X-Strata-Details: true`: Cinder's
// clients and Tempest's response schemas allow no key Cinder does not send.
bool WantsStrataDetails(const ApiRequest& req);
// An optional string as JSON: its value, or null (Cinder's unset fields).
nlohmann::json OrNull(const std::optional<std::string>& s);

// `detail`: the detail form (show, detail lists); create and update answer
// the summary form, as Cinder does. `store`: the name of the store holding
// the layers, shown as os-strata:store when given.
nlohmann::json SnapshotView(const ApiRequest& req, const db::SnapshotRecord& s,
                            bool detail, const std::string& store = "");
// Cinder's three forms of a volume: the list's summary (id, name, links),
// the body a create or update answers, and show / detail lists, which add
// Cinder's extension attributes (os-vol-host-attr:host, …).
enum class VolumeViewKind { kSummary, kCreated, kShow };
// `held`: the volume's disk is served by Strata's NBD export; its detail
// view then shows the export and its redirect cache (issue 6) under
// "os-strata:nbd_export" (with WantsStrataDetails). `zone` and
// `type_name` are the volume's availability zone and its type's name.
struct VolumeFacts {
  std::string zone = "nova";
  std::string type_name = "__DEFAULT__";
  std::optional<engine::HeldChainStatus> held;
  std::optional<engine::ChainUsage> chain;  // detail views only
};
nlohmann::json VolumeView(const ApiRequest& req, const db::VolumeRecord& v,
                          VolumeViewKind kind, const VolumeFacts& facts);
// A redirect cache's state, the same on the volume's "os-strata:nbd_export"
// and on /strata/v1/nbd-exports.
nlohmann::json CacheView(const cache::CacheStatus& s);
// "<hostname>@strata#strata", Cinder's host@backend#pool form.
std::string BackendHost();

}  // namespace strata::api
