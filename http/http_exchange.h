// HttpExchange: one HTTP request through libcurl for the drivers that talk
// HTTP (dav, glance) and the API's Keystone client. The request body is either
// streamed from a ByteSource (chunked, for object uploads) or a small string
// (JSON for APIs); a 200 answer's body is streamed into a ByteSink (object
// downloads), any other body is kept, bounded, for error messages and JSON
// answers. Digests of the streamed bytes are computed on the way, on threads of
// their own.
//
// Errors: connection failures and the request's deadline are Unavailable
// (retryable); a callback's failure (the source or sink broke) is returned
// as is. The HTTP status is the caller's to judge (HttpError helps).
//
// Thread-safety: an HttpExchange is single-owner; each Perform uses its own
// curl handle, so different exchanges run in parallel.
#pragma once

#include <curl/curl.h>

#include <map>
#include <string>
#include <vector>

#include "util/byte_stream.h"
#include "util/deadline.h"
#include "util/sha256.h"

namespace strata::http {

// libcurl's upload and download buffer: a store's chunk.
inline constexpr size_t kTransferBufferSize = 1 << 20;
// Bodies other than streamed downloads are kept up to this size.
inline constexpr size_t kMaxSmallBody = 4 << 20;

struct HttpExchange {
  // ---- the request ----
  std::vector<std::string> headers;  // "Name: value"
  ByteSource* upload = nullptr;      // streamed body (PUT), chunked
  std::vector<BackgroundDigest*> upload_digests;  // fed the uploaded bytes
  const std::string* body = nullptr;              // small body (POST, PATCH)
  ByteSink* download = nullptr;  // where a 200 answer's body goes
  std::vector<BackgroundDigest*> download_digests;

  // ---- the answer ----
  uint64_t uploaded = 0;
  uint64_t downloaded = 0;
  std::string small_body;          // any body not streamed to `download`
  curl_off_t content_length = -1;  // as the server sent it, -1 if none
  // Response headers, names in lower case (the last of a repeated one).
  std::map<std::string, std::string> response_headers;

  // ---- internal to Perform ----
  CURL* curl = nullptr;
  const Deadline* deadline = nullptr;
  Status failure;  // why a callback stopped the transfer
  bool timed_out = false;
};

// Performs `method` ("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE") on
// `url`; returns the HTTP status code.
Result<long> HttpPerform(const std::string& method, const std::string& url,
                         HttpExchange* x, const Deadline& deadline);

// Response header `name` (lower case) as Perform kept it (blanks around
// the value trimmed); "" when the answer had none.
std::string ResponseHeader(const HttpExchange& x, const std::string& name);

// The Status for an unexpected HTTP answer: 5xx Unavailable (retryable),
// 409 Conflict, anything else IoError; with the start of the server's body.
Status HttpError(long code, const std::string& ctx, const std::string& body);

}  // namespace strata::http
