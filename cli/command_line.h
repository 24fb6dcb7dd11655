// The `strata` CLI's command line: global options (--os-*, -f, -c,
// --timeout), a command of one or two words ("snapshot create"), its
// options (--name N, --wait) and positional arguments, in any order after
// the command words, as openstackclient takes them.
//
// Thread-safety: plain values and functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "util/status.h"

namespace strata::cli {

// An option a command (or the CLI itself) takes.
struct OptionSpec {
  std::string name;        // "name" for --name
  std::string value_name;  // "" : a flag with no value
  std::string help;
  bool repeatable = false;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> options;  // name → values
  std::vector<std::string> positionals;
  bool Has(const std::string& name) const { return options.count(name) > 0; }
  // The last value of `name`, or `fallback`.
  std::string Get(const std::string& name,
                  const std::string& fallback = "") const;
  std::vector<std::string> All(const std::string& name) const;
};

// Parses `args` against `specs` ("--name=v", "--name v", "-f json" when
// "f" is a spec, "--" ends options). InvalidArgument for an unknown option
// or a missing value.
[[nodiscard]] Result<ParsedArgs> ParseArgs(
    const std::vector<std::string>& args, const std::vector<OptionSpec>& specs);

}  // namespace strata::cli
