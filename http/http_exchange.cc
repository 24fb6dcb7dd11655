// One HTTP request through libcurl. See http_exchange.h.
#include "http/http_exchange.h"

#include <cctype>
#include <memory>
#include <mutex>

namespace strata::http {
namespace {

size_t ReadBody(char* buf, size_t size, size_t n, void* p) {
  auto* x = static_cast<HttpExchange*>(p);
  auto r = x->upload->Read(buf, size * n);
  if (!r.ok()) {
    x->failure = r.status();
    return CURL_READFUNC_ABORT;
  }
  for (BackgroundDigest* d : x->upload_digests) d->Update(buf, *r);
  x->uploaded += *r;
  return *r;
}

size_t WriteBody(char* data, size_t size, size_t n, void* p) {
  auto* x = static_cast<HttpExchange*>(p);
  const size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
  if (code == 200 && x->download) {
    for (BackgroundDigest* d : x->download_digests) d->Update(data, len);
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

size_t Header(char* data, size_t size, size_t n, void* p) {
  auto* x = static_cast<HttpExchange*>(p);
  const std::string line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos && x->response_headers.size() < 200) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    size_t b = line.find_first_not_of(" \t", colon + 1);
    size_t e = line.find_last_not_of(" \t\r\n");
    x->response_headers[name] =
        (b == std::string::npos || e < b) ? "" : line.substr(b, e - b + 1);
  }
  return size * n;
}

int Progress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* x = static_cast<HttpExchange*>(p);
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

}  // namespace

Result<long> HttpPerform(const std::string& method, const std::string& url,
                         HttpExchange* x, const Deadline& deadline) {
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
  if (deadline.stall_timeout().count() > 0) {
    // Less than a byte a second for that long: the server has stalled.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(deadline.stall_timeout().count()));
  }
  // Fewer, larger callbacks (hashing and sink writes per call): 1 MiB.
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE,
                   static_cast<long>(kTransferBufferSize));
  curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE,
                   static_cast<long>(kTransferBufferSize));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, Header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, Progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
  // No 100-continue round trip.
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Expect:"));
  for (const std::string& h : x->headers)
    headers.reset(curl_slist_append(headers.release(), h.c_str()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  if (method == "PUT" && x->upload) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(c, CURLOPT_READDATA, x);
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (x->body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(x->body->size()));
  }
  CURLcode rc = curl_easy_perform(c);
  x->curl = nullptr;  // the handle ends here
  if (!x->failure.ok()) return x->failure;
  if (x->timed_out || deadline.Expired()) return deadline.Check();
  if (rc != CURLE_OK)
    return Status::Unavailable(method + " " + url + ": " +
                               curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &x->content_length);
  return code;
}

std::string ResponseHeader(const HttpExchange& x, const std::string& name) {
  auto it = x.response_headers.find(name);
  return it == x.response_headers.end() ? "" : it->second;
}

Status HttpError(long code, const std::string& ctx, const std::string& body) {
  std::string msg = ctx + ": HTTP " + std::to_string(code);
  if (code >= 500) return Status::Unavailable(msg);
  if (code == 409)
    return Status::Conflict(msg +
                            (body.empty() ? "" : ": " + body.substr(0, 200)));
  // The start of the server's answer says more than the code alone.
  return Status::IoError(msg +
                         (body.empty() ? "" : ": " + body.substr(0, 200)));
}

}  // namespace strata::http
