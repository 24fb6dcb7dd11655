// The "swift" driver: its spec, requests, containers, and the operations
// but Put (swift_put.cc). See swift_store.h.
#include "storage-drivers/swift/swift_store.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/http_exchange.h"
#include "http/json_field.h"
#include "storage-drivers/http_driver_util.h"
#include "storage-drivers/swift/swift_util.h"
#include "util/hex.h"
#include "util/sha256.h"

namespace strata::store {
namespace {

using nlohmann::json;

// "volumes/<id>/…" → <id>; "" for other keys and prefixes that do not name
// a whole volume segment.
std::string VolumeOf(const std::string& key) {
  const std::string head = "volumes/";
  if (!key.starts_with(head)) return "";
  const size_t slash = key.find('/', head.size());
  if (slash == std::string::npos) return "";
  return key.substr(head.size(), slash - head.size());
}

}  // namespace

Result<std::unique_ptr<Store>> SwiftStore::Create(const std::string& spec) {
  const std::string usage =
      "store spec '" + spec +
      "' is not swift:http(s)://host[:port]/PATH?AUTH[&container=NAME]"
      "[&container_per=store|volume|project][&segment_mib=N][&parallel=N]"
      "[&spool_dir=DIR] with "
      "AUTH user=ACCOUNT:USER&key_file=F (tempauth, PATH …/auth/v1.0), "
      "user=U&password_file=F&project=P[&user_domain=D][&project_domain=D] "
      "or token_file=F (Keystone, PATH …/v3; [&region=R][&interface=I])";
  STRATA_ASSIGN_OR_RETURN(SpecParts parts, SplitSpec(spec, kScheme, usage));
  Config c;
  c.auth.auth_url = parts.url;
  int secrets = 0;
  for (const auto& [name, value] : parts.options) {
    if (name == "user") {
      c.auth.user = value;
    } else if (name == "key_file" || name == "password_file" ||
               name == "token_file") {
      ++secrets;
      c.auth.secret_file = value;
      c.auth.kind = name == "key_file" ? SwiftAuthConfig::Kind::kTempauth
                    : name == "password_file"
                        ? SwiftAuthConfig::Kind::kKeystonePassword
                        : SwiftAuthConfig::Kind::kKeystoneToken;
    } else if (name == "project") {
      c.auth.project = value;
    } else if (name == "user_domain") {
      c.auth.user_domain = value;
    } else if (name == "project_domain") {
      c.auth.project_domain = value;
    } else if (name == "region") {
      c.auth.region = value;
    } else if (name == "interface") {
      if (value != "public" && value != "internal" && value != "admin")
        return Status::InvalidArgument(
            usage + ": interface is public, internal or admin");
      c.auth.interface = value;
    } else if (name == "container") {
      // Swift's limit is 256 bytes; "-<volume id>_segments" is added to it.
      if (value.empty() || value.size() > 200 ||
          value.find('/') != std::string::npos)
        return Status::InvalidArgument(usage +
                                       ": container must be 1-200 bytes, "
                                       "no '/'");
      c.container = value;
    } else if (name == "container_per") {
      if (value != "store" && value != "volume" && value != "project")
        return Status::InvalidArgument(
            usage + ": container_per is store, volume or project");
      c.container_per = value == "volume"    ? ContainerPer::kVolume
                        : value == "project" ? ContainerPer::kProject
                                             : ContainerPer::kStore;
    } else if (name == "segment_mib") {
      char* end = nullptr;
      const unsigned long long mib = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || mib < 1 || mib > 5120)
        return Status::InvalidArgument(usage + ": segment_mib is 1..5120");
      c.segment_bytes = mib << 20;
    } else if (name == "parallel") {
      char* end = nullptr;
      const unsigned long n = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 1 || n > 16)
        return Status::InvalidArgument(usage + ": parallel is 1..16");
      c.parallel_segments = n;
    } else if (name == "spool_dir") {
      c.spool_dir = value;
    } else {
      return Status::InvalidArgument(usage + ": unknown option '" + name + "'");
    }
  }
  if (secrets != 1)
    return Status::InvalidArgument(
        usage + ": give one of key_file, password_file, token_file");
  using Kind = SwiftAuthConfig::Kind;
  if (c.auth.kind == Kind::kTempauth &&
      c.auth.user.find(':') == std::string::npos)
    return Status::InvalidArgument(usage + ": tempauth's user is ACCOUNT:USER");
  if (c.auth.kind == Kind::kKeystonePassword &&
      (c.auth.user.empty() || c.auth.project.empty()))
    return Status::InvalidArgument(usage +
                                   ": password_file needs user and project");
  if (c.auth.kind == Kind::kKeystoneToken && !c.auth.user.empty())
    return Status::InvalidArgument(usage + ": token_file takes no user");
  if (!std::ifstream(c.auth.secret_file))
    return Status::InvalidArgument("swift store: cannot read " +
                                   c.auth.secret_file);
  if (c.spool_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    c.spool_dir = tmp && *tmp ? tmp : "/tmp";
  }
  return std::unique_ptr<Store>(new SwiftStore(std::move(c)));
}

