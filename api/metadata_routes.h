// Cinder's metadata sub-resource, the same for volumes and snapshots:
//   GET    {base}/metadata              the whole set
//   POST   {base}/metadata              merged into the set
//   PUT    {base}/metadata              replaces the set
//   GET    {base}/metadata/{key}        one item ({"meta": {key: value}})
//   PUT    {base}/metadata/{key}        sets one item (body key = URL key)
//   DELETE {base}/metadata/{key}        removes one item (404 if absent)
// The resource's own handlers say how its metadata is read and changed
// (and answer 404 for a resource the caller may not see).
// Thread-safety: the routes run concurrently; `modify` must be atomic.
#pragma once

#include <functional>
#include <string>

#include "api/router.h"
#include "db/records.h"

namespace strata::api {

struct MetadataAccess {
  // The resource's metadata, or its 404.
  std::function<Result<db::Metadata>(ApiRequest&)> read;
  // Applies `edit` to the resource's metadata in one transaction.
  std::function<Status(ApiRequest&,
                       const std::function<Status(db::Metadata&)>& edit)>
      modify;
};

// Registers the six routes under `base` (e.g. "/v3/volumes/{id}").
void AddMetadataRoutes(Router& r, const std::string& base, MetadataAccess a);

}  // namespace strata::api
