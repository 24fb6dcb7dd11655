// An ini file reader in the style of oslo.config: [sections] of
// `key = value` lines, '#' or ';' comments, [DEFAULT] for keys before any
// section. Later assignments of a key win.
// Thread-safety: immutable after Parse; safe to read from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "util/status.h"

namespace strata {

class IniConfig {
 public:
  // Reads and parses `path`. An unreadable file or a malformed line (with its
  // line number) is an InvalidArgument.
  static Result<IniConfig> ParseFile(const std::string& path);
  static Result<IniConfig> Parse(const std::string& text,
                                 const std::string& origin = "<config>");

  std::optional<std::string> Get(const std::string& section,
                                 const std::string& key) const;
  std::string GetOr(const std::string& section, const std::string& key,
                    const std::string& fallback) const;
  void Set(const std::string& section, const std::string& key,
           const std::string& value);
  const std::map<std::string, std::map<std::string, std::string>>& sections()
      const {
    return sections_;
  }

 private:
  std::map<std::string, std::map<std::string, std::string>> sections_;
};

}  // namespace strata
