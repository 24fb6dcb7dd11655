// The "glance" driver. See glance_store.h.
#include "storage-drivers/glance/glance_store.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "http/http_exchange.h"
#include "http/json_field.h"
#include "storage-drivers/http_driver_util.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/sha256.h"

namespace strata::store {
namespace {

using nlohmann::json;

// Glance's limit for a property value (and an image name).
constexpr size_t kMaxGlanceValue = 255;
// Images per page when listing (Glance's default api_limit_max is 1000).
constexpr int kPageSize = 1000;

bool StartsWith(const std::string& s, const std::string& p) {
  return s.compare(0, p.size(), p) == 0;
}

// Glance's answer as a Status, for the codes no caller expects.
Status GlanceError(long code, const std::string& ctx, const std::string& body) {
  if (code == 401)
    return Status::Unauthenticated(ctx +
                                   ": Glance refused the credentials (HTTP "
                                   "401); check token_file or Keystone");
  if (code == 403)
    return Status::PermissionDenied(ctx + ": Glance forbids it (HTTP 403)");
  if (code == 413)
    return Status::TooLarge(ctx + ": Glance refused the size (HTTP 413: " +
                            "image_size_cap or the owner's quota)");
  return http::HttpError(code, ctx, body);
}

GlanceStore::Image ParseImage(const json& j) {
  GlanceStore::Image im;
  im.id = http::JsonString(j, "id");
  im.status = http::JsonString(j, "status");
  im.key = http::JsonString(j, "strata_key");
  im.put_at = http::JsonString(j, "strata_put_at");
  im.sha256 = http::JsonString(j, "strata_sha256");
  im.checksum = http::JsonString(j, "checksum");
  im.hash_algo = http::JsonString(j, "os_hash_algo");
  im.hash_value = http::JsonString(j, "os_hash_value");
  if (auto it = j.find("size"); it != j.end() && it->is_number_unsigned())
    im.size = it->get<uint64_t>();
  im.complete = im.status == "active" && IsSha256Hex(im.sha256) &&
                http::JsonString(j, "strata_size") == std::to_string(im.size);
  static const std::set<std::string> kOwn = {"strata_namespace", "strata_key",
                                             "strata_put_at", "strata_sha256",
                                             "strata_size"};
  for (const auto& [name, value] : j.items())
    if (name.starts_with("strata_") && !kOwn.count(name) && value.is_string())
      im.labels[name.substr(7)] = value.get<std::string>();
  return im;
}

}  // namespace

Result<std::unique_ptr<Store>> GlanceStore::Create(const std::string& spec) {
  const std::string usage =
      "store spec '" + spec +
      "' is not glance:http(s)://host[:port][/path][?option=value&…] "
      "(options: namespace, token_file, project_id, user_id, roles, "
      "disk_format)";
  STRATA_ASSIGN_OR_RETURN(SpecParts parts, SplitSpec(spec, kScheme, usage));
  std::string url = parts.url;
  Config c;
  while (!url.empty() && url.back() == '/') url.pop_back();
  c.base = url;
  for (const auto& [name, value] : parts.options) {
    if (name == "namespace") {
      if (value.empty() || value.size() > 64 ||
          !std::all_of(value.begin(), value.end(), [](unsigned char ch) {
            return std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.';
          }))
        return Status::InvalidArgument(
            usage + ": namespace must be 1-64 of [A-Za-z0-9._-]");
      c.ns = value;
    } else if (name == "token_file") {
      c.token_file = value;
    } else if (name == "project_id") {
      c.project_id = value;
    } else if (name == "user_id") {
      c.user_id = value;
    } else if (name == "roles") {
      c.roles = value;
    } else if (name == "disk_format") {
      c.disk_format = value;
    } else {
      return Status::InvalidArgument(usage + ": unknown option '" + name + "'");
    }
  }
  if (!c.token_file.empty()) {
    std::ifstream f(c.token_file);
    if (!f)
      return Status::InvalidArgument("glance store: cannot read token_file " +
                                     c.token_file);
  }
  return std::unique_ptr<Store>(new GlanceStore(std::move(c)));
}

std::string GlanceStore::ImageUrl(const std::string& id) const {
  return cfg_.base + "/v2/images/" + id;
}

Result<std::vector<std::string>> GlanceStore::Headers() const {
  std::vector<std::string> h;
  if (!cfg_.token_file.empty()) {
    STRATA_ASSIGN_OR_RETURN(
        std::string token,
        ReadSecretLine(cfg_.token_file, "glance store: no token in"));
    h.push_back("X-Auth-Token: " + token);
  }
  if (!cfg_.project_id.empty()) {
    h.push_back("X-Project-Id: " + cfg_.project_id);
    h.push_back("X-Tenant-Id: " + cfg_.project_id);
  }
  if (!cfg_.user_id.empty()) h.push_back("X-User-Id: " + cfg_.user_id);
  if (!cfg_.roles.empty()) h.push_back("X-Roles: " + cfg_.roles);
  if (!cfg_.project_id.empty() || !cfg_.user_id.empty())
    h.push_back("X-Identity-Status: Confirmed");
  return h;
}

ObjectInfo GlanceStore::InfoOf(const Image& im) const {
  ObjectInfo info{im.key, im.size, im.sha256, ImageUrl(im.id)};
  info.labels = im.labels;
  return info;
}

Result<std::vector<GlanceStore::Image>> GlanceStore::Query(
    const std::string& filters, const RequestOptions& opts) {
  const Deadline deadline = DeadlineOf(opts);
  std::vector<Image> out;
  std::string path = "/v2/images?limit=" + std::to_string(kPageSize) +
                     "&strata_namespace=" + PercentEncode(cfg_.ns) +
                     (filters.empty() ? "" : "&" + filters);
  for (int page = 0; page < 100000 && !path.empty(); ++page) {
    http::HttpExchange x;
    STRATA_ASSIGN_OR_RETURN(x.headers, Headers());
    x.headers.push_back("Accept: application/json");
    STRATA_ASSIGN_OR_RETURN(
        long code, http::HttpPerform("GET", cfg_.base + path, &x, deadline));
    if (code != 200) return GlanceError(code, "list images", x.small_body);
    json answer = json::parse(x.small_body, nullptr, false);
    if (!answer.is_object() || !answer.contains("images") ||
        !answer["images"].is_array())
      return Status::IoError("list images: Glance's answer has no images");
    for (const json& j : answer["images"])
      if (j.is_object()) out.push_back(ParseImage(j));
    path = http::JsonString(answer,
                            "next");  // "/v2/images?...&marker=..." or none
  }
  return out;
}

Result<std::vector<GlanceStore::Image>> GlanceStore::ImagesOf(
    const std::string& key, const RequestOptions& opts) {
  STRATA_ASSIGN_OR_RETURN(auto images,
                          Query("strata_key=" + PercentEncode(key), opts));
  // Glance matched the property; keep only exact keys all the same.
  std::erase_if(images, [&](const Image& im) { return im.key != key; });
  return images;
}

Result<GlanceStore::Image> GlanceStore::Resolve(const std::string& key,
                                                const std::string& ctx,
                                                const RequestOptions& opts) {
  auto images = ImagesOf(key, opts);
  if (!images.ok()) return images.status().WithContext(ctx);
  const Image* best = nullptr;
  for (const Image& im : *images)
    if (im.complete && (!best || im.put_at > best->put_at)) best = &im;
  if (!best) return Status::NotFound(ctx + ": no such object");
  return *best;
}

Status GlanceStore::DeleteImage(const std::string& id,
                                const Deadline& deadline) {
  http::HttpExchange x;
  STRATA_ASSIGN_OR_RETURN(x.headers, Headers());
  STRATA_ASSIGN_OR_RETURN(
      long code, http::HttpPerform("DELETE", ImageUrl(id), &x, deadline));
  if (code == 204 || code == 200 || code == 404) return Status::OK();
  return GlanceError(code, "delete image " + id, x.small_body);
}

Result<ObjectInfo> GlanceStore::Put(const std::string& key, ByteSource& src,
                                    const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("glance put", key, opts);
  if (key.size() > kMaxGlanceValue)
    return Status::InvalidArgument(ctx + ": keys over 255 bytes do not fit " +
                                   "a Glance property");
  const Deadline deadline = DeadlineOf(opts);
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> auth, Headers());