Result<long> SwiftStore::Request(const std::string& method,
                                 const std::string& path, http::HttpExchange* x,
                                 const Deadline& deadline, bool retry) {
  const http::HttpExchange request = *x;
  for (int attempt = 0;; ++attempt) {
    STRATA_ASSIGN_OR_RETURN(SwiftAuth::Session s,
                            auth_.Get(deadline, attempt > 0));
    *x = request;
    x->headers.push_back("X-Auth-Token: " + s.token);
    STRATA_ASSIGN_OR_RETURN(
        long code,
        http::HttpPerform(method, s.storage_url + path, x, deadline));
    if (code != 401 || attempt > 0 || !retry) return code;
  }
}

SwiftStore::Where SwiftStore::WhereIs(const std::string& key) const {
  std::string c = cfg_.container;
  if (cfg_.container_per == ContainerPer::kVolume) {
    const std::string volume = VolumeOf(key);
    if (!volume.empty()) c += "-" + volume;
  }
  return WhereIn(c);
}

SwiftStore::Where SwiftStore::WhereToPut(const std::string& key,
                                         const RequestOptions& opts) {
  if (cfg_.container_per != ContainerPer::kProject) return WhereIs(key);
  auto label = opts.labels.find("project_id");
  std::string c = cfg_.container;
  // A project id as Keystone makes them (hex), or a name of that alphabet.
  if (label != opts.labels.end() && !label->second.empty() &&
      label->second.size() <= 64 &&
      std::all_of(label->second.begin(), label->second.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' ||
               ch == '_';
      }))
    c += "-" + label->second;
  std::lock_guard<std::mutex> lock(mu_);
  last_seen_in_[HintOf(key)] = c;
  return WhereIn(c);
}

std::string SwiftStore::HintOf(const std::string& key) {
  const std::string volume = VolumeOf(key);
  return volume.empty() ? key : volume;
}

Result<std::vector<std::string>> SwiftStore::CandidatesFor(
    const std::string& key, const Deadline& deadline) {
  std::vector<std::string> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto hint = last_seen_in_.find(HintOf(key));
    if (hint != last_seen_in_.end()) out.push_back(hint->second);
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> all,
                          ContainersFor("", deadline));
  for (std::string& c : all)
    if (std::find(out.begin(), out.end(), c) == out.end())
      out.push_back(std::move(c));
  return out;
}

Result<std::pair<SwiftStore::Where, ObjectInfo>> SwiftStore::Locate(
    const std::string& key, const RequestOptions& opts,
    const std::string& ctx) {
  STRATA_ASSIGN_OR_RETURN(std::vector<std::string> candidates,
                          CandidatesFor(key, DeadlineOf(opts)));
  return Locate(key, candidates, opts, ctx);
}

