// Cinder's metadata sub-resource of volumes and snapshots. See
// metadata_routes.h.
#include "api/metadata_routes.h"

#include "api/body.h"

namespace strata::api {
namespace {

// Metadata: replace (PUT) or merge (POST) the whole set.
HandlerResult SetAll(const MetadataAccess& a, ApiRequest& req, bool replace) {
  if (!req.body.is_object() || !req.body.contains("metadata"))
    return Status::InvalidArgument(
        "Malformed request body: 'metadata' missing.");
  STRATA_ASSIGN_OR_RETURN(db::Metadata md, OptMetadata(req.body, "metadata"));
  db::Metadata result;
  STRATA_RETURN_IF_ERROR(a.modify(req, [&](db::Metadata& cur) {
    if (replace) cur.clear();
    for (auto& [k, v] : md) cur[k] = v;
    result = cur;
    return Status::OK();
  }));
  return ApiResponse::Json(200, {{"metadata", result}});
}

HandlerResult SetItem(const MetadataAccess& a, ApiRequest& req) {
  const std::string& key = req.params.at("key");
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* meta,
                          RequireObject(req.body, "meta"));
  if (meta->size() != 1 || !meta->contains(key))
    return Status::InvalidArgument(
        "Request body and URI mismatch: 'meta' must hold exactly the key in "
        "the URL.");
  STRATA_ASSIGN_OR_RETURN(db::Metadata md, OptMetadata(req.body, "meta"));
  STRATA_RETURN_IF_ERROR(a.modify(req, [&](db::Metadata& cur) {
    cur[key] = md[key];
    return Status::OK();
  }));
  return ApiResponse::Json(200, {{"meta", {{key, md[key]}}}});
}

HandlerResult Item(const MetadataAccess& a, ApiRequest& req, bool remove) {
  const std::string& key = req.params.at("key");
  STRATA_ASSIGN_OR_RETURN(db::Metadata md, a.read(req));
  if (!md.count(key)) return Status::NotFound("Metadata item was not found");
  if (!remove) return ApiResponse::Json(200, {{"meta", {{key, md[key]}}}});
  STRATA_RETURN_IF_ERROR(a.modify(req, [&](db::Metadata& cur) {
    if (!cur.erase(key)) return Status::NotFound("Metadata item was not found");
    return Status::OK();
  }));
  return ApiResponse::Empty(200);
}

}  // namespace

void AddMetadataRoutes(Router& r, const std::string& base, MetadataAccess a) {
  const std::string all = base + "/metadata", one = all + "/{key}";
  r.Add("GET", all, [a](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::Metadata md, a.read(q));
    return ApiResponse::Json(200, {{"metadata", md}});
  });
  r.Add("POST", all, [a](ApiRequest& q) { return SetAll(a, q, false); });
  r.Add("PUT", all, [a](ApiRequest& q) { return SetAll(a, q, true); });
  r.Add("GET", one, [a](ApiRequest& q) { return Item(a, q, false); });
  r.Add("PUT", one, [a](ApiRequest& q) { return SetItem(a, q); });
  r.Add("DELETE", one, [a](ApiRequest& q) { return Item(a, q, true); });
}

}  // namespace strata::api
