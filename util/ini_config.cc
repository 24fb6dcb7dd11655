// oslo.config-style ini parsing. See ini_config.h.
#include "util/ini_config.h"

#include <sstream>

#include "util/fs.h"

namespace strata {
namespace {
std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}
}  // namespace

Result<IniConfig> IniConfig::ParseFile(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text.ok())
    return Status::InvalidArgument("cannot read config file " + path + ": " +
                                   text.status().message());
  return Parse(*text, path);
}

Result<IniConfig> IniConfig::Parse(const std::string& text,
                                   const std::string& origin) {
  IniConfig cfg;
  std::istringstream in(text);
  std::string line, section = "DEFAULT";
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t[0] == '[') {
      if (t.back() != ']' || t.size() < 3)
        return Status::InvalidArgument(origin + ":" + std::to_string(lineno) +
                                       ": malformed section header");
      section = Trim(t.substr(1, t.size() - 2));
      cfg.sections_[section];
      continue;
    }
    size_t eq = t.find('=');
    if (eq == std::string::npos || Trim(t.substr(0, eq)).empty())
      return Status::InvalidArgument(origin + ":" + std::to_string(lineno) +
                                     ": expected 'key = value'");
    cfg.sections_[section][Trim(t.substr(0, eq))] = Trim(t.substr(eq + 1));
  }
  return cfg;
}

std::optional<std::string> IniConfig::Get(const std::string& section,
                                          const std::string& key) const {
  auto s = sections_.find(section);
  if (s == sections_.end()) return std::nullopt;
  auto k = s->second.find(key);
  if (k == s->second.end()) return std::nullopt;
  return k->second;
}

std::string IniConfig::GetOr(const std::string& section, const std::string& key,
                             const std::string& fallback) const {
  auto v = Get(section, key);
  return v ? *v : fallback;
}

void IniConfig::Set(const std::string& section, const std::string& key,
                    const std::string& value) {
  sections_[section][key] = value;
}

}  // namespace strata