Result<std::pair<SwiftStore::Where, ObjectInfo>> SwiftStore::Locate(
    const std::string& key, const std::vector<std::string>& candidates,
    const RequestOptions& opts, const std::string& ctx) {
  for (const std::string& c : candidates) {
    auto info = StatIn(c, key, opts, ctx);
    if (info.status().IsNotFound()) continue;
    if (!info.ok()) return info.status();
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_seen_in_[HintOf(key)] = c;
    }
    return std::make_pair(WhereIn(c), std::move(*info));
  }
  return Status::NotFound(ctx);
}

std::string SwiftStore::ObjectPath(const std::string& container,
                                   const std::string& name) const {
  return "/" + PercentEncode(container) + "/" + PercentEncode(name, "/");
}

Status SwiftStore::EnsureContainers(const Where& where,
                                    const Deadline& deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (containers_made_.count(where.container)) return Status::OK();
  }
  for (const std::string& c : {where.container, where.segments}) {
    // A new account's first container can meet a 503 while Swift creates
    // the account: tried a few times, 0.1 s apart and doubling.
    for (int attempt = 0;; ++attempt) {
      http::HttpExchange x;
      STRATA_ASSIGN_OR_RETURN(
          long code, Request("PUT", "/" + PercentEncode(c), &x, deadline));
      if (code == 201 || code == 202) break;
      if (code < 500 || attempt == 4)
        return SwiftError(code, "swift: creating container " + c, x.small_body);
      std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  containers_made_.insert(where.container);
  return Status::OK();
}

Result<std::vector<SwiftStore::Listed>> SwiftStore::ListRows(
    const std::string& container, const std::string& prefix,
    const Deadline& deadline) {
  std::vector<Listed> out;
  std::string marker;
  for (;;) {
    http::HttpExchange x;
    std::string path =
        (container.empty() ? std::string() : "/" + PercentEncode(container)) +
        "?format=json&limit=10000&prefix=" + PercentEncode(prefix);
    if (!marker.empty()) path += "&marker=" + PercentEncode(marker);
    STRATA_ASSIGN_OR_RETURN(long code, Request("GET", path, &x, deadline));
    if (code == 404 || code == 204) return out;  // no container: nothing
    if (code != 200)
      return SwiftError(code, "swift: listing " + container, x.small_body);
    json rows = json::parse(x.small_body, nullptr, false);
    if (!rows.is_array())
      return Status::IoError("swift: the listing of " + container +
                             " is not a JSON list");
    if (rows.empty()) return out;
    for (const json& r : rows) {
      if (!r.is_object()) continue;
      Listed seg{http::JsonString(r, "name"), http::JsonString(r, "hash"), 0};
      if (r.contains("bytes") && r["bytes"].is_number_unsigned())
        seg.bytes = r["bytes"].get<uint64_t>();
      marker = seg.name;
      out.push_back(std::move(seg));
    }
  }
}

Result<std::vector<SwiftStore::Listed>> SwiftStore::SegmentsUnder(
    const Where& where, const std::string& key, const Deadline& deadline) {
  return ListRows(where.segments, key + "/", deadline);
}

Status SwiftStore::DeleteSegments(const std::string& container,
                                  const std::vector<std::string>& names,
                                  const Deadline& deadline) {
  return OnSegments(container, names, "DELETE", {}, 204, "deleting", deadline);
}

Status SwiftStore::ExpireSegments(const std::string& container,
                                  const std::vector<std::string>& names,
                                  const Deadline& deadline) {
  return OnSegments(
      container, names, "POST",
      {"X-Delete-After: " + std::to_string(kReplacedSegmentsGrace)}, 202,
      "setting to expire", deadline);
}

Status SwiftStore::OnSegments(const std::string& container,
                              const std::vector<std::string>& names,
                              const std::string& method,
                              const std::vector<std::string>& headers,
                              long done, const std::string& doing,
                              const Deadline& deadline) {
  Status first;
  for (const std::string& name : names) {
    http::HttpExchange x;
    x.headers = headers;
    auto code = Request(method, ObjectPath(container, name), &x, deadline);
    if (!code.ok()) {
      if (first.ok()) first = code.status();
      continue;
    }
    // 404: gone already (deleted, expired), which is as good.
    if (*code != done && *code != 404 && first.ok())
      first = SwiftError(*code, "swift: " + doing + " segment " + name,
                         x.small_body);
  }
  return first;
}

Status SwiftStore::KeepSegment(const std::string& container,
                               const std::string& name,
                               const Deadline& deadline) {
  http::HttpExchange x;
  x.headers = {"X-Remove-Delete-At: 1"};
  STRATA_ASSIGN_OR_RETURN(
      long code, Request("POST", ObjectPath(container, name), &x, deadline));
  if (code == 202) return Status::OK();
  if (code == 404) return Status::NotFound("swift: segment " + name);
  return SwiftError(code, "swift: keeping segment " + name, x.small_body);
}

Status SwiftStore::Get(const std::string& key, ByteSink& sink,
                       const std::string& expected_sha256,
                       const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  STRATA_ASSIGN_OR_RETURN(std::string expected,
                          NormalizeExpectedSha256(expected_sha256));
  const std::string ctx = OpContext("swift get", key, opts);
  Where where = WhereIs(key);
  if (cfg_.container_per == ContainerPer::kProject) {
    STRATA_ASSIGN_OR_RETURN(auto found, Locate(key, opts, ctx));
    where = found.first;
  }
  BackgroundSha256 hash;
  http::HttpExchange x;
  x.download = &sink;
  if (!expected.empty()) x.download_digests = {&hash};
  const http::HttpExchange fresh = x;
  Result<long> code = Status::Internal("no GET");
  // An object server answers 404 for an object being replaced when its old
  // file goes between the listing of its directory and the open (seen
  // here 2 in 40 runs of a reader beside 8 Puts, one replica): asked again
  // once, a moment later. Nothing of a 404 reaches the sink.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      x = fresh;
    }
    code =
        Request("GET", ObjectPath(where.container, key), &x, DeadlineOf(opts));
    if (!code.ok() || *code != 404) break;
  }
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code == 404) return Status::NotFound(ctx);
  if (*code != 200) return SwiftError(*code, ctx, x.small_body);
  // A large object whose segment went missing or changed ends short: Swift
  // has sent its headers (the manifest's length) before it finds out.
  if (x.content_length >= 0 &&
      x.downloaded != static_cast<uint64_t>(x.content_length))
    return Status::Corruption(ctx + ": Swift sent " +
                              std::to_string(x.downloaded) + " bytes of " +
                              std::to_string(x.content_length));
  return CheckDownloadDigest(ctx, x.downloaded, hash, expected);
}

