// The "dav" driver. See dav_store.h.
#include "storage-drivers/dav/dav_store.h"

#include <curl/curl.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "util/sha256.h"

namespace strata::store {
namespace {

constexpr size_t kMaxSmallBody = 4 << 20;  // listings, sidecars, errors

// One HTTP exchange: what to send and where the answer goes.
struct Exchange {
  CURL* curl = nullptr;
  ByteSource* upload = nullptr;  // request body, streamed (chunked)
  BackgroundSha256* upload_hash = nullptr;
  uint64_t uploaded = 0;
  ByteSink* download = nullptr;  // a 200 response's body, streamed
  BackgroundSha256* download_hash = nullptr;
  uint64_t downloaded = 0;
  std::string small_body;  // any other response body (bounded)
  const Deadline* deadline = nullptr;
  Status failure;  // why a callback stopped the transfer
  bool timed_out = false;
  curl_off_t content_length = -1;  // of the response, when the server sent it
};

size_t ReadBody(char* buf, size_t size, size_t n, void* p) {
  auto* x = static_cast<Exchange*>(p);
  auto r = x->upload->Read(buf, size * n);
  if (!r.ok()) {
    x->failure = r.status();
    return CURL_READFUNC_ABORT;
  }
  if (x->upload_hash) x->upload_hash->Update(buf, *r);
  x->uploaded += *r;
  return *r;
}

size_t WriteBody(char* data, size_t size, size_t n, void* p) {
  auto* x = static_cast<Exchange*>(p);
  const size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
  if (code == 200 && x->download) {
    if (x->download_hash) x->download_hash->Update(data, len);
    Status s = x->download->Write(data, len);
    if (!s.ok()) {
      x->failure = s;
      return 0;
    }
    x->downloaded += len;
    return len;
  }
  if (x->small_body.size() + len > kMaxSmallBody) {
    x->failure = Status::IoError("response body over 4 MiB");
    return 0;
  }
  x->small_body.append(data, len);
  return len;
}

int Progress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* x = static_cast<Exchange*>(p);
  if (x->deadline && x->deadline->Expired()) {
    x->timed_out = true;
    return 1;  // abort
  }
  return 0;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// Performs `method` on `url`; returns the HTTP status. Transport failures
// and timeouts are Unavailable (retryable); a callback's failure is returned
// as is (e.g. the source's IoError).
Result<long> Perform(const std::string& method, const std::string& url,
                     Exchange* x, const Deadline& deadline) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");
  x->curl = curl.get();
  x->deadline = &deadline;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  // Fewer, larger callbacks (hashing and sink writes per call): 1 MiB.
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, static_cast<long>(kChunkSize));
  curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, static_cast<long>(kChunkSize));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, Progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Expect:"));  // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  if (method == "PUT") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(c, CURLOPT_READDATA, x);
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  if (!x->failure.ok()) return x->failure;
  if (x->timed_out || deadline.Expired()) return deadline.Check();
  if (rc != CURLE_OK)
    return Status::Unavailable(method + " " + url + ": " +
                               curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &x->content_length);
  x->curl = nullptr;  // the handle ends here
  return code;
}

// Status for an unexpected HTTP answer.
Status HttpError(long code, const std::string& ctx, const std::string& body) {
  std::string msg = ctx + ": HTTP " + std::to_string(code);
  if (code >= 500) return Status::Unavailable(msg);
  if (code == 409) return Status::Conflict(msg + " (a key and a prefix clash)");
  // The start of the server's answer says more than the code alone.
  return Status::IoError(msg +
                         (body.empty() ? "" : ": " + body.substr(0, 200)));
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
  const Deadline deadline(opts);
  BackgroundSha256 hash;
  Exchange x;
  x.upload = &src;
  x.upload_hash = &hash;
  auto code = Perform("PUT", ObjectUrl(key), &x, deadline);
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code != 201 && *code != 204 && *code != 200)
    return HttpError(*code, ctx, x.small_body);
  ObjectInfo info{key, x.uploaded, hash.HexDigest(), ObjectUrl(key)};

  StringSource sidecar("sha256=" + info.sha256 +
                       "\nsize=" + std::to_string(info.size) + "\n");
  Exchange y;
  y.upload = &sidecar;
  auto code2 = Perform("PUT", ObjectUrl(key) + kSidecarSuffix, &y, deadline);
  if (!code2.ok()) return code2.status().WithContext(ctx + " (sidecar)");
  if (*code2 != 201 && *code2 != 204 && *code2 != 200)
    return HttpError(*code2, ctx + " (sidecar)", y.small_body);
  return info;
}

