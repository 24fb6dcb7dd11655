// Reading OpenStack services' JSON answers (Glance, Keystone): a field
// that may be missing, null or of another type reads as "".
// Thread-safety: pure function.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace strata::http {

// j[name] when it is a string, else "".
inline std::string JsonString(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : "";
}

}  // namespace strata::http
