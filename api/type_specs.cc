// Shared request parsing of volume types and group types. See type_specs.h.
#include "api/type_specs.h"

#include <cctype>

namespace strata::api {

Status OnlyKeys(const nlohmann::json& obj, const std::set<std::string>& keys,
                const std::string& field) {
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (!keys.count(it.key()))
      return Status::InvalidArgument("Invalid input for field/attribute " +
                                     field +
                                     ". Additional properties are not allowed "
                                     "('" +
                                     it.key() + "' was unexpected)");
  return Status::OK();
}

Result<db::Metadata> ParseSpecs(const nlohmann::json& v,
                                const std::regex& key_pattern,
                                const std::string& field) {
  if (!v.is_object())
    return Status::InvalidArgument(
        "Invalid input for field/attribute " + field +
        ". Value: " + v.dump().substr(0, 100) + ". It is not an object.");
  db::Metadata out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!std::regex_match(it.key(), key_pattern))
      return Status::InvalidArgument("Invalid input for field/attribute " +
                                     field + ": bad key '" +
                                     it.key().substr(0, 255) + "'.");
    if (!it.value().is_string() || it.value().get<std::string>().size() > 255)
      return Status::InvalidArgument(
          "Invalid input for field/attribute " + field + ": the value of '" +
          it.key() + "' must be a string of at most 255 characters.");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

const std::regex& TypeSpecKey() {
  static const std::regex r("[a-zA-Z0-9\\-_:. /]{1,255}");
  return r;
}

const std::regex& SpecKey() {
  static const std::regex r("[a-zA-Z0-9\\-_:.]{1,255}");
  return r;
}

bool Blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

Result<std::optional<bool>> ParseIsPublicFilter(const std::string& value) {
  std::string v = value;
  for (auto& c : v) c = static_cast<char>(std::tolower(c));
  if (v == "none") return std::optional<bool>();
  if (v == "true" || v == "1" || v == "yes" || v == "on" || v == "t")
    return std::optional<bool>(true);
  if (v == "false" || v == "0" || v == "no" || v == "off" || v == "f")
    return std::optional<bool>(false);
  return Status::InvalidArgument("Invalid is_public filter [" + value + "]");
}

}  // namespace strata::api