Result<ObjectInfo> SwiftStore::Stat(const std::string& key,
                                    const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("swift stat", key, opts);
  if (cfg_.container_per != ContainerPer::kProject)
    return StatIn(WhereIs(key).container, key, opts, ctx);
  STRATA_ASSIGN_OR_RETURN(auto found, Locate(key, opts, ctx));
  return std::move(found.second);
}

Result<ObjectInfo> SwiftStore::StatIn(const std::string& container,
                                      const std::string& key,
                                      const RequestOptions& opts,
                                      const std::string& ctx) {
  const std::string path = ObjectPath(container, key);
  http::HttpExchange x;
  auto code = Request("HEAD", path, &x, DeadlineOf(opts));
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code == 404) return Status::NotFound(ctx);
  if (*code != 200) return SwiftError(*code, ctx, x.small_body);
  ObjectInfo info{
      key,
      std::strtoull(http::ResponseHeader(x, "content-length").c_str(), nullptr,
                    10),
      "", "swift:" + path};
  info.labels = StrataLabels(x);
  const std::string sha = info.labels["sha256"];
  const std::string size = info.labels["size"];
  info.labels.erase("sha256");
  info.labels.erase("size");
  if (IsSha256Hex(sha) && size == std::to_string(info.size)) info.sha256 = sha;
  return info;
}

