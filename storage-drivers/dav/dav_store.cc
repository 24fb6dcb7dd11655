// The "dav" driver. See dav_store.h.
#include "storage-drivers/dav/dav_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "http/http_exchange.h"
#include "util/sha256.h"

namespace strata::store {
namespace {

// dav's reading of an unexpected answer: 409 means a key and a prefix clash.
Status DavError(long code, const std::string& ctx, const std::string& body) {
  if (code == 409)
    return Status::Conflict(ctx + ": HTTP 409 (a key and a prefix clash)");
  return http::HttpError(code, ctx, body);
}

bool StartsWith(const std::string& s, const std::string& p) {
  return s.compare(0, p.size(), p) == 0;
}

}  // namespace

Result<std::unique_ptr<Store>> DavStore::Create(const std::string& spec) {
  const std::string prefix = std::string(kScheme) + ":";
  std::string url = StartsWith(spec, prefix) ? spec.substr(prefix.size()) : "";
  if (!StartsWith(url, "http://") && !StartsWith(url, "https://"))
    return Status::InvalidArgument("store spec '" + spec +
                                   "' is not dav:http(s)://host[:port][/base]");
  while (!url.empty() && url.back() == '/') url.pop_back();
  return std::unique_ptr<Store>(new DavStore(url));
}

std::string DavStore::ObjectUrl(const std::string& key) const {
  return base_ + "/" + key;  // key characters need no escaping (store.h)
}

Result<ObjectInfo> DavStore::Put(const std::string& key, ByteSource& src,
                                 const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("dav put", key, opts);
  const Deadline deadline = DeadlineOf(opts);
  BackgroundSha256 hash;
  http::HttpExchange x;
  x.upload = &src;
  x.upload_digests = {&hash};
  auto code = http::HttpPerform("PUT", ObjectUrl(key), &x, deadline);
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code != 201 && *code != 204 && *code != 200)
    return DavError(*code, ctx, x.small_body);
  ObjectInfo info{key, x.uploaded, hash.HexDigest(), ObjectUrl(key)};

  StringSource sidecar("sha256=" + info.sha256 +
                       "\nsize=" + std::to_string(info.size) + "\n");
  http::HttpExchange y;
  y.upload = &sidecar;
  auto code2 =
      http::HttpPerform("PUT", ObjectUrl(key) + kSidecarSuffix, &y, deadline);
  if (!code2.ok()) return code2.status().WithContext(ctx + " (sidecar)");
  if (*code2 != 201 && *code2 != 204 && *code2 != 200)
    return DavError(*code2, ctx + " (sidecar)", y.small_body);
  return info;
}

Status DavStore::Get(const std::string& key, ByteSink& sink,
                     const std::string& expected_sha256,
                     const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  STRATA_ASSIGN_OR_RETURN(std::string expected,
                          NormalizeExpectedSha256(expected_sha256));
  const std::string ctx = OpContext("dav get", key, opts);
  const Deadline deadline = DeadlineOf(opts);
  BackgroundSha256 hash;
  http::HttpExchange x;
  x.download = &sink;
  if (!expected.empty()) x.download_digests = {&hash};
  auto code = http::HttpPerform("GET", ObjectUrl(key), &x, deadline);
  if (!code.ok()) return code.status().WithContext(ctx);
  // 301: the key names a directory (a prefix of other keys), not an object.
  if (*code == 404 || *code == 301)
    return Status::NotFound(ctx + ": no such object");
  if (*code != 200) return DavError(*code, ctx, x.small_body);
  return CheckDownloadDigest(ctx, x.downloaded, hash, expected);
}

