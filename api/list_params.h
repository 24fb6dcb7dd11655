// List parameters of Cinder collections: limit (≤ 1000), marker, offset,
// sort=key[:dir],… or sort_key/sort_dir, with_count (≥ 3.45), all_tenants
// (admins; ignored for anyone else, as Cinder does), and filters. Also the
// "next" link of a page.
// Thread-safety: pure functions.
#pragma once

#include <set>
#include <string>

#include "api/api_types.h"
#include "db/records.h"

namespace strata::api {

// Builds the catalog query for a list request. `filters` names the accepted
// filter parameters; "metadata" (a JSON object or Python-dict string) is
// always accepted. Bad values are InvalidArgument (400).
Result<db::ListQuery> ParseListQuery(const ApiRequest& req,
                                     const std::set<std::string>& filters);
// True when the list should carry "count" (with_count=true|1, ≥ 3.45).
bool WantsCount(const ApiRequest& req);
// {"href": "<base>/v3/<project>/<collection>?…&marker=<last>", "rel": "next"}
nlohmann::json NextLink(const ApiRequest& req, const std::string& collection,
                        const std::string& last_id);

}  // namespace strata::api
