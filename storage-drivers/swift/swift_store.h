// SwiftStore: the "swift" driver — objects in OpenStack Swift (issue 23;
// R1.4), each a Static Large Object: the bytes go up in segments of
// `segment_mib` MiB, each checked against the ETag (MD5) Swift answers,
// then a manifest naming only those checked segments makes the object
// appear at once (readers see the old object or the new one, whole). The
// object's SHA-256 and size, and the request's labels (volume, snapshot,
// parent, form), are Swift metadata on the manifest
// (X-Object-Meta-Strata-*), so what Swift holds names what it is without
// the catalog: Stat and List give them back as ObjectInfo::labels. HTTP
// through libcurl (http_exchange.h).
//
// Spec: "swift:http(s)://host:port/PATH?option=value&…", authenticated
// (swift_auth.h) one of three ways:
//   PATH …/auth/v1.0, user=ACCOUNT:USER&key_file=F      tempauth
//   PATH …/v3, user=U&password_file=F&project=P          Keystone, the
//        [&user_domain=D][&project_domain=D]              service's own
//   PATH …/v3, token_file=F                              Keystone, a token
//                                                        (e.g. a project's)
//   with Keystone, [&region=R][&interface=public|internal|admin] choose
//   the catalog's object-store endpoint.
// and the layout options
//   container=NAME     the objects' container (default "strata"); segments
//                      go to NAME_segments, as swiftclient puts them
//   container_per=store|volume|project
//                      store (default): the one container NAME; volume:
//                      keys "volumes/<id>/…" go to container NAME-<id>
//                      (and NAME-<id>_segments), other keys to NAME;
//                      project: a Put goes to NAME-<its project_id label>
//                      (NAME without one); reads find a key where its
//                      volume was last seen, else in each NAME-* in turn
//   segment_mib=N      segment size in MiB (default 64, 1..5120)
//   parallel=N         segments in flight at once (default 2, 1..16): the
//                      source is read in order, one segment's body at a
//                      time, and the next starts while Swift still writes
//                      the ones before (memory: a transfer buffer each)
//   spool_dir=DIR      where a resumed Put holds a segment it compares
//                      (default $TMPDIR or /tmp)
//
// Layout: object K is the manifest C/K; its segments are
// C_segments/K/<put stamp>/<8-digit index>, so Puts of one key never
// share a segment unless one resumes another. A Put that fails on a
// retryable error (Swift down, a timeout) keeps the segments it stored and
// verified; the next Put of the key — the engine's retry, or its recovery
// after a crash — compares each segment of its bytes with the stored one
// of that index (MD5 against Swift's ETag, through a spool file) and
// reuses it instead of sending it again. After a manifest is in place,
// every other segment of the key is set to expire (ExpireSegments); Delete
// removes the manifest and all of the key's segments.
//
// Errors: connection failures, timeouts and 5xx are Unavailable (retryable);
// 401 is retried once with a new token, then Unauthenticated; a segment
// whose ETag is not the MD5 sent is Corruption (retryable).
//
// Thread-safety: safe from several threads; the session and the set of
// containers made are shared under mutexes, each call uses its own handles.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "storage-drivers/store.h"
#include "storage-drivers/swift/swift_auth.h"

namespace strata::http {
struct HttpExchange;
}

namespace strata::store {

class SwiftStore : public Store {
 public:
  static constexpr const char kScheme[] = "swift";

  struct Config {
    SwiftAuthConfig auth;
    std::string container = "strata";
    // Which container a key's object goes to (the spec's container_per).
    enum class ContainerPer { kStore, kVolume, kProject };
    ContainerPer container_per = ContainerPer::kStore;
    uint64_t segment_bytes = uint64_t{64} << 20;
    size_t parallel_segments = 2;
    std::string spool_dir;
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

  // An entry of a container's listing (an object: a segment, a manifest)
  // or of the account's (a container).
  struct Listed {
    std::string name;  // container-relative, or the container's
    std::string etag;  // an object's MD5 hex, as Swift computed it
    uint64_t bytes = 0;
  };

 private:
  explicit SwiftStore(Config c) : cfg_(std::move(c)), auth_(cfg_.auth) {}

