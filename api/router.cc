// Path routing. See router.h.
#include "api/router.h"

namespace strata::api {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

void Router::Add(const std::string& method, const std::string& pattern,
                 Handler h) {
  routes_.push_back({method, pattern, SplitPath(pattern), std::move(h)});
}

HandlerResult Router::Dispatch(ApiRequest& req) const {
  // "/v3/volumes/" names no resource (an empty id), as in Cinder: a 404,
  // not the collection's 405. Version roots ("/v3/") keep their slash.
  if (req.segments.size() > 1 && !req.path.empty() && req.path.back() == '/')
    return Status::NotFound("The resource could not be found.");
  bool path_matched = false;
  for (const auto& r : routes_) {
    if (r.segments.size() != req.segments.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (size_t i = 0; ok && i < r.segments.size(); ++i) {
      const std::string& p = r.segments[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}')
        params[p.substr(1, p.size() - 2)] = req.segments[i];
      else
        ok = p == req.segments[i];
    }
    if (!ok) continue;
    path_matched = true;
    if (r.method != req.method) continue;
    for (auto& [k, v] : params) req.params[k] = v;
    req.route = r.pattern;
    return r.handler(req);
  }
  if (path_matched) {
    ApiResponse r = ApiResponse::Empty(405);
    return r;
  }
  return Status::NotFound("The resource could not be found.");
}

}  // namespace strata::api
