// What Cinder's volume types and group types share in their request
// bodies (api/volume_types.cc, api/group_types.cc): the closed property
// sets of its request schemas, a specs object, a name that must not be
// blank, and the is_public list filter.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>

#include "db/records.h"
#include "util/status.h"

namespace strata::api {

// InvalidArgument for a property of `obj` not in `keys`, in Cinder's
// words for `field` ("volume_type", "group_type").
[[nodiscard]] Status OnlyKeys(const nlohmann::json& obj,
                              const std::set<std::string>& keys,
                              const std::string& field);
// A specs object named `field` ("extra_specs", "group_specs"): keys
// matching `key_pattern`, string values of at most 255 characters.
[[nodiscard]] Result<db::Metadata> ParseSpecs(const nlohmann::json& v,
                                              const std::regex& key_pattern,
                                              const std::string& field);
// Keys allowed in a type's create body, and on the specs resource.
const std::regex& TypeSpecKey();
const std::regex& SpecKey();
bool Blank(const std::string& s);
// An admin's is_public list filter: true, false, or nullopt for "none"
// (both); InvalidArgument for anything else.
[[nodiscard]] Result<std::optional<bool>> ParseIsPublicFilter(
    const std::string& value);

}  // namespace strata::api
