// Cinder's volume transfers: a volume's owner offers it (POST
// /os-volume-transfer, or /volume-transfers from 3.55) and gets a one-time
// auth key; whoever presents the key (another project, Cinder's way of
// handing a volume over) accepts it, and the volume, with its snapshots
// unless `no_snapshots` (≥ 3.55), becomes that project's. The offer can
// be listed, shown and withdrawn by its owner. Only the key's salted
// SHA-256 is kept. The volume is "awaiting-transfer" meanwhile (no snapshot,
// revert or delete until the offer ends), as in Cinder.
#include <openssl/crypto.h>

#include "api/body.h"
#include "api/handlers.h"
#include "api/quotas.h"
#include "util/sha256.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

std::string KeyHash(const std::string& salt, const std::string& key) {
  Digest d(DigestKind::kSha256);
  d.Update(salt);
  d.Update(key);
  return d.HexDigest();
}

// The collection a request came in on, for links.
std::string Collection(const ApiRequest& req) {
  return req.segments.size() > 1 ? req.segments[1] : "os-volume-transfer";
}

nlohmann::json TransferView(const ApiRequest& req, const db::TransferRecord& t,
                            bool detail) {
  const std::string self =
      req.base_url + "/v3/" + t.project_id + "/" + Collection(req) + "/" + t.id;
  nlohmann::json j = {
      {"id", t.id},
      {"name", t.name ? nlohmann::json(*t.name) : nlohmann::json(nullptr)},
      {"volume_id", t.volume_id},
      {"links", nlohmann::json::array({{{"href", self}, {"rel", "self"}}})}};
  if (!detail) return j;
  j["created_at"] = FormatIsoMicros(t.created_at);
  if (req.version.AtLeast(3, 55)) j["no_snapshots"] = t.no_snapshots;
  if (req.version.AtLeast(3, 57)) {
    j["source_project_id"] = t.project_id;
    j["destination_project_id"] = nullptr;
    j["accepted"] = false;
  }
  return j;
}

// The caller's offer (an admin sees any), or 404.
Result<db::TransferRecord> LoadTransfer(engine::Engine* e,
                                        const ApiRequest& req) {
  const std::string& id = req.params.at("id");
  auto t = e->catalog()->GetTransfer(id);
  if (!t.ok() || (t->project_id != req.ctx.project_id && !req.ctx.is_admin))
    return Status::NotFound("Transfer " + id + " could not be found.");
  return t;
}

HandlerResult Create(engine::Engine* e, ApiRequest& req) {
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "transfer"));
  STRATA_ASSIGN_OR_RETURN(std::string volume_id,
                          RequireString(*b, "volume_id", 36));
  auto vol = e->catalog()->GetVolume(volume_id);
  if (!vol.ok() || vol->status == "deleted" ||
      (vol->project_id != req.ctx.project_id && !req.ctx.is_admin))
    return Status::NotFound("Volume " + volume_id + " could not be found.");
  db::TransferRecord t;
  t.id = NewUuid();
  t.volume_id = volume_id;
  t.project_id = vol->project_id;
  STRATA_ASSIGN_OR_RETURN(t.name, OptString(*b, "name"));
  if (req.version.AtLeast(3, 55)) {
    STRATA_ASSIGN_OR_RETURN(t.no_snapshots, OptBool(*b, "no_snapshots", false));
  }
  // A server's disk or an exported one stays with its server.
  if (vol->domain_uuid)
    return Status::InvalidArgument(
        "Invalid volume: a server's disk cannot be transferred.");
  const std::string key = RandomHex(8);
  t.salt = RandomHex(8);
  t.key_hash = KeyHash(t.salt, key);
  t.created_at = NowMicros();
  STRATA_RETURN_IF_ERROR(e->catalog()->OfferVolume(t));
  nlohmann::json view = TransferView(req, t, true);
  view["auth_key"] = key;
  return ApiResponse::Json(202, {{"transfer", view}});
}

HandlerResult List(engine::Engine* e, ApiRequest& req, bool detail) {
  std::string project = req.ctx.project_id;
  if (auto at = req.Query("all_tenants");
      at && req.ctx.is_admin && (*at == "1" || *at == "true"))
    project.clear();
  STRATA_ASSIGN_OR_RETURN(auto rows, e->catalog()->ListTransfers(project));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& t : rows) items.push_back(TransferView(req, t, detail));
  return ApiResponse::Json(200, {{"transfers", items}});
}

HandlerResult Accept(engine::Engine* e, ApiRequest& req) {
  const std::string& id = req.params.at("id");
  STRATA_ASSIGN_OR_RETURN(const nlohmann::json* b,
                          RequireObject(req.body, "accept"));
  STRATA_ASSIGN_OR_RETURN(std::string key, RequireString(*b, "auth_key"));
  // Any project may accept with the key: the key is the authority.
  auto t = e->catalog()->GetTransfer(id);
  if (!t.ok())
    return Status::NotFound("Transfer " + id + " could not be found.");
  const std::string want = KeyHash(t->salt, key);
  if (want.size() != t->key_hash.size() ||
      CRYPTO_memcmp(want.data(), t->key_hash.data(), want.size()) != 0)
    return Status::InvalidArgument("Invalid auth key: Attempt to transfer " +
                                   id + " with invalid auth key.");
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          e->catalog()->GetVolume(t->volume_id));
  auto quota_lock = HoldQuotaLock();
  QuotaDelta d;
  d.volumes = 1;
  d.gigabytes = engine::SizeGiB(vol.virtual_size);
  d.volume_size = d.gigabytes;
  d.volume_type_id = vol.volume_type_id;
  STRATA_RETURN_IF_ERROR(EnforceQuota(e, req.ctx.project_id, d));
  STRATA_RETURN_IF_ERROR(
      e->catalog()->AcceptTransfer(id, req.ctx.project_id, req.ctx.user_id));
  db::TransferRecord done = *t;
  done.project_id = req.ctx.project_id;
  return ApiResponse::Json(202, {{"transfer", TransferView(req, done, false)}});
}

}  // namespace

void AddVolumeTransferRoutes(Router& r, engine::Engine* e) {
  for (const std::string base :
       {"/v3/os-volume-transfer", "/v3/volume-transfers"}) {
    r.Add("POST", base, [e](ApiRequest& q) { return Create(e, q); });
    r.Add("GET", base, [e](ApiRequest& q) { return List(e, q, false); });
    r.Add("GET", base + "/detail",
          [e](ApiRequest& q) { return List(e, q, true); });
    r.Add("GET", base + "/{id}", [e](ApiRequest& q) -> HandlerResult {
      STRATA_ASSIGN_OR_RETURN(db::TransferRecord t, LoadTransfer(e, q));
      return ApiResponse::Json(200, {{"transfer", TransferView(q, t, true)}});
    });
    r.Add("DELETE", base + "/{id}", [e](ApiRequest& q) -> HandlerResult {
      STRATA_ASSIGN_OR_RETURN(db::TransferRecord t, LoadTransfer(e, q));
      STRATA_RETURN_IF_ERROR(e->catalog()->CancelTransfer(t.id));
      return ApiResponse::Empty(202);
    });
    r.Add("POST", base + "/{id}/accept",
          [e](ApiRequest& q) { return Accept(e, q); });
  }
}

}  // namespace strata::api
