// Command-line parsing. See command_line.h.
#include "cli/command_line.h"

#include <algorithm>

namespace strata::cli {

std::string ParsedArgs::Get(const std::string& name,
                            const std::string& fallback) const {
  auto it = options.find(name);
  return it == options.end() || it->second.empty() ? fallback
                                                   : it->second.back();
}

std::vector<std::string> ParsedArgs::All(const std::string& name) const {
  auto it = options.find(name);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                             const std::vector<OptionSpec>& specs) {
  ParsedArgs out;
  bool only_positionals = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positionals || a.size() < 2 || a[0] != '-') {
      out.positionals.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1), value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto spec =
        std::find_if(specs.begin(), specs.end(),
                     [&](const OptionSpec& s) { return s.name == name; });
    if (spec == specs.end())
      return Status::InvalidArgument("unknown option " + a);
    if (spec->value_name.empty()) {
      if (has_value)
        return Status::InvalidArgument("option --" + name + " takes no value");
      out.options[name].push_back("true");
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size())
        return Status::InvalidArgument("option " + a + " needs a value (" +
                                       spec->value_name + ")");
      value = args[++i];
    }
    auto& values = out.options[name];
    if (!spec->repeatable) values.clear();
    values.push_back(value);
  }
  return out;
}

}  // namespace strata::cli
