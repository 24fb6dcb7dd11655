// Request body validation. See body.h.
#include "api/body.h"

namespace strata::api {

Result<const nlohmann::json*> RequireObject(const nlohmann::json& body,
                                            const std::string& key) {
  if (!body.is_object() || !body.contains(key))
    return Status::InvalidArgument("Missing required element '" + key +
                                   "' in request body.");
  const auto& v = body[key];
  if (!v.is_object())
    return Status::InvalidArgument("Invalid input for field/attribute " + key +
                                   ". Value: " + v.dump().substr(0, 100) +
                                   ". It is not an object.");
  return &v;
}

Result<std::optional<std::string>> OptString(const nlohmann::json& obj,
                                             const std::string& key,
                                             size_t max_len) {
  if (!obj.contains(key) || obj[key].is_null())
    return std::optional<std::string>();
  if (!obj[key].is_string())
    return Status::InvalidArgument("Invalid input for field/attribute " + key +
                                   ": it must be a string.");
  std::string v = obj[key].get<std::string>();
  if (v.size() > max_len)
    return Status::InvalidArgument("Invalid input for field/attribute " + key +
                                   ": longer than " + std::to_string(max_len) +
                                   " characters.");
  return std::optional<std::string>(v);
}

Result<std::string> RequireString(const nlohmann::json& obj,
                                  const std::string& key, size_t max_len) {
  STRATA_ASSIGN_OR_RETURN(auto v, OptString(obj, key, max_len));
  if (!v || v->empty())
    return Status::InvalidArgument("Missing required element '" + key +
                                   "' in request body.");
  return *v;
}

Result<std::vector<std::string>> OptIdList(const nlohmann::json& obj,
                                           const std::string& key) {
  std::vector<std::string> out;
  if (!obj.contains(key)) return out;
  const auto bad = [&] {
    return Status::InvalidArgument("Invalid input for field/attribute " + key +
                                   ": a list of ids.");
  };
  if (!obj[key].is_array()) return bad();
  for (const auto& v : obj[key]) {
    if (!v.is_string() || v.get<std::string>().empty() ||
        v.get<std::string>().size() > 255)
      return bad();
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<bool> OptBool(const nlohmann::json& obj, const std::string& key,
                     bool fallback) {
  if (!obj.contains(key) || obj[key].is_null()) return fallback;
  const auto& v = obj[key];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    for (auto& c : s) c = static_cast<char>(std::tolower(c));
    if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  }
  return Status::InvalidArgument("Invalid input for field/attribute " + key +
                                 ": " + v.dump().substr(0, 50) +
                                 " is not a boolean.");
}

Result<bool> ParseBoolWord(const std::string& key, const std::string& value) {
  std::string v = value;
  for (auto& c : v) c = static_cast<char>(std::tolower(c));
  for (const char* t : {"1", "t", "true", "on", "y", "yes"})
    if (v == t) return true;
  for (const char* f : {"0", "f", "false", "off", "n", "no"})
    if (v == f) return false;
  return Status::InvalidArgument("Invalid input received: '" + key +
                                 "' must be a boolean, not '" + value + "'.");
}

Result<db::Metadata> OptMetadata(const nlohmann::json& obj,
                                 const std::string& key) {
  db::Metadata m;
  if (!obj.contains(key) || obj[key].is_null()) return m;
  const auto& v = obj[key];
  if (!v.is_object())
    return Status::InvalidArgument("Invalid input for field/attribute " + key +
                                   ": it must be an object.");
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it.key().empty() || it.key().size() > 255)
      return Status::InvalidArgument(
          "Invalid metadata: keys must be 1 to 255 characters long.");
    if (!it.value().is_string())
      return Status::InvalidArgument("Invalid metadata: value of '" + it.key() +
                                     "' must be a string.");
    if (it.value().get<std::string>().size() > 255)
      return Status::InvalidArgument("Invalid metadata: value of '" + it.key() +
                                     "' is longer than 255 characters.");
    m[it.key()] = it.value().get<std::string>();
  }
  return m;
}

}  // namespace strata::api
