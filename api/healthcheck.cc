// GET and HEAD /healthcheck, answered as oslo.middleware's healthcheck app
// answers it in every OpenStack service (a load balancer's probe): before
// authentication, with its one backend `disable_by_file`. While the file
// `[healthcheck] disable_by_file_path` exists the answer is 503 "DISABLED
// BY FILE" (an operator drains the host by touching it), else 200 "OK";
// HEAD gives 204 / 503 with no body. The body follows the Accept header as
// webob picks among text/plain, text/html and application/json (highest
// q, ties in that order; none acceptable: text/plain), byte for byte
// oslo.middleware's non-detailed bodies. tests/integration/
// test-healthcheck-metrics.sh compares them with oslo.middleware's own.
#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "api/handlers.h"

namespace strata::api {
namespace {

struct Offer {
  const char* type;
  const char* content_type;
};
constexpr Offer kOffers[] = {
    {"text/plain", "text/plain; charset=UTF-8"},
    {"text/html", "text/html; charset=UTF-8"},
    {"application/json", "application/json"},
};

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The offer (index into kOffers) that `accept` prefers: each offer's q is
// that of the most specific range matching it (type/subtype, type/*,
// */*); q 0 refuses it; the highest q wins, ties in offer order. No
// Accept header accepts anything: the first offer.
size_t PickOffer(const std::string& accept) {
  if (Trim(accept).empty()) return 0;
  struct Range {
    std::string type, subtype;
    double q = 1;
  };
  std::vector<Range> ranges;
  std::stringstream in(accept);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::stringstream parts(item);
    std::string media;
    std::getline(parts, media, ';');
    media = Lower(Trim(media));
    const size_t slash = media.find('/');
    if (slash == std::string::npos) continue;
    Range r{media.substr(0, slash), media.substr(slash + 1), 1};
    std::string param;
    while (std::getline(parts, param, ';')) {
      param = Trim(param);
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') &&
          param[1] == '=') {
        char* end = nullptr;
        r.q = std::strtod(param.c_str() + 2, &end);
        if (*end != '\0' || r.q < 0 || r.q > 1) r.q = 0;
      }
    }
    ranges.push_back(r);
  }
  size_t best = std::size(kOffers);
  double best_q = 0;
  for (size_t i = 0; i < std::size(kOffers); ++i) {
    const std::string offer = kOffers[i].type;
    const std::string type = offer.substr(0, offer.find('/')),
                      subtype = offer.substr(offer.find('/') + 1);
    int specificity = -1;
    double q = 0;
    for (const Range& r : ranges) {
      int s = -1;
      if (r.type == type && r.subtype == subtype)
        s = 2;
      else if (r.type == type && r.subtype == "*")
        s = 1;
      else if (r.type == "*" && r.subtype == "*")
        s = 0;
      if (s > specificity) {
        specificity = s;
        q = r.q;
      }
    }
    if (specificity >= 0 && q > best_q) {
      best = i;
      best_q = q;
    }
  }
  return best == std::size(kOffers) ? 0 : best;
}

std::string Body(size_t offer, const std::string& reason) {
  switch (offer) {
    case 1:
      return "<HTML>\n<HEAD><TITLE>Healthcheck Status</TITLE></HEAD>\n"
             "<BODY>\n\n<H2>Result of 1 checks:</H2>\n"
             "<TABLE bgcolor=\"#ffffff\" border=\"1\">\n<TBODY>\n<TR>\n\n"
             "<TH>\nReason\n</TH>\n</TR>\n<TR>\n\n    <TD>" +
             reason +
             "</TD>\n\n</TR>\n</TBODY>\n</TABLE>\n<HR></HR>\n\n</BODY>\n"
             "</HTML>";
    case 2:
      return "{\n    \"detailed\": false,\n    \"reasons\": [\n        \"" +
             reason + "\"\n    ]\n}";
    default:
      return reason;
  }
}

HandlerResult Answer(const ApiRequest& req, const std::string& disable_path) {
  struct stat st;
  const bool disabled =
      !disable_path.empty() && ::stat(disable_path.c_str(), &st) == 0;
  const std::string reason = disabled ? "DISABLED BY FILE" : "OK";
  if (req.method == "HEAD") {
    if (!disabled) return ApiResponse::Empty(204);
    return ApiResponse::Text(503, "", kOffers[0].content_type);
  }
  const size_t offer = PickOffer(req.Header("accept"));
  return ApiResponse::Text(disabled ? 503 : 200, Body(offer, reason),
                           kOffers[offer].content_type);
}

}  // namespace

void AddHealthcheckRoutes(Router& r, std::string disable_by_file_path) {
  for (const char* method : {"GET", "HEAD"})
    r.Add(method, "/healthcheck",
          [disable_by_file_path](ApiRequest& req) -> HandlerResult {
            return Answer(req, disable_by_file_path);
          });
}

}  // namespace strata::api
