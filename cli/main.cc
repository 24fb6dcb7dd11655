// `strata`: the command-line client of Strata's REST API (issue 20, item 2).
//   strata [GLOBAL OPTIONS] RESOURCE ACTION [ARGS] [OPTIONS]
// Authenticates as openstackclient does (--os-* options, OS_* variables, a
// clouds.yaml entry), prints -f table|json|value, and exits with the codes
// of cli/commands.h. `strata help` lists the commands, `strata help
// RESOURCE ACTION` (or --help after one) explains one, `strata completion
// bash` prints a bash completion script. docs/cli.md has examples.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "cli/cloud_config.h"
#include "cli/commands.h"

extern char** environ;

namespace strata::cli {
namespace {

const std::vector<OptionSpec> kGlobal = {
    {"os-cloud", "NAME", "the clouds.yaml entry (OS_CLOUD)"},
    {"os-auth-url", "URL", "Keystone v3 (OS_AUTH_URL)"},
    {"os-username", "NAME", "(OS_USERNAME)"},
    {"os-password", "PASSWORD", "(OS_PASSWORD)"},
    {"os-project-name", "NAME", "(OS_PROJECT_NAME)"},
    {"os-user-domain-name", "NAME", "(OS_USER_DOMAIN_NAME, default Default)"},
    {"os-project-domain-name", "NAME",
     "(OS_PROJECT_DOMAIN_NAME, default Default)"},
    {"os-region-name", "REGION", "the catalog's region (OS_REGION_NAME)"},
    {"os-interface", "IFACE",
     "public, internal or admin endpoint (OS_INTERFACE, default public)"},
    {"os-endpoint", "URL",
     "Strata's volume API root, e.g. http://HOST:8786/v3, instead of the "
     "catalog's volumev3 (OS_ENDPOINT, STRATA_URL)"},
    {"os-token", "TOKEN",
     "a token to use as it is (OS_TOKEN; stratad's noauth takes "
     "PROJECT:USER)"},
    {"format", "FORMAT", "table (default), json or value"},
    {"f", "FORMAT", "the same as --format"},
    {"column", "COLUMN", "show only this column (repeatable)", true},
    {"c", "COLUMN", "the same as --column", true},
    {"timeout", "SECONDS", "how long --wait waits (default 3600)"},
    {"no-progress", "", "no progress bar, even on a terminal"},
    {"help", "", "help (after a command: that command's)"},
    {"h", "", "the same as --help"},
    {"version", "", "the version"},
};

bool TakesValue(const std::string& arg) {
  std::string name = arg.substr(arg.rfind('-', 1) == 1 ? 2 : 1);
  if (name.find('=') != std::string::npos) return false;
  for (const auto& s : kGlobal)
    if (s.name == name) return !s.value_name.empty();
  return false;
}

const Command* Find(const std::string& resource, const std::string& action) {
  for (const auto& c : Commands())
    if (c.name == resource + " " + action) return &c;
  return nullptr;
}

void PrintOptions(const std::vector<OptionSpec>& specs, std::ostream& out) {
  for (const auto& s : specs) {
    std::string left = (s.name.size() == 1 ? "  -" : "  --") + s.name;
    if (!s.value_name.empty()) left += " " + s.value_name;
    out << left << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ')
        << s.help << (s.repeatable ? " (repeatable)" : "") << "\n";
  }
}

void Usage(std::ostream& out) {
  out << "usage: strata [GLOBAL OPTIONS] RESOURCE ACTION [ARGS] [OPTIONS]\n\n"
         "Strata's snapshots, reverts, backup policies and tasks, over its "
         "REST API.\n\nCommands:\n";
  for (const auto& c : Commands()) {
    std::string left = "  " + c.name + (c.args.empty() ? "" : " " + c.args);
    out << left << std::string(left.size() < 34 ? 34 - left.size() : 1, ' ')
        << c.help << "\n";
  }
  out << "\nGlobal options:\n";
  PrintOptions(kGlobal, out);
  out << "\nExit codes: 0 done; 1 the API refused the request or the work "
         "failed;\n2 a bad command line; 3 authentication or permission "
         "refused; 4 Strata or\nKeystone did not answer (or answered 5xx); 5 "
         "--wait timed out.\n"
         "`strata help RESOURCE ACTION` explains a command; `strata "
         "completion bash`\nprints a completion script (source it).\n";
}

void CommandHelp(const Command& c, std::ostream& out) {
  out << "usage: strata " << c.name << (c.args.empty() ? "" : " " + c.args)
      << " [OPTIONS]\n\n"
      << c.help << "\n";
  if (!c.options.empty()) {
    out << "\nOptions:\n";
    PrintOptions(c.options, out);
  }
  out << "\nGlobal options (--os-*, -f, -c, --timeout): strata help.\n";
}

void Completion(std::ostream& out) {
  std::map<std::string, std::set<std::string>> actions;
  std::map<std::string, std::string> options;  // "res act" → "--a --b"
  for (const auto& c : Commands()) {
    const auto sp = c.name.find(' ');
    actions[c.name.substr(0, sp)].insert(c.name.substr(sp + 1));
    std::string o;
    for (const auto& s : c.options) o += " --" + s.name;
    options[c.name] = o;
  }
  std::string globals;
  for (const auto& s : kGlobal)
    globals += (s.name.size() == 1 ? " -" : " --") + s.name;
  out << "# bash completion for strata: source <(strata completion bash)\n"
         "_strata() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} words=() w\n"
         "  for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n"
         "    [[ $w == -* ]] || words+=(\"$w\")\n"
         "  done\n"
         "  case ${#words[@]} in\n"
         "    0) COMPREPLY=($(compgen -W \"";
  for (const auto& [r, a] : actions) out << r << " ";
  out << "help completion\" -- \"$cur\")) ;;\n"
         "    1) case ${words[0]} in\n";
  for (const auto& [r, acts] : actions) {
    out << "         " << r << ") COMPREPLY=($(compgen -W \"";
    for (const auto& a : acts) out << a << " ";
    out << "\" -- \"$cur\")) ;;\n";
  }
  out << "       esac ;;\n"
         "    *) case \"${words[0]} ${words[1]}\" in\n";
  for (const auto& [name, o] : options)
    out << "         \"" << name << "\") COMPREPLY=($(compgen -W \"" << o
        << globals << "\" -- \"$cur\")) ;;\n";
  out << "       esac ;;\n"
         "  esac\n"
         "}\n"
         "complete -F _strata strata\n";
}

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Global options first, then RESOURCE ACTION, then the rest (where global
  // options may come too: `strata snapshot list -f json`).
  size_t i = 0;
  std::vector<std::string> leading;
  while (i < args.size() && args[i].size() > 1 && args[i][0] == '-') {
    leading.push_back(args[i]);
    if (TakesValue(args[i]) && i + 1 < args.size())
      leading.push_back(args[++i]);
    ++i;
  }
  auto globals = ParseArgs(leading, kGlobal);
  if (!globals.ok()) {
    std::cerr << "strata: " << globals.status().message() << "\n";
    return kExitUsage;
  }
  if (globals->Has("version")) {
    std::cout << "strata 0.20\n";
    return kExitOk;
  }
  std::vector<std::string> words(args.begin() + static_cast<long>(i),
                                 args.end());
  if (words.empty() || words[0] == "help" || globals->Has("help") ||
      globals->Has("h")) {
    if (words.size() >= 3 && words[0] == "help")
      if (const Command* c = Find(words[1], words[2])) {
        CommandHelp(*c, std::cout);
        return kExitOk;
      }
    Usage(words.empty() && !globals->Has("help") && !globals->Has("h")
              ? std::cerr
              : std::cout);
    return words.empty() && !globals->Has("help") && !globals->Has("h")
               ? kExitUsage
               : kExitOk;
  }
  if (words[0] == "completion") {
    if (words.size() != 2 || words[1] != "bash") {
      std::cerr << "strata: usage: strata completion bash\n";
      return kExitUsage;
    }
    Completion(std::cout);
    return kExitOk;
  }
  const Command* cmd = words.size() >= 2 ? Find(words[0], words[1]) : nullptr;
  if (!cmd) {
    std::cerr << "strata: unknown command '"
              << (words.size() >= 2 ? words[0] + " " + words[1] : words[0])
              << "' (strata help lists them)\n";
    return kExitUsage;
  }
  std::vector<OptionSpec> specs = kGlobal;
  specs.insert(specs.end(), cmd->options.begin(), cmd->options.end());
  std::vector<std::string> rest = leading;
  rest.insert(rest.end(), words.begin() + 2, words.end());
  auto parsed = ParseArgs(rest, specs);
  if (!parsed.ok()) {
    std::cerr << "strata " << cmd->name << ": " << parsed.status().message()
              << "\n";
    return kExitUsage;
  }
  if (parsed->Has("help") || parsed->Has("h")) {
    CommandHelp(*cmd, std::cout);
    return kExitOk;
  }
  const size_t want = cmd->args.empty()
                          ? 0
                          : 1 + static_cast<size_t>(std::count(
                                    cmd->args.begin(), cmd->args.end(), ' '));
  if (parsed->positionals.size() != want) {
    std::cerr << "strata " << cmd->name << ": takes "
              << (want ? cmd->args : "no arguments") << "\n";
    return kExitUsage;
  }
  if (cmd->name == "policy create" && !parsed->Has("schedule")) {
    std::cerr << "strata policy create: --schedule is required\n";
    return kExitUsage;
  }
  CommandContext ctx;
  const std::string format = parsed->Get("format", parsed->Get("f", "table"));
  auto f = ParseFormat(format);
  if (!f.ok()) {
    std::cerr << "strata: " << f.status().message() << "\n";
    return kExitUsage;
  }
  ctx.output.format = *f;
  ctx.output.columns = parsed->All("column");
  for (const auto& c : parsed->All("c")) ctx.output.columns.push_back(c);
  if (parsed->Has("timeout")) {
    ctx.timeout_seconds = std::atoi(parsed->Get("timeout").c_str());
    if (ctx.timeout_seconds <= 0) {
      std::cerr << "strata: --timeout takes a number of seconds\n";
      return kExitUsage;
    }
  }
  ctx.progress = isatty(STDERR_FILENO) && !parsed->Has("no-progress");
  std::map<std::string, std::string> os;
  for (const auto& s : kGlobal)
    if (s.name.rfind("os-", 0) == 0 && parsed->Has(s.name))
      os[s.name.substr(3)] = parsed->Get(s.name);
  std::optional<ApiClient> client;
  ctx.client = [&]() -> Result<ApiClient*> {
    if (!client) {
      STRATA_ASSIGN_OR_RETURN(CloudConfig config,
                              LoadCloudConfig(os, Environment()));
      STRATA_ASSIGN_OR_RETURN(ApiClient c, ApiClient::Connect(config));
      client = std::move(c);
    }
    return &*client;
  };
  return cmd->run(*parsed, ctx);
}

}  // namespace
}  // namespace strata::cli

int main(int argc, char** argv) {
  try {
    return strata::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "strata: " << e.what() << "\n";
    return strata::cli::kExitFailed;
  }
}