  // 1. The image record, not yet visible as an object.
  const std::string stamp = PutStamp();
  json create = {{"name", key},
                 {"container_format", "bare"},
                 {"disk_format", cfg_.disk_format},
                 {"visibility", "private"},
                 {"strata_namespace", cfg_.ns},
                 {"strata_key", key},
                 {"strata_put_at", stamp}};
  for (const auto& [name, value] : opts.labels) {
    if (value.size() > kMaxGlanceValue) continue;  // not worth failing for
    // Bytes that are not the qcow2 file: relay stages' output, a layer's
    // sparse form (engine/layer_form.h).
    if (name == "relay" || (name == "form" && value != "qcow2"))
      create["disk_format"] = "raw";
    create["strata_" + name] = value;
  }
  std::string id;
  {
    http::HttpExchange x;
    x.headers = auth;
    x.headers.push_back("Content-Type: application/json");
    const std::string body = create.dump();
    x.body = &body;
    auto code =
        http::HttpPerform("POST", cfg_.base + "/v2/images", &x, deadline);
    if (!code.ok()) return code.status().WithContext(ctx + " (create image)");
    if (*code != 201)
      return GlanceError(*code, ctx + " (create image)", x.small_body);
    json answer = json::parse(x.small_body, nullptr, false);
    id = answer.is_object() ? http::JsonString(answer, "id") : "";
    if (id.empty())
      return Status::IoError(ctx + ": Glance created an image without an id");
  }
  // From here a failure deletes the image (best effort: with Glance down it
  // stays, incomplete, and never counts as the object).
  auto fail = [&](Status s) {
    const Deadline cleanup = DeadlineOf(CleanupOptions(opts));
    LogIfError(DeleteImage(id, cleanup), "cleanup of a failed upload's image");
    return s;
  };

