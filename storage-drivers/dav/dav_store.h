// DavStore: the "dav" driver — objects on an HTTP file server that takes
// WebDAV-style PUT and DELETE under a base URL (spec "dav:http://host:port/
// base"), e.g. nginx with dav_methods PUT DELETE, create_full_put_path on,
// and autoindex_format json for listing. HTTP through libcurl.
//
// Layout under the base URL, as with the local driver ('#', sent as %23,
// never occurs in a key, so the names cannot collide and List skips them):
//   <base>/K           the object's bytes
//   <base>/K#sha256    sidecar: "sha256=<hex>\nsize=<n>\n", written after the
//                      object; Stat and List trust it only when its size
//                      matches, and otherwise report the digest as "".
// A PUT replaces the object atomically on servers that, like nginx, take the
// body into a temp file and rename it; an aborted upload (the source failed,
// the deadline passed) leaves no object behind on such servers.
//
// Errors: connection failures, timeouts and 5xx are Unavailable (retryable);
// 404 is NotFound; other statuses are IoError with the server's code.
//
// Thread-safety: safe from several threads; each call uses its own handle.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage-drivers/store.h"

namespace strata::store {

class DavStore : public Store {
 public:
  static constexpr const char kScheme[] = "dav";
  static constexpr const char kSidecarSuffix[] = "%23sha256";

  // `spec` is "dav:http(s)://host[:port][/base]".
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

  // The URL of `key`'s bytes.
  std::string ObjectUrl(const std::string& key) const;

 private:
  explicit DavStore(std::string base) : base_(std::move(base)) {}
  // The recorded digest of `key` if its sidecar matches `size`, else "".
  std::string SidecarSha(const std::string& key, uint64_t size,
                         const RequestOptions& opts);
  // Walks the listing of directory `dir` ("" or "a/b/"), collecting keys.
  Status ListDir(const std::string& dir, const std::string& prefix,
                 const RequestOptions& opts, std::vector<std::string>* keys,
                 int depth);

  std::string base_;  // no trailing '/'
};

}  // namespace strata::store
