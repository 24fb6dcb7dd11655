// The `strata` CLI's commands: volumes, snapshots, revert, backup
// policies and tasks over Strata's REST API (docs/cli.md). Each command
// parses its own options, calls the API, optionally waits for the work it
// started (--wait, with a progress bar on a terminal), prints the result
// (cli/output.h) and returns the process's exit code (kExit*).
//
// Thread-safety: single-threaded, as the CLI is.
#pragma once

#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/command_line.h"
#include "cli/output.h"

namespace strata::cli {

// Exit codes scripts may rely on.
inline constexpr int kExitOk = 0;
// The API refused the request (a 4xx fault other than 401/403), or the
// work it started ended in error.
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;        // a bad command line
inline constexpr int kExitAuth = 3;         // 401 or 403
inline constexpr int kExitUnavailable = 4;  // no answer, 5xx
inline constexpr int kExitTimeout = 5;      // --wait gave up

// What every command gets.
struct CommandContext {
  std::function<Result<ApiClient*>()> client;  // connects on first use
  OutputOptions output;
  int timeout_seconds = 3600;  // of --wait
  bool progress = false;       // draw a progress bar on `err`
  std::ostream& out = std::cout;
  std::ostream& err = std::cerr;
};

struct Command {
  std::string name;  // "snapshot create"
  std::string args;  // "VOLUME"
  std::string help;
  std::vector<OptionSpec> options;
  std::function<int(const ParsedArgs&, CommandContext&)> run;
};

const std::vector<Command>& Commands();

// The exit code for a failed call, after saying why on `err`.
int Fail(const Status& s, CommandContext& ctx);

}  // namespace strata::cli