  // 2. The bytes, streamed, hashed on the way as Glance will hash them.
  BackgroundDigest sha256, md5(DigestKind::kMd5);
  uint64_t sent = 0;
  {
    http::HttpExchange x;
    x.headers = auth;
    x.headers.push_back("Content-Type: application/octet-stream");
    x.upload = &src;
    x.upload_digests = {&sha256, &md5};
    auto code = http::HttpPerform("PUT", ImageUrl(id) + "/file", &x, deadline);
    if (!code.ok()) return fail(code.status().WithContext(ctx + " (upload)"));
    if (*code != 204 && *code != 200 && *code != 201)
      return fail(GlanceError(*code, ctx + " (upload)", x.small_body));
    sent = x.uploaded;
  }
  const std::string sent_sha256 = sha256.HexDigest();
  const std::string sent_md5 = md5.HexDigest();

  // 3. What Glance recorded must be what was sent.
  Image stored;
  {
    http::HttpExchange x;
    x.headers = auth;
    auto code = http::HttpPerform("GET", ImageUrl(id), &x, deadline);
    if (!code.ok()) return fail(code.status().WithContext(ctx + " (verify)"));
    if (*code != 200)
      return fail(GlanceError(*code, ctx + " (verify)", x.small_body));
    json answer = json::parse(x.small_body, nullptr, false);
    if (!answer.is_object())
      return fail(Status::IoError(ctx + ": Glance's image is not JSON"));
    stored = ParseImage(answer);
  }
  std::string mismatch;
  if (stored.status != "active")
    mismatch = "status " + stored.status;
  else if (stored.size != sent)
    mismatch =
        std::to_string(stored.size) + " bytes, sent " + std::to_string(sent);
  else if (stored.checksum != sent_md5)
    mismatch = "checksum (MD5) " + stored.checksum + ", sent " + sent_md5;
  else if (stored.hash_algo == "sha256" && stored.hash_value != sent_sha256)
    mismatch = "os_hash_value " + stored.hash_value + ", sent " + sent_sha256;
  if (!mismatch.empty())
    return fail(Status::Corruption(ctx + ": Glance recorded " + mismatch +
                                   " for image " + id)
                    .SetRetryable(true));

