// Shared pieces of the glance and swift drivers. See http_driver_util.h.
#include "storage-drivers/http_driver_util.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "util/hex.h"

namespace strata::store {

Result<std::string> ReadSecretLine(const std::string& path,
                                   const std::string& missing) {
  std::ifstream f(path);
  std::string line;
  if (f) std::getline(f, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  if (line.empty()) return Status::Unauthenticated(missing + " " + path);
  return line;
}

Result<SpecParts> SplitSpec(const std::string& spec, const std::string& scheme,
                            const std::string& usage) {
  const std::string prefix = scheme + ":";
  SpecParts out;
  out.url = spec.compare(0, prefix.size(), prefix) == 0
                ? spec.substr(prefix.size())
                : "";
  if (out.url.compare(0, 7, "http://") != 0 &&
      out.url.compare(0, 8, "https://") != 0)
    return Status::InvalidArgument(usage);
  std::string query;
  if (size_t q = out.url.find('?'); q != std::string::npos) {
    query = out.url.substr(q + 1);
    out.url = out.url.substr(0, q);
  }
  std::stringstream in(query);
  std::string item;
  while (std::getline(in, item, '&')) {
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      return Status::InvalidArgument(usage + ": option '" + item +
                                     "' has no value");
    out.options.emplace_back(item.substr(0, eq),
                             PercentDecode(item.substr(eq + 1)));
  }
  return out;
}

std::string PutStamp() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(ns));
  return buf;
}

RequestOptions CleanupOptions(const RequestOptions& opts) {
  RequestOptions c;
  c.timeout = std::chrono::seconds(10);
  if (opts.stall_timeout.count() > 0 && opts.stall_timeout < c.timeout)
    c.timeout = opts.stall_timeout;
  c.stall_timeout = opts.stall_timeout;
  c.request_id = opts.request_id;
  return c;
}

}  // namespace strata::store