std::string DavStore::SidecarSha(const std::string& key, uint64_t size,
                                 const RequestOptions& opts) {
  const Deadline deadline = DeadlineOf(opts);
  http::HttpExchange x;
  auto code =
      http::HttpPerform("GET", ObjectUrl(key) + kSidecarSuffix, &x, deadline);
  if (!code.ok() || *code != 200) return "";
  std::string sha, got_size;
  size_t pos = 0;
  while (pos < x.small_body.size()) {
    size_t nl = x.small_body.find('\n', pos);
    std::string line = x.small_body.substr(
        pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (StartsWith(line, "sha256=")) sha = line.substr(7);
    if (StartsWith(line, "size=")) got_size = line.substr(5);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  if (got_size != std::to_string(size) || !IsSha256Hex(sha)) return "";
  return sha;
}

Result<ObjectInfo> DavStore::Stat(const std::string& key,
                                  const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("dav stat", key, opts);
  const Deadline deadline = DeadlineOf(opts);
  http::HttpExchange x;
  auto code = http::HttpPerform("HEAD", ObjectUrl(key), &x, deadline);
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code == 404 || *code == 301)
    return Status::NotFound(ctx + ": no such object");
  if (*code != 200) return DavError(*code, ctx, x.small_body);
  if (x.content_length < 0)
    return Status::IoError(ctx + ": the server sent no Content-Length");
  const uint64_t size = static_cast<uint64_t>(x.content_length);
  return ObjectInfo{key, size, SidecarSha(key, size, opts), ObjectUrl(key)};
}

Status DavStore::Delete(const std::string& key, const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("dav delete", key, opts);
  const Deadline deadline = DeadlineOf(opts);
  for (const std::string& url :
       {ObjectUrl(key), ObjectUrl(key) + kSidecarSuffix}) {
    http::HttpExchange x;
    auto code = http::HttpPerform("DELETE", url, &x, deadline);
    if (!code.ok()) return code.status().WithContext(ctx);
    // 404: already absent; 409: a directory (only a prefix): nothing to do.
    if (*code == 200 || *code == 204 || *code == 404 || *code == 409) continue;
    return DavError(*code, ctx, x.small_body);
  }
  return Status::OK();
}

Status DavStore::ListDir(const std::string& dir, const std::string& prefix,
                         const RequestOptions& opts,
                         std::vector<std::string>* keys, int depth) {
  if (depth > 64) return Status::Internal("listing deeper than 64 levels");
  const Deadline deadline = DeadlineOf(opts);
  http::HttpExchange x;
  auto code = http::HttpPerform("GET", base_ + "/" + dir, &x, deadline);
  if (!code.ok()) return code.status();
  if (*code == 404) return Status::OK();
  if (*code != 200) return DavError(*code, "list " + dir, x.small_body);
  auto listing = nlohmann::json::parse(x.small_body, nullptr, false);
  if (!listing.is_array())
    return Status::IoError("list " + dir +
                           ": the server's index is not a JSON array "
                           "(autoindex_format json?)");
  for (const auto& e : listing) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
      continue;
    const std::string name = e["name"].get<std::string>();
    const std::string type = e.value("type", "");
    if (type == "directory") {
      const std::string sub = dir + name + "/";
      if (StartsWith(sub, prefix) || StartsWith(prefix, sub))
        STRATA_RETURN_IF_ERROR(ListDir(sub, prefix, opts, keys, depth + 1));
    } else if (type == "file") {
      const std::string key = dir + name;
      if (StartsWith(key, prefix) && ValidateKey(key).ok())
        keys->push_back(key);
    }
  }
  return Status::OK();
}

Result<std::vector<ObjectInfo>> DavStore::List(const std::string& prefix,
                                               const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKeyPrefix(prefix));
  const std::string ctx = OpContext("dav list", prefix, opts);
  size_t slash = prefix.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
  std::vector<std::string> keys;
  Status s = ListDir(dir, prefix, opts, &keys, 0);
  if (!s.ok()) return s.WithContext(ctx);
  std::sort(keys.begin(), keys.end());
  std::vector<ObjectInfo> out;
  for (const auto& k : keys) {
    auto st = Stat(k, opts);
    if (st.ok()) out.push_back(*st);  // gone meanwhile: skipped
  }
  return out;
}

}  // namespace strata::store
