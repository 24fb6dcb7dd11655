// stderr logging. See log.h.
#include "util/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "util/time_util.h"

namespace strata {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{false};
thread_local std::string t_request_id;

const std::string& Hostname() {
  static const std::string name = [] {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    return std::string(buf);
  }();
  return name;
}
std::mutex g_mu;  // guards stderr so lines do not interleave
const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

void SetLogFormat(LogFormat format) { g_json = format == LogFormat::kJson; }

const std::string& CurrentRequestId() { return t_request_id; }

ScopedLogContext::ScopedLogContext(std::string request_id)
    : previous_(std::exchange(t_request_id, std::move(request_id))) {}

ScopedLogContext::~ScopedLogContext() { t_request_id = std::move(previous_); }

void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_level.load()) return;
  const int64_t now = NowMicros();
  std::string ts = FormatIsoMicros(now);
  std::string line;
  if (g_json.load()) {
    // oslo.log's JSONFormatter's names for the same fields.
    nlohmann::json j = {{"asctime", ts},
                        {"created", now / 1e6},
                        {"levelname", LevelName(level)},
                        {"name", "stratad"},
                        {"hostname", Hostname()},
                        {"process", static_cast<int>(getpid())},
                        {"message", std::string(message)},
                        {"context", nlohmann::json::object()}};
    if (!t_request_id.empty()) j["context"]["request_id"] = t_request_id;
    // Invalid UTF-8 in a message (a path) is replaced, not thrown on.
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = ts + " " + LevelName(level) + " stratad: " + std::string(message);
    // The request's id, unless the message starts with it (the access line).
    if (!t_request_id.empty() && message.rfind(t_request_id, 0) != 0)
      line += " [" + t_request_id + "]";
  }
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace strata
