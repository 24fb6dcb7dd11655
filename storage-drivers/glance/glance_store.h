// GlanceStore: the "glance" driver — each object is an OpenStack Glance v2
// image (container_format bare; disk_format qcow2, or raw when a relay stage
// has transformed the bytes), uploaded and downloaded as a stream through
// `PUT/GET /v2/images/{id}/file`. HTTP through libcurl (http_exchange.h).
//
// Spec: "glance:http(s)://host:port[/path][?option=value&…]" with options
//   namespace=NAME   images of this store carry strata_namespace=NAME
//                    (default "strata"): stores sharing a Glance stay apart
//   token_file=PATH  a Keystone token sent as X-Auth-Token, read from PATH at
//                    every request (so a token refresher may replace it)
//   project_id=, user_id=, roles=a,b
//                    plain identity headers (X-Project-Id, X-User-Id,
//                    X-Roles), for a Glance that trusts them (no Keystone)
//   disk_format=F    instead of qcow2 for untransformed layers
//
// An object is the newest *complete* image with properties
// strata_namespace=N and strata_key=K: status active and strata_sha256 set.
// Put creates a new image (properties strata_key, strata_put_at — a
// nanosecond stamp ordering overwrites — and the request's labels as
// strata_<label>), streams the bytes, then checks what Glance recorded
// against what was sent: size, `checksum` (MD5), and `os_hash_value` when
// Glance hashes with SHA-256. Only then does it add strata_sha256 and
// strata_size, which makes the object visible, and delete the key's older
// images. So readers see the old object or the new one, whole; a failed,
// late or unverified upload is deleted (and, if Glance is down, never
// counts: it has no strata_sha256). Delete removes every image of the key,
// complete or not.
//
// Keys longer than 255 bytes are refused (Glance's limit for a property).
// Errors: connection failures, timeouts and 5xx are Unavailable (retryable);
// 401/403 are PermissionDenied; a Glance that records other bytes than were
// sent is Corruption (retryable).
//
// Thread-safety: safe from several threads; each call uses its own handles.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage-drivers/store.h"

namespace strata::store {

class GlanceStore : public Store {
 public:
  static constexpr const char kScheme[] = "glance";

  static Result<std::unique_ptr<Store>> Create(const std::string& spec);

  std::string Name() const override { return kScheme; }
  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override;
  Status Get(const std::string& key, ByteSink& sink,
             const std::string& expected_sha256,
             const RequestOptions& opts) override;
  Result<ObjectInfo> Stat(const std::string& key,
                          const RequestOptions& opts) override;
  Status Delete(const std::string& key, const RequestOptions& opts) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix,
                                       const RequestOptions& opts) override;

  // An image as this driver reads it.
  struct Image {
    std::string id, status, key, put_at, sha256, checksum, hash_algo,
        hash_value;
    uint64_t size = 0;
    bool complete = false;  // active, strata_sha256 set, sizes agree
    // The Put's labels: the properties strata_<label>.
    std::map<std::string, std::string> labels;
  };
  // The images of `key` in this store's namespace, complete or not.
  Result<std::vector<Image>> ImagesOf(const std::string& key,
                                      const RequestOptions& opts);
  // The URL of image `id`.
  std::string ImageUrl(const std::string& id) const;

 private:
  struct Config {
    std::string base;  // no trailing '/'
    std::string ns = "strata";
    std::string token_file, project_id, user_id, roles;
    std::string disk_format = "qcow2";
  };
  explicit GlanceStore(Config c) : cfg_(std::move(c)) {}

  // Auth and identity headers for one request.
  Result<std::vector<std::string>> Headers() const;
  // Images matching the query (already URL-encoded "a=b&c=d"), all pages.
  Result<std::vector<Image>> Query(const std::string& filters,
                                   const RequestOptions& opts);
  // The newest complete image of `key`, NotFound if none.
  Result<Image> Resolve(const std::string& key, const std::string& ctx,
                        const RequestOptions& opts);
  Status DeleteImage(const std::string& id, const Deadline& deadline);
  ObjectInfo InfoOf(const Image& im) const;

  Config cfg_;
};

}  // namespace strata::store