Status DavStore::Get(const std::string& key, ByteSink& sink,
                     const std::string& expected_sha256,
                     const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  STRATA_ASSIGN_OR_RETURN(std::string expected,
                          NormalizeExpectedSha256(expected_sha256));
  const std::string ctx = OpContext("dav get", key, opts);
  const Deadline deadline(opts);
  BackgroundSha256 hash;
  Exchange x;
  x.download = &sink;
  if (!expected.empty()) x.download_hash = &hash;
  auto code = Perform("GET", ObjectUrl(key), &x, deadline);
  if (!code.ok()) return code.status().WithContext(ctx);
  // 301: the key names a directory (a prefix of other keys), not an object.
  if (*code == 404 || *code == 301)
    return Status::NotFound(ctx + ": no such object");
  if (*code != 200) return HttpError(*code, ctx, x.small_body);
  return CheckDownloadDigest(ctx, x.downloaded, hash, expected);
}

std::string DavStore::SidecarSha(const std::string& key, uint64_t size,
                                 const RequestOptions& opts) {
  const Deadline deadline(opts);
  Exchange x;
  auto code = Perform("GET", ObjectUrl(key) + kSidecarSuffix, &x, deadline);
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
  const Deadline deadline(opts);
  Exchange x;
  auto code = Perform("HEAD", ObjectUrl(key), &x, deadline);
  if (!code.ok()) return code.status().WithContext(ctx);
  if (*code == 404 || *code == 301)
    return Status::NotFound(ctx + ": no such object");
  if (*code != 200) return HttpError(*code, ctx, x.small_body);
  if (x.content_length < 0)
    return Status::IoError(ctx + ": the server sent no Content-Length");
  const uint64_t size = static_cast<uint64_t>(x.content_length);
  return ObjectInfo{key, size, SidecarSha(key, size, opts), ObjectUrl(key)};
}

Status DavStore::Delete(const std::string& key, const RequestOptions& opts) {
  STRATA_RETURN_IF_ERROR(ValidateKey(key));
  const std::string ctx = OpContext("dav delete", key, opts);
  const Deadline deadline(opts);
  for (const std::string& url :
       {ObjectUrl(key), ObjectUrl(key) + kSidecarSuffix}) {
    Exchange x;
    auto code = Perform("DELETE", url, &x, deadline);
    if (!code.ok()) return code.status().WithContext(ctx);
    // 404: already absent; 409: a directory (only a prefix): nothing to do.
    if (*code == 200 || *code == 204 || *code == 404 || *code == 409) continue;
    return HttpError(*code, ctx, x.small_body);
  }
  return Status::OK();
}

Status DavStore::ListDir(const std::string& dir, const std::string& prefix,
                         const RequestOptions& opts,
                         std::vector<std::string>* keys, int depth) {
  if (depth > 64) return Status::Internal("listing deeper than 64 levels");
  const Deadline deadline(opts);
  Exchange x;
  auto code = Perform("GET", base_ + "/" + dir, &x, deadline);
  if (!code.ok()) return code.status();
  if (*code == 404) return Status::OK();
  if (*code != 200) return HttpError(*code, "list " + dir, x.small_body);
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