Status SwiftStore::Delete(const std::string& key, const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("swift delete", key, opts);
  const Deadline deadline = DeadlineOf(opts);
  if (cfg_.container_per == ContainerPer::kProject) {
    auto all = CandidatesFor(key, deadline);
    if (!all.ok()) return all.status().WithContext(ctx);
    auto found = Locate(key, *all, opts, ctx);
    if (found.ok()) return DeleteIn(found->first, key, deadline, ctx);
    if (!found.status().IsNotFound()) return found.status().WithContext(ctx);
    // No manifest: segments failed Puts kept may be in any project's.
    for (const std::string& c : *all)
      STRATA_RETURN_IF_ERROR(DeleteIn(WhereIn(c), key, deadline, ctx));
    return Status::OK();
  }
  return DeleteIn(WhereIs(key), key, deadline, ctx);
}

Status SwiftStore::DeleteIn(const Where& where, const std::string& key,
                            const Deadline& deadline, const std::string& ctx) {
  http::HttpExchange x;
  // With multipart-manifest=delete Swift removes a manifest's segments
  // too, and a plain object as usual.
  auto code = Request(
      "DELETE", ObjectPath(where.container, key) + "?multipart-manifest=delete",
      &x, deadline);
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code != 200 && *code != 204 && *code != 404)
    return SwiftError(*code, ctx, x.small_body);
  // Segments no manifest names: those of failed Puts kept for resuming.
  auto left = SegmentsUnder(where, key, deadline);
  if (!left.ok()) return left.status().WithContext(ctx);
  std::vector<std::string> names;
  for (const Listed& s : *left) names.push_back(s.name);
  return DeleteSegments(where.segments, names, deadline).WithContext(ctx);
}

Result<std::vector<std::string>> SwiftStore::ContainersFor(
    const std::string& prefix, const Deadline& deadline) {
  if (cfg_.container_per == ContainerPer::kStore ||
      (cfg_.container_per == ContainerPer::kVolume &&
       !VolumeOf(prefix).empty()))
    return std::vector<std::string>{WhereIs(prefix).container};
  // Every NAME-<volume or project> container, and NAME for the other keys.
  std::vector<std::string> out{cfg_.container};
  STRATA_ASSIGN_OR_RETURN(std::vector<Listed> rows,
                          ListRows("", cfg_.container + "-", deadline));
  for (const Listed& r : rows)
    if (!r.name.ends_with("_segments")) out.push_back(r.name);
  return out;
}

Result<std::vector<ObjectInfo>> SwiftStore::List(const std::string& prefix,
                                                 const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKeyPrefix(prefix));
  const std::string ctx = OpContext("swift list", prefix, opts);
  const Deadline deadline = DeadlineOf(opts);
  auto containers = ContainersFor(prefix, deadline);
  if (!containers.ok()) return containers.status().WithContext(ctx);
  std::vector<ObjectInfo> out;
  for (const std::string& c : *containers) {
    auto rows = ListRows(c, prefix, deadline);
    if (!rows.ok()) return rows.status().WithContext(ctx);
    for (const Listed& r : *rows) {
      // Only keys whose container is this one (with one container per
      // volume, NAME holds no volume's keys).
      if (!ValidateKey(r.name).ok() ||
          (cfg_.container_per != ContainerPer::kProject &&
           WhereIs(r.name).container != c))
        continue;
      // A listing carries no object metadata: the SHA-256 (and the size of
      // a large object) come from each object's own HEAD.
      auto info =
          StatIn(c, r.name, opts, OpContext("swift stat", r.name, opts));
      if (info.status().IsNotFound()) continue;  // deleted meanwhile
      if (!info.ok()) return info.status().WithContext(ctx);
      out.push_back(*info);
    }
  }
  std::sort(
      out.begin(), out.end(),
      [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

}  // namespace strata::store
