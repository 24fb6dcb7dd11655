// JSON views of volumes and snapshots as Cinder v3 renders them, per
// microversion (group_snapshot_id ≥ 3.14, user_id ≥ 3.41, consumes_quota ≥
// 3.65, …). Strata-specific facts appear only under "os-strata:" keys.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "api/api_types.h"
#include "db/records.h"
#include "engine/chain_holder.h"

namespace strata::api {

nlohmann::json SnapshotView(const ApiRequest& req, const db::SnapshotRecord& s,
                            bool detail);
// `held`: the volume's disk is served by Strata's NBD export; its detail
// view then shows the export and its redirect cache (issue 6) under
// "os-strata:nbd_export".
nlohmann::json VolumeView(
    const ApiRequest& req, const db::VolumeRecord& v, bool detail,
    const std::optional<engine::HeldChainStatus>& held = std::nullopt);
// A redirect cache's state, the same on the volume's "os-strata:nbd_export"
// and on /strata/v1/nbd-exports.
nlohmann::json CacheView(const cache::CacheStatus& s);
// "<hostname>@strata#strata", Cinder's host@backend#pool form.
std::string BackendHost();

}  // namespace strata::api
