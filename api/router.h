// Routes (method, path pattern) to handlers. Patterns are '/'-separated;
// a segment "{name}" matches any one segment and lands in req.params[name].
// A path that matches a pattern under another method is a 405, no match at
// all a 404, and so is a path below a root that ends in '/' (an empty id).
// Thread-safety: Add during start-up only; Dispatch from any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/api_types.h"

namespace strata::api {

using Handler = std::function<HandlerResult(ApiRequest&)>;

class Router {
 public:
  void Add(const std::string& method, const std::string& pattern, Handler h);
  HandlerResult Dispatch(ApiRequest& req) const;

 private:
  struct Route {
    std::string method, pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

std::vector<std::string> SplitPath(const std::string& path);

}  // namespace strata::api