  // Where key K lives: its manifest's container and its segments'.
  struct Where {
    std::string container, segments;
  };
  // Container C's Where: C and C_segments.
  static Where WhereIn(const std::string& c) { return {c, c + "_segments"}; }
  using ContainerPer = Config::ContainerPer;
  // store and volume: where key K lives (its manifest's container and its
  // segments'). project: the base container (K's when no project named it).
  Where WhereIs(const std::string& key) const;
  // Where a Put of `key` goes: with container_per=project NAME-<the
  // request's project_id label> (remembered as where the key's volume was
  // last seen), else WhereIs.
  Where WhereToPut(const std::string& key, const RequestOptions& opts);
  // What last_seen_in_ is keyed by: the key's volume, or the key itself.
  static std::string HintOf(const std::string& key);
  // container_per=project: the containers that may hold `key`, the one
  // its volume was last seen in first, then NAME and every NAME-* (the key
  // names no project: a volume's layers stay where they were stored,
  // whatever project it belongs to later).
  Result<std::vector<std::string>> CandidatesFor(const std::string& key,
                                                 const Deadline& deadline);
  // container_per=project: the first of `candidates` holding `key` (then
  // remembered as where its volume was seen), and its HEAD; NotFound.
  Result<std::pair<Where, ObjectInfo>> Locate(
      const std::string& key, const std::vector<std::string>& candidates,
      const RequestOptions& opts, const std::string& ctx);
  // Locate among CandidatesFor(key).
  Result<std::pair<Where, ObjectInfo>> Locate(const std::string& key,
                                              const RequestOptions& opts,
                                              const std::string& ctx);
  // HEAD of `key` in `container`.
  Result<ObjectInfo> StatIn(const std::string& container,
                            const std::string& key, const RequestOptions& opts,
                            const std::string& ctx);
  // The manifest and every segment of `key` in `where`.
  Status DeleteIn(const Where& where, const std::string& key,
                  const Deadline& deadline, const std::string& ctx);
  std::string ObjectPath(const std::string& container,
                         const std::string& name) const;

  // Performs `x` as `method` on `path` (under the storage URL; "" is the
  // account) with the token; a 401 renews the token and, when `retry`
  // (nothing streamed from a source yet), performs it again once.
  Result<long> Request(const std::string& method, const std::string& path,
                       http::HttpExchange* x, const Deadline& deadline,
                       bool retry = true);
  // Creates `where`'s two containers once.
  Status EnsureContainers(const Where& where, const Deadline& deadline);
  // The rows of a listing of `container` ("" = the account's containers)
  // under `prefix`, all pages. An absent container lists nothing.
  Result<std::vector<Listed>> ListRows(const std::string& container,
                                       const std::string& prefix,
                                       const Deadline& deadline);
  // Every segment stored under `key` (any Put's, finished or not).
  Result<std::vector<Listed>> SegmentsUnder(const Where& where,
                                            const std::string& key,
                                            const Deadline& deadline);
  Status DeleteSegments(const std::string& container,
                        const std::vector<std::string>& names,
                        const Deadline& deadline);
  // Segments a new manifest of their key no longer names: a reader may
  // still be streaming the replaced version, so they are not deleted but
  // set to expire (X-Delete-After: kReplacedSegmentsGrace) and are gone
  // from reads after that; Swift's object expirer reclaims them, and the
  // key's Delete removes them at once.
  static constexpr int kReplacedSegmentsGrace = 3600;  // seconds
  Status ExpireSegments(const std::string& container,
                        const std::vector<std::string>& names,
                        const Deadline& deadline);
  // `method` with `headers` on each of `names` in `container`: all are
  // tried; the first failure is returned (`done`, or 404, is success).
  Status OnSegments(const std::string& container,
                    const std::vector<std::string>& names,
                    const std::string& method,
                    const std::vector<std::string>& headers, long done,
                    const std::string& doing, const Deadline& deadline);
  // A stored segment a new manifest reuses: any expiry an earlier
  // replacement set is removed (X-Remove-Delete-At). NotFound when the
  // segment is gone (expired meanwhile): then it must be sent again.
  Status KeepSegment(const std::string& container, const std::string& name,
                     const Deadline& deadline);
  // The containers that may hold keys under `prefix`.
  Result<std::vector<std::string>> ContainersFor(const std::string& prefix,
                                                 const Deadline& deadline);

  const Config cfg_;
  SwiftAuth auth_;
  std::mutex mu_;
  std::set<std::string> containers_made_;  // GUARDED_BY(mu_)
  // container_per=project: the container each volume's (or other key's)
  // object was last put to or found in.
  std::map<std::string, std::string> last_seen_in_;  // GUARDED_BY(mu_)
};

}  // namespace strata::store
