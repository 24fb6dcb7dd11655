// List parameters. See list_params.h.
#include "api/list_params.h"

#include <cpprest/uri.h>

#include <sstream>

namespace strata::api {
namespace {

const std::set<std::string> kPagingParams = {
    "limit",    "marker",     "offset",      "sort",     "sort_key",
    "sort_dir", "with_count", "all_tenants", "metadata", "project_id"};

Result<int64_t> ParseNonNegative(const std::string& name,
                                 const std::string& v) {
  if (v.empty() || v.size() > 12 ||
      v.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument(name + " param must be an integer >= 0");
  return std::stoll(v);
}

bool Truthy(const std::string& v) {
  return v == "1" || v == "true" || v == "True" || v == "yes";
}

Result<bool> ParseDir(const std::string& d) {
  if (d == "asc") return true;
  if (d == "desc") return false;
  return Status::InvalidArgument("Invalid sort direction " + d +
                                 ": must be asc or desc");
}

// metadata={"k": "v"} (JSON) or Python-dict style {'k': 'v'}.
Result<db::Metadata> ParseMetadataFilter(std::string v) {
  for (auto& c : v)
    if (c == '\'') c = '"';
  auto j = nlohmann::json::parse(v, nullptr, false);
  if (!j.is_object())
    return Status::InvalidArgument("metadata filter must be a JSON object");
  db::Metadata m;
  for (auto it = j.begin(); it != j.end(); ++it)
    m[it.key()] = it.value().is_string() ? it.value().get<std::string>()
                                         : it.value().dump();
  return m;
}

}  // namespace

Result<db::ListQuery> ParseListQuery(const ApiRequest& req,
                                     const std::set<std::string>& filters) {
  db::ListQuery q;
  q.project_id = req.ctx.project_id;
  // all_tenants (and project_id with it) is an admin's option; from
  // anyone else Cinder drops it silently, and so does Strata: the caller
  // sees its own project, as without it (cinderclient's name lookups send
  // it whoever calls).
  if (auto at = req.Query("all_tenants");
      at && Truthy(*at) && req.ctx.is_admin) {
    q.project_id.clear();
    if (auto p = req.Query("project_id")) q.filters["project_id"] = *p;
  }
  q.limit = 1000;
  if (auto l = req.Query("limit")) {
    STRATA_ASSIGN_OR_RETURN(q.limit, ParseNonNegative("limit", *l));
    if (q.limit > 1000) q.limit = 1000;
  }
  if (auto o = req.Query("offset")) {
    STRATA_ASSIGN_OR_RETURN(q.offset, ParseNonNegative("offset", *o));
  }
  if (auto m = req.Query("marker")) q.marker = *m;
  if (auto s = req.Query("sort")) {
    if (req.Query("sort_key") || req.Query("sort_dir"))
      return Status::InvalidArgument(
          "The 'sort_key' and 'sort_dir' parameters are deprecated and "
          "cannot be used with the 'sort' parameter.");
    std::stringstream ss(*s);
    std::string item;
    while (std::getline(ss, item, ',')) {
      size_t colon = item.find(':');
      std::string key = item.substr(0, colon);
      bool asc = false;
      if (colon != std::string::npos) {
        STRATA_ASSIGN_OR_RETURN(asc, ParseDir(item.substr(colon + 1)));
      }
      if (key.empty()) return Status::InvalidArgument("Empty sort key");
      if (key == "display_name") key = "name";  // Cinder's older name
      q.sort.push_back({key, asc});
    }
  } else if (auto k = req.Query("sort_key")) {
    bool asc = false;
    if (auto d = req.Query("sort_dir")) {
      STRATA_ASSIGN_OR_RETURN(asc, ParseDir(*d));
    }
    q.sort.push_back({*k == "display_name" ? "name" : *k, asc});
  }
  if (auto m = req.Query("metadata")) {
    STRATA_ASSIGN_OR_RETURN(q.metadata, ParseMetadataFilter(*m));
  }
  for (const auto& [k, v] : req.query) {
    if (kPagingParams.count(k)) continue;
    std::string key = k == "display_name" ? "name" : k;
    if (!filters.count(key))
      return Status::InvalidArgument("Invalid filter keys: " + k);
    q.filters[key] = v;
  }
  return q;
}

bool WantsCount(const ApiRequest& req) {
  auto v = req.Query("with_count");
  return req.version.AtLeast(3, 45) && v && (*v == "true" || *v == "1");
}

nlohmann::json NextLink(const ApiRequest& req, const std::string& collection,
                        const std::string& last_id) {
  std::string href =
      req.base_url + "/v3/" + req.ctx.project_id + "/" + collection + "?";
  for (const auto& [k, v] : req.query)
    if (k != "marker")
      href += web::uri::encode_data_string(k) + "=" +
              web::uri::encode_data_string(v) + "&";
  href += "marker=" + last_id;
  return nlohmann::json::array({{{"href", href}, {"rel", "next"}}});
}

}  // namespace strata::api
