// SwiftStore: the "swift" driver — objects in an OpenStack Swift container
// (issue 23; R1.4), each a Static Large Object: the bytes go up in segments
// of `segment_mib` MiB, each checked against the ETag (MD5) Swift answers,
// then a manifest naming only those checked segments makes the object
// appear at once (readers see the old object or the new one, whole). The
// object's SHA-256 and size, and the request's labels (volume, snapshot,
// parent), are Swift metadata on the manifest (X-Object-Meta-Strata-*),
// so what Swift holds names what it is without the catalog. HTTP through
// libcurl (http_exchange.h).
//
// Spec: "swift:http(s)://host:port/auth/v1.0?option=value&…" (tempauth, a
// Swift without Keystone) with options
//   user=ACCOUNT:USER  the tempauth user (required)
//   key_file=PATH      its key, read at each authentication (required)
//   container=NAME     the objects' container (default "strata"); segments
//                      go to NAME_segments, as swiftclient puts them
//   segment_mib=N      segment size in MiB (default 64, 1..5120)
//
// Layout: object K is the manifest NAME/K; its segments are
// NAME_segments/K/<put stamp>/<8-digit index>, so Puts of one key never
// share a segment. A replaced object's old segments are deleted after the
// new manifest is in place; a failed Put deletes the segments it sent.
//
// Errors: connection failures, timeouts and 5xx are Unavailable (retryable);
// 401 is retried once with a new token, then Unauthenticated; a segment
// whose ETag is not the MD5 sent is Corruption (retryable).
//
// Not yet (issue 23): Keystone authentication, parallel segment uploads
// under a bandwidth cap, resuming an interrupted Put, the catalog rebuild.
//
// Thread-safety: safe from several threads; the token is shared under a
// mutex, each call uses its own handles.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage-drivers/store.h"

namespace strata::http {
struct HttpExchange;
}

namespace strata::store {

class SwiftStore : public Store {
 public:
  static constexpr const char kScheme[] = "swift";

  struct Config {
    std::string auth_url;  // tempauth's /auth/v1.0
    std::string user;      // "account:user"
    std::string key_file;
    std::string container = "strata";
    uint64_t segment_bytes = uint64_t{64} << 20;
  };

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

 private:
  explicit SwiftStore(Config c) : cfg_(std::move(c)) {}

  // The storage URL and a token (tempauth), cached until Swift refuses it.
  struct Session {
    std::string storage_url, token;
  };
  Result<Session> Authenticate(const Deadline& deadline, bool renew);
  // Performs `x` as `method` on `path` (under the storage URL) with the
  // token; a 401 renews the token and, when `retry` (nothing streamed from
  // a source yet), performs it again once.
  Result<long> Request(const std::string& method, const std::string& path,
                       http::HttpExchange* x, const Deadline& deadline,
                       bool retry = true);
  // Creates the object and segment containers once.
  Status EnsureContainers(const Deadline& deadline);
  // The segments (container-relative paths) of `key`'s current manifest;
  // empty when it has none (absent, or a plain object).
  Result<std::vector<std::string>> SegmentsOf(const std::string& key,
                                              const Deadline& deadline);
  Status DeleteSegments(const std::vector<std::string>& paths,
                        const Deadline& deadline);
  std::string ObjectPath(const std::string& key) const;

  const Config cfg_;
  std::mutex mu_;
  Session session_;             // GUARDED_BY(mu_)
  bool containers_ok_ = false;  // GUARDED_BY(mu_)
};

}  // namespace strata::store
