// Swift's answers, read for the swift driver. See swift_util.h.
#include "storage-drivers/swift/swift_util.h"

#include "http/http_exchange.h"
#include "util/hex.h"

namespace strata::store {
namespace {
const char kMetaPrefix[] = "x-object-meta-strata-";
}  // namespace

Status SwiftError(long code, const std::string& ctx, const std::string& body) {
  if (code == 401)
    return Status::Unauthenticated(ctx + ": Swift refused the credentials");
  if (code == 403)
    return Status::PermissionDenied(ctx + ": Swift forbids it (HTTP 403)");
  if (code == 413)
    return Status::TooLarge(ctx + ": Swift refused the size (HTTP 413)");
  return http::HttpError(code, ctx, body);
}

std::string ETagOf(const http::HttpExchange& x) {
  std::string e = http::ResponseHeader(x, "etag");
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"')
    e = e.substr(1, e.size() - 2);
  return e;
}

std::string MetaHeader(const std::string& label, const std::string& value) {
  std::string name = label;
  for (char& ch : name)
    if (ch == '_') ch = '-';
  // Percent-encoded: a header carries no newline, and Swift keeps bytes
  // as they come.
  return "X-Object-Meta-Strata-" + name + ": " + PercentEncode(value, "/");
}

std::map<std::string, std::string> StrataLabels(const http::HttpExchange& x) {
  std::map<std::string, std::string> out;
  const std::string prefix = kMetaPrefix;
  for (const auto& [name, value] : x.response_headers) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string label = name.substr(prefix.size());
    for (char& ch : label)
      if (ch == '-') ch = '_';
    out[label] = PercentDecode(value);
  }
  return out;
}

}  // namespace strata::store
