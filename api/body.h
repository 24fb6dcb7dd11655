// Validation of JSON request bodies: each helper returns the value or an
// InvalidArgument (400) whose message names the offending field.
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "db/records.h"
#include "util/status.h"

namespace strata::api {

// body[key] as an object ("Missing required element 'snapshot' in request
// body." otherwise).
Result<const nlohmann::json*> RequireObject(const nlohmann::json& body,
                                            const std::string& key);
// obj[key] as a string of at most max_len characters; nullopt when absent
// or null.
Result<std::optional<std::string>> OptString(const nlohmann::json& obj,
                                             const std::string& key,
                                             size_t max_len = 255);
Result<std::string> RequireString(const nlohmann::json& obj,
                                  const std::string& key, size_t max_len = 255);
// obj[key] as a list of ids (each a non-empty string of at most 255
// characters); empty when absent.
Result<std::vector<std::string>> OptIdList(const nlohmann::json& obj,
                                           const std::string& key);
// obj[key] as a boolean; accepts true/false and "true"/"false" strings.
Result<bool> OptBool(const nlohmann::json& obj, const std::string& key,
                     bool fallback);
// A query value as a boolean, as Cinder's strutils.bool_from_string(strict)
// reads one: 1/t/true/on/y/yes or 0/f/false/off/n/no, any case; else 400
// naming `key`.
Result<bool> ParseBoolWord(const std::string& key, const std::string& value);
// obj[key] as metadata: an object of string → string (keys 1–255 chars,
// values ≤ 255 chars).
Result<db::Metadata> OptMetadata(const nlohmann::json& obj,
                                 const std::string& key);

}  // namespace strata::api