  // 4. Mark it complete: from now on it is the object.
  {
    http::HttpExchange x;
    x.headers = auth;
    x.headers.push_back(
        "Content-Type: application/openstack-images-v2.1-json-patch");
    const std::string body = json::array({{{"op", "add"},
                                           {"path", "/strata_sha256"},
                                           {"value", sent_sha256}},
                                          {{"op", "add"},
                                           {"path", "/strata_size"},
                                           {"value", std::to_string(sent)}}})
                                 .dump();
    x.body = &body;
    auto code = http::HttpPerform("PATCH", ImageUrl(id), &x, deadline);
    if (!code.ok()) return fail(code.status().WithContext(ctx + " (mark)"));
    if (*code != 200)
      return fail(GlanceError(*code, ctx + " (mark)", x.small_body));
  }

  // 5. Older images of the key go (best effort: readers pick the newest).
  if (auto images = ImagesOf(key, opts); images.ok()) {
    const Deadline cleanup = DeadlineOf(CleanupOptions(opts));
    for (const Image& im : *images)
      if (im.id != id && im.put_at < stamp)
        LogIfError(DeleteImage(im.id, cleanup), "an older image of " + key);
  }
  return ObjectInfo{key, sent, sent_sha256, ImageUrl(id)};
}

Status GlanceStore::Get(const std::string& key, ByteSink& sink,
                        const std::string& expected_sha256,
                        const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  STRATA_ASSIGN_OR_RETURN(std::string expected,
                          NormalizeExpectedSha256(expected_sha256));
  const std::string ctx = OpContext("glance get", key, opts);
  const Deadline deadline = DeadlineOf(opts);
  // An overwrite may delete the image between Resolve and GET: resolve again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    STRATA_ASSIGN_OR_RETURN(Image im, Resolve(key, ctx, opts));
    BackgroundSha256 hash;
    http::HttpExchange x;
    STRATA_ASSIGN_OR_RETURN(x.headers, Headers());
    x.download = &sink;
    if (!expected.empty()) x.download_digests = {&hash};
    auto code =
        http::HttpPerform("GET", ImageUrl(im.id) + "/file", &x, deadline);
    if (!code.ok()) return code.status().WithContext(ctx);
    if (*code == 404 && x.downloaded == 0) continue;
    if (*code == 204 && im.size == 0) *code = 200;  // no data: empty object
    if (*code != 200) return GlanceError(*code, ctx, x.small_body);
    if (x.downloaded != im.size)
      return Status::Corruption(ctx + ": Glance sent " +
                                std::to_string(x.downloaded) + " bytes of " +
                                std::to_string(im.size));
    return CheckDownloadDigest(ctx, x.downloaded, hash, expected);
  }
  return Status::NotFound(ctx + ": the image went away while reading it");
}

Result<ObjectInfo> GlanceStore::Stat(const std::string& key,
                                     const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  STRATA_ASSIGN_OR_RETURN(
      Image im, Resolve(key, OpContext("glance stat", key, opts), opts));
  return InfoOf(im);
}

Status GlanceStore::Delete(const std::string& key, const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("glance delete", key, opts);
  auto images = ImagesOf(key, opts);
  if (!images.ok()) return images.status().WithContext(ctx);
  const Deadline deadline = DeadlineOf(opts);
  for (const Image& im : *images) {
    Status s = DeleteImage(im.id, deadline);
    if (!s.ok()) return s.WithContext(ctx);
  }
  return Status::OK();
}

Result<std::vector<ObjectInfo>> GlanceStore::List(const std::string& prefix,
                                                  const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKeyPrefix(prefix));
  const std::string ctx = OpContext("glance list", prefix, opts);
  auto images = Query("", opts);
  if (!images.ok()) return images.status().WithContext(ctx);
  std::map<std::string, Image> newest;  // by key, sorted
  for (const Image& im : *images) {
    if (!im.complete || !StartsWith(im.key, prefix) ||
        !ValidateKey(im.key).ok())
      continue;
    auto [it, added] = newest.emplace(im.key, im);
    if (!added && im.put_at > it->second.put_at) it->second = im;
  }
  std::vector<ObjectInfo> out;
  for (const auto& [key, im] : newest) out.push_back(InfoOf(im));
  return out;
}

}  // namespace strata::store
