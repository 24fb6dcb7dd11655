// Cinder's CapabilitiesFilter and extra_specs_ops. See extra_specs_match.h.
#include "api/extra_specs_match.h"

#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <vector>

namespace strata::api {
namespace {

std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The capability as the text Cinder's operators compare.
std::string Text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  return v.dump();
}

bool Number(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end && *end == '\0';
}

// oslo's bool_from_string (not strict): its true words, else false.
bool TrueWord(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(c));
  return s == "1" || s == "t" || s == "true" || s == "on" || s == "y" ||
         s == "yes";
}

bool Match(const nlohmann::json& value, const std::string& req) {
  using Cmp = std::function<bool(double, double)>;
  static const std::map<std::string, Cmp> kNumeric = {
      {"=", [](double a, double b) { return a >= b; }},
      {"==", [](double a, double b) { return a == b; }},
      {"!=", [](double a, double b) { return a != b; }},
      {">=", [](double a, double b) { return a >= b; }},
      {"<=", [](double a, double b) { return a <= b; }}};
  static const std::map<std::string, std::function<bool(int)>> kText = {
      {"s==", [](int c) { return c == 0; }},
      {"s!=", [](int c) { return c != 0; }},
      {"s<", [](int c) { return c < 0; }},
      {"s<=", [](int c) { return c <= 0; }},
      {"s>", [](int c) { return c > 0; }},
      {"s>=", [](int c) { return c >= 0; }}};
  std::vector<std::string> w = Words(req);
  const std::string op = w.empty() ? "" : w.front();
  const bool known = op == "<or>" || op == "<in>" || op == "<is>" ||
                     kNumeric.count(op) || kText.count(op);
  if (!known) {
    if (value.is_boolean()) return value.get<bool>() == TrueWord(req);
    return value.is_string() && value.get<std::string>() == req;
  }
  if (value.is_null()) return false;
  const std::string text = Text(value);
  if (op == "<or>") {
    for (size_t i = 1; i < w.size(); i += 2)
      if (w[i] == text) return true;
    return false;
  }
  if (w.size() < 2) return false;
  const std::string& arg = w[1];
  if (op == "<in>") return text.find(arg) != std::string::npos;
  if (op == "<is>")
    return value.is_boolean() && value.get<bool>() == TrueWord(arg);
  if (auto t = kText.find(op); t != kText.end())
    return t->second(text.compare(arg));
  double a = 0, b = 0;
  if (!Number(text, &a) || !Number(arg, &b)) return false;
  return kNumeric.at(op)(a, b);
}

}  // namespace

bool SatisfiesExtraSpecs(const nlohmann::json& caps, const db::Metadata& specs,
                         std::string* why) {
  for (const auto& [key, req] : specs) {
    std::vector<std::string> scope;
    for (size_t start = 0;;) {
      size_t colon = key.find(':', start);
      scope.push_back(key.substr(start, colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (scope.size() > 1 && scope[0] != "capabilities") continue;
    if (scope[0] == "capabilities") scope.erase(scope.begin());
    const nlohmann::json* cap = &caps;
    for (const auto& part : scope) {
      if (!cap->is_object() || !cap->contains(part)) {
        *why = "the backend has no capability " + key;
        return false;
      }
      cap = &(*cap)[part];
    }
    bool any = false;
    if (cap->is_array()) {
      for (const auto& v : *cap) any = any || Match(v, req);
    } else {
      any = Match(*cap, req);
    }
    if (!any) {
      *why = "the backend's " + key + " does not match '" + req + "'";
      return false;
    }
  }
  return true;
}

}  // namespace strata::api
