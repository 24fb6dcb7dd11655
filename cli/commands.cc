// The CLI's commands. See commands.h; docs/cli.md lists them.
#include "cli/commands.h"

#include <chrono>
#include <thread>

namespace strata::cli {
namespace {

const std::vector<Column> kVolumeColumns = {
    {"ID", "id"},
    {"Name", "name"},
    {"Status", "status"},
    {"Size", "size"},
    {"Chain", "os-strata:chain_length"},
    {"Head", "os-strata:head_snapshot_id"}};
const std::vector<Column> kSnapshotColumns = {
    {"ID", "id"},
    {"Name", "name"},
    {"Status", "status"},
    {"Volume ID", "volume_id"},
    {"Created At", "created_at"},
    {"Stored Bytes", "os-strata:stored_bytes"},
    {"Memory", "os-strata:memory.state"},
    {"Progress", "os-extended-snapshot-attributes:progress"}};
const std::vector<Column> kPolicyColumns = {{"ID", "id"},
                                            {"Name", "name"},
                                            {"Enabled", "enabled"},
                                            {"Schedule", "schedule"},
                                            {"Timezone", "timezone"}};
const std::vector<Column> kRunColumns = {{"ID", "id"},
                                         {"Trigger", "trigger"},
                                         {"Status", "status"},
                                         {"Scheduled At", "scheduled_at"},
                                         {"Finished At", "finished_at"},
                                         {"Snapshots", "snapshots"},
                                         {"Pruned", "pruned"},
                                         {"Error", "error"}};
const std::vector<Column> kTaskColumns = {{"ID", "id"},
                                          {"Kind", "kind"},
                                          {"Status", "status"},
                                          {"Phase", "phase"},
                                          {"Progress", "progress"},
                                          {"Volume ID", "volume_id"},
                                          {"Seconds", "seconds"},
                                          {"Error", "error"}};
const std::vector<Column> kPruneColumns = {{"Volume ID", "volume_id"},
                                           {"Snapshot ID", "snapshot_id"},
                                           {"Created At", "created_at"},
                                           {"Action", "action"},
                                           {"Reason", "reason"}};

// Strata's own facts ("os-strata:" keys) come with this header.
const std::vector<std::string> kDetails = {"X-Strata-Details: true"};

const OptionSpec kWait{"wait", "",
                       "wait until the work ends (exit 1 if it "
                       "fails)"};

std::string Query(const std::vector<std::pair<std::string, std::string>>& q) {
  std::string s;
  for (const auto& [k, v] : q)
    if (!v.empty()) s += (s.empty() ? "?" : "&") + k + "=" + v;
  return s;
}

// One look at the work a command started.
struct Poll {
  bool done = false, failed = false;
  int progress = -1;  // percent, -1: unknown
  std::string phase, error;
};

void DrawBar(CommandContext& ctx, const std::string& what, const Poll& p) {
  if (!ctx.progress) return;
  const int pct = p.progress < 0 ? 0 : std::min(p.progress, 100);
  const int filled = pct * 30 / 100;
  ctx.err << "\r" << what << " [" << std::string(filled, '#')
          << std::string(30 - filled, '.') << "] " << pct << "% " << p.phase
          << "        " << std::flush;
}

// Polls until the work is done, failed, or the timeout; the exit code.
int Wait(CommandContext& ctx, const std::string& what,
         const std::function<Result<Poll>()>& poll) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(ctx.timeout_seconds);
  for (;;) {
    auto p = poll();
    if (!p.ok()) {
      if (ctx.progress) ctx.err << "\n";
      return Fail(p.status(), ctx);
    }
    DrawBar(ctx, what, *p);
    if (p->done || p->failed) {
      if (ctx.progress) ctx.err << "\n";
      if (p->failed) {
        ctx.err << what << " failed"
                << (p->error.empty() ? "" : ": " + p->error) << "\n";
        return kExitFailed;
      }
      return kExitOk;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      if (ctx.progress) ctx.err << "\n";
      ctx.err << what << ": still " << p->phase << " after "
              << ctx.timeout_seconds << " s (--timeout)\n";
      return kExitTimeout;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int Percent(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_string()) return std::atoi(v.get<std::string>().c_str());
  return -1;
}

// Runs `body` with a connected client; faults become exit codes.
int WithClient(CommandContext& ctx,
               const std::function<Result<int>(ApiClient&)>& body) {
  auto client = ctx.client();
  if (!client.ok()) return Fail(client.status(), ctx);
  auto code = body(**client);
  if (!code.ok()) return Fail(code.status(), ctx);
  return *code;
}

Result<int> Printed(const Status& s) {
  STRATA_RETURN_IF_ERROR(s);
  return kExitOk;
}

// ---- volumes ----

int VolumeList(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j,
        c.Call("GET",
               "/volumes/detail" +
                   Query({{"all_tenants", a.Has("all-projects") ? "1" : ""}}),
               std::nullopt, kDetails));
    return Printed(
        PrintList(j["volumes"], kVolumeColumns, ctx.output, ctx.out));
  });
}

int VolumeShow(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j,
        c.Call("GET", "/volumes/" + a.positionals[0], std::nullopt, kDetails));
    return Printed(PrintOne(j["volume"], {}, ctx.output, ctx.out));
  });
}

int VolumeRevert(const ParsedArgs& a, CommandContext& ctx) {
  const std::string vol = a.positionals[0], snap = a.positionals[1];
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto started,
        c.Call("POST", "/volumes/" + vol + "/action",
               nlohmann::json{{"revert", {{"snapshot_id", snap}}}},
               {"OpenStack-API-Version: volume 3.40"}));
    (void)started;
    if (!a.Has("wait")) return kExitOk;
    int code = Wait(ctx, "revert of " + vol, [&]() -> Result<Poll> {
      STRATA_ASSIGN_OR_RETURN(
          auto v, c.Call("GET", "/volumes/" + vol, std::nullopt, kDetails));
      Poll p;
      const std::string status = v["volume"].value("status", "");
      p.phase = status;
      if (status == "reverting") return p;
      const auto head = v["volume"].value("os-strata:head_snapshot_id",
                                          nlohmann::json(nullptr));
      p.progress = 100;
      p.done = head.is_string() && head.get<std::string>() == snap;
      p.failed = !p.done;
      if (p.failed)
        p.error = "the volume is " + status + " and its head is not " + snap;
      return p;
    });
    if (code != kExitOk) return code;
    STRATA_ASSIGN_OR_RETURN(
        auto v, c.Call("GET", "/volumes/" + vol, std::nullopt, kDetails));
    return Printed(PrintOne(v["volume"], {}, ctx.output, ctx.out));
  });
}

// ---- snapshots ----

int SnapshotList(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j,
        c.Call("GET",
               "/snapshots/detail" +
                   Query({{"volume_id", a.Get("volume")},
                          {"all_tenants", a.Has("all-projects") ? "1" : ""}}),
               std::nullopt, kDetails));
    return Printed(
        PrintList(j["snapshots"], kSnapshotColumns, ctx.output, ctx.out));
  });
}

Result<nlohmann::json> GetSnapshot(ApiClient& c, const std::string& id) {
  STRATA_ASSIGN_OR_RETURN(
      auto j, c.Call("GET", "/snapshots/" + id, std::nullopt, kDetails));
  return j["snapshot"];
}

int SnapshotShow(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(auto s, GetSnapshot(c, a.positionals[0]));
    return Printed(PrintOne(s, {}, ctx.output, ctx.out));
  });
}

// Waits until `snap` (updated as it is polled) is available; exit 1 when
// it ends in error.
int WaitSnapshotStored(ApiClient& c, CommandContext& ctx,
                       nlohmann::json& snap) {
  const std::string id = snap.value("id", "");
  return Wait(ctx, "snapshot " + id, [&]() -> Result<Poll> {
    STRATA_ASSIGN_OR_RETURN(snap, GetSnapshot(c, id));
    Poll p;
    const std::string status = snap.value("status", "");
    p.phase = status;
    p.progress = Percent(snap.value("os-extended-snapshot-attributes:progress",
                                    nlohmann::json(nullptr)));
    p.done = status == "available";
    p.failed = status == "error";
    p.error = snap.value("os-strata:error", "");
    return p;
  });
}

int SnapshotCreate(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    nlohmann::json body = {{"volume_id", a.positionals[0]}, {"force", true}};
    if (a.Has("name")) body["name"] = a.Get("name");
    if (a.Has("description")) body["description"] = a.Get("description");
    STRATA_ASSIGN_OR_RETURN(
        auto j, c.Call("POST", "/snapshots", nlohmann::json{{"snapshot", body}},
                       kDetails));
    nlohmann::json snap = j["snapshot"];
    if (a.Has("wait")) {
      int code = WaitSnapshotStored(c, ctx, snap);
      if (code != kExitOk) return code;
    }
    return Printed(PrintOne(snap, {}, ctx.output, ctx.out));
  });
}

int SnapshotDelete(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    const std::string id = a.positionals[0];
    STRATA_ASSIGN_OR_RETURN(auto j, c.Call("DELETE", "/snapshots/" + id));
    (void)j;
    if (!a.Has("wait")) return kExitOk;
    return Wait(ctx, "delete of snapshot " + id, [&]() -> Result<Poll> {
      Poll p;
      auto s = GetSnapshot(c, id);
      if (s.status().IsNotFound()) {
        p.done = true;
        p.progress = 100;
        return p;
      }
      STRATA_RETURN_IF_ERROR(s.status());
      p.phase = s->value("status", "");
      p.failed = p.phase == "error_deleting";
      return p;
    });
  });
}

// Reads the snapshot's stored layer back and checks its SHA-256
// (os-verify); with --wait, fails (exit 1) when the check does.
int SnapshotVerify(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    const std::string id = a.positionals[0];
    STRATA_ASSIGN_OR_RETURN(
        auto j,
        c.Call("POST", "/snapshots/" + id + "/action",
               nlohmann::json{{"os-verify", nlohmann::json::object()}}));
    (void)j;
    if (!a.Has("wait")) return kExitOk;
    nlohmann::json snap;
    int code = Wait(ctx, "verify of snapshot " + id, [&]() -> Result<Poll> {
      STRATA_ASSIGN_OR_RETURN(snap, GetSnapshot(c, id));
      const nlohmann::json v =
          snap.value("os-strata:verify", nlohmann::json::object());
      Poll p;
      p.phase = v.value("state", "");
      p.done = p.phase == "ok";
      p.failed = p.phase == "failed" || p.phase == "interrupted";
      if (p.done) p.progress = 100;
      if (p.failed && v.contains("error") && v["error"].is_string())
        p.error = v["error"].get<std::string>();
      return p;
    });
    if (code != kExitOk) return code;
    return Printed(PrintOne(snap, {}, ctx.output, ctx.out));
  });
}

// ---- servers: snapshots with memory (issue 21) ----

const std::vector<std::string> kNova245 = {"X-OpenStack-Nova-API-Version: 2.45"};

// Nova's createImage of the server's system disk; with --memory the
// running server's memory too, at the disk's cut instant.
int ServerSnapshot(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    const std::string server = a.positionals[0];
    nlohmann::json arg = {
        {"name", a.Has("name") ? a.Get("name") : "snapshot of " + server}};
    if (a.Has("memory")) arg["os-strata:memory"] = true;
    STRATA_ASSIGN_OR_RETURN(
        auto j, c.CallCompute("POST", "/servers/" + server + "/action",
                              nlohmann::json{{"createImage", arg}}, kNova245));
    STRATA_ASSIGN_OR_RETURN(auto snap,
                            GetSnapshot(c, j.value("image_id", "")));
    if (a.Has("wait")) {
      int code = WaitSnapshotStored(c, ctx, snap);
      if (code != kExitOk) return code;
    }
    return Printed(PrintOne(snap, {}, ctx.output, ctx.out));
  });
}

// os-strata:restoreMemory: the server back at a snapshot taken with its
// memory, running where it was; --wait until it is ACTIVE again.
int ServerRestoreMemory(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    const std::string server = a.positionals[0], id = a.positionals[1];
    STRATA_ASSIGN_OR_RETURN(
        auto j, c.CallCompute("POST", "/servers/" + server + "/action",
                              nlohmann::json{{"os-strata:restoreMemory",
                                              {{"imageRef", id}}}}));
    (void)j;
    if (!a.Has("wait")) return kExitOk;
    nlohmann::json shown;
    int code = Wait(ctx, "memory restore of " + server, [&]() -> Result<Poll> {
      STRATA_ASSIGN_OR_RETURN(auto snap, GetSnapshot(c, id));
      Poll p;
      p.phase = snap.value("status", "");
      if (p.phase == "restoring") return p;
      STRATA_ASSIGN_OR_RETURN(auto s,
                              c.CallCompute("GET", "/servers/" + server));
      shown = s["server"];
      p.phase = shown.value("status", "");
      p.done = p.phase == "ACTIVE";
      p.failed = !p.done;
      if (p.failed)
        p.error = "the server is " + p.phase + " after the restore" +
                  (snap.contains("os-strata:error")
                       ? ": " + snap.value("os-strata:error", "")
                       : "");
      if (p.done) p.progress = 100;
      return p;
    });
    if (code != kExitOk) return code;
    return Printed(PrintOne(shown, {}, ctx.output, ctx.out));
  });
}

// ---- backup policies ----

const std::string kPolicies = "/os-snapshot-policies";

int PolicyList(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j,
        c.Call("GET", kPolicies + Query({{"all_tenants",
                                          a.Has("all-projects") ? "1" : ""}})));
    return Printed(
        PrintList(j["policies"], kPolicyColumns, ctx.output, ctx.out));
  });
}

int PolicyShow(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(auto j,
                            c.Call("GET", kPolicies + "/" + a.positionals[0]));
    return Printed(PrintOne(j["policy"], {}, ctx.output, ctx.out));
  });
}

Result<int> WholeNumber(const std::string& option, const std::string& v) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 0)
    return Status::InvalidArgument("--" + option +
                                   " takes a whole number, not '" + v + "'");
  return static_cast<int>(n);
}

int PolicyCreate(const ParsedArgs& a, CommandContext& ctx) {
  nlohmann::json policy = {{"schedule", a.Get("schedule")}};
  if (a.Has("name")) policy["name"] = a.Get("name");
  if (a.Has("description")) policy["description"] = a.Get("description");
  if (a.Has("timezone")) policy["timezone"] = a.Get("timezone");
  if (a.Has("disable")) policy["enabled"] = false;
  if (a.Has("no-run-missed")) policy["run_missed"] = false;
  nlohmann::json servers = nlohmann::json::array();
  const std::string disks = a.Get("disks", "all");
  for (const auto& s : a.All("server"))
    servers.push_back({{"server", s}, {"disks", disks}});
  for (const auto& h : a.All("host-name"))
    servers.push_back({{"host_name", h}, {"disks", disks}});
  for (const auto& addr : a.All("address"))
    servers.push_back({{"address", addr}, {"disks", disks}});
  policy["targets"] = {{"volumes", a.All("volume")}, {"servers", servers}};
  nlohmann::json retention = nlohmann::json::object();
  for (const auto& [opt, key] :
       std::vector<std::pair<std::string, std::string>>{
           {"keep", "max_count"},
           {"keep-last", "keep_last"},
           {"keep-hourly", "keep_hourly"},
           {"keep-daily", "keep_daily"},
           {"keep-weekly", "keep_weekly"},
           {"keep-monthly", "keep_monthly"},
           {"keep-yearly", "keep_yearly"}}) {
    if (!a.Has(opt)) continue;
    auto n = WholeNumber(opt, a.Get(opt));
    if (!n.ok()) {
      ctx.err << "strata: " << n.status().message() << "\n";
      return kExitUsage;
    }
    retention[key] = *n;
  }
  if (!retention.empty()) policy["retention"] = retention;
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j, c.Call("POST", kPolicies, nlohmann::json{{"policy", policy}}));
    return Printed(PrintOne(j["policy"], {}, ctx.output, ctx.out));
  });
}

int PolicyDelete(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j, c.Call("DELETE", kPolicies + "/" + a.positionals[0]));
    (void)j;
    return kExitOk;
  });
}

int PolicyRun(const ParsedArgs& a, CommandContext& ctx) {
  const std::string id = a.positionals[0];
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j, c.Call("POST", kPolicies + "/" + id + "/action",
                       nlohmann::json{{"os-run", nlohmann::json::object()}}));
    nlohmann::json run = j["run"];
    const std::string run_id = run.value("id", "");
    if (a.Has("wait")) {
      int code = Wait(ctx, "run " + run_id, [&]() -> Result<Poll> {
        STRATA_ASSIGN_OR_RETURN(
            auto runs, c.Call("GET", kPolicies + "/" + id + "/runs?limit=20"));
        Poll p;
        for (const auto& r : runs["runs"])
          if (r.value("id", "") == run_id) run = r;
        const std::string status = run.value("status", "");
        p.phase = status;
        p.done = status == "success" || status == "skipped";
        p.failed = status == "error";
        p.progress = p.done ? 100 : -1;
        if (run["error"].is_string()) p.error = run["error"];
        return p;
      });
      if (code != kExitOk) {
        (void)PrintOne(run, {}, ctx.output, ctx.out);
        return code;
      }
    }
    return Printed(PrintOne(run, {}, ctx.output, ctx.out));
  });
}

int PolicyRuns(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j, c.Call("GET", kPolicies + "/" + a.positionals[0] + "/runs" +
                                  Query({{"limit", a.Get("limit")}})));
    return Printed(PrintList(j["runs"], kRunColumns, ctx.output, ctx.out));
  });
}

int PolicyPrune(const ParsedArgs& a, CommandContext& ctx) {
  if (!a.Has("dry-run")) {
    ctx.err << "strata: policy prune runs only as --dry-run (a policy's runs "
               "prune)\n";
    return kExitUsage;
  }
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j, c.Call("POST", kPolicies + "/" + a.positionals[0] + "/action",
                       nlohmann::json{{"os-prune", {{"dry_run", true}}}}));
    return Printed(PrintList(j["prune"], kPruneColumns, ctx.output, ctx.out));
  });
}

// ---- tasks ----

int TaskList(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(
        auto j,
        c.Call("GET",
               "/os-tasks" +
                   Query({{"volume_id", a.Get("volume")},
                          {"status", a.Get("status")},
                          {"limit", a.Get("limit")},
                          {"all_tenants", a.Has("all-projects") ? "1" : ""}})));
    return Printed(PrintList(j["tasks"], kTaskColumns, ctx.output, ctx.out));
  });
}

int TaskShow(const ParsedArgs& a, CommandContext& ctx) {
  return WithClient(ctx, [&](ApiClient& c) -> Result<int> {
    STRATA_ASSIGN_OR_RETURN(auto j,
                            c.Call("GET", "/os-tasks/" + a.positionals[0]));
    if (!a.Has("wait"))
      return Printed(PrintOne(j["task"], {}, ctx.output, ctx.out));
    nlohmann::json task = j["task"];
    const std::string id = a.positionals[0];
    int code =
        Wait(ctx, task.value("kind", "task") + " " + id, [&]() -> Result<Poll> {
          STRATA_ASSIGN_OR_RETURN(auto t, c.Call("GET", "/os-tasks/" + id));
          task = t["task"];
          Poll p;
          p.phase = task.value("phase", "");
          p.progress = task.value("progress", -1);
          p.done = task.value("status", "") == "succeeded";
          p.failed = task.value("status", "") == "failed";
          if (task["error"].is_string()) p.error = task["error"];
          return p;
        });
    (void)PrintOne(task, {}, ctx.output, ctx.out);
    return code;
  });
}

const OptionSpec kAllProjects{"all-projects", "",
                              "every project's (admins only)"};

}  // namespace

int Fail(const Status& s, CommandContext& ctx) {
  ctx.err << "strata: " << s.message() << "\n";
  switch (s.code()) {
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return kExitAuth;
    case StatusCode::kUnavailable:
      return kExitUnavailable;
    default:
      return kExitFailed;
  }
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"volume list", "", "List volumes.", {kAllProjects}, VolumeList},
      {"volume show",
       "VOLUME",
       "Show a volume, its chain head and export.",
       {},
       VolumeShow},
      {"volume revert",
       "VOLUME SNAPSHOT",
       "Revert a volume to any of its snapshots (R2.11; a running server's "
       "disk too).",
       {kWait},
       VolumeRevert},
      {"snapshot list",
       "",
       "List snapshots.",
       {{"volume", "VOLUME", "only this volume's"}, kAllProjects},
       SnapshotList},
      {"snapshot show", "SNAPSHOT", "Show a snapshot.", {}, SnapshotShow},
      {"snapshot create",
       "VOLUME",
       "Take an incremental snapshot of a volume, live if its server runs.",
       {{"name", "NAME", "its name"},
        {"description", "TEXT", "its description"},
        kWait},
       SnapshotCreate},
      {"snapshot delete",
       "SNAPSHOT",
       "Delete a snapshot everywhere (the later ones stay revertible).",
       {kWait},
       SnapshotDelete},
      {"snapshot verify",
       "SNAPSHOT",
       "Read a snapshot's stored layer back and check its SHA-256; "
       "--wait fails (exit 1) when the check does.",
       {kWait},
       SnapshotVerify},
      {"server snapshot",
       "SERVER",
       "Snapshot a server's system disk (Nova's createImage); --memory: its "
       "memory too, at the disk's instant (issue 21).",
       {{"name", "NAME", "its name"},
        {"memory", "", "take the running server's memory too"},
        kWait},
       ServerSnapshot},
      {"server restore-memory",
       "SERVER SNAPSHOT",
       "Put a server back at a snapshot taken with its memory: its disk "
       "reverted, then running where it was.",
       {kWait},
       ServerRestoreMemory},
      {"policy list", "", "List backup policies.", {kAllProjects}, PolicyList},
      {"policy show",
       "POLICY",
       "Show a policy, its next runs, last run and resolved servers.",
       {},
       PolicyShow},
      {"policy create",
       "",
       "Create a backup policy: what (--volume, --server, --host-name, "
       "--address), when (--schedule) and how many to keep.",
       {{"schedule", "EXPR",
         "calendar event ('wed 22:00', 'mon..fri 02:30') or 'every 10d "
         "from 2026-12-01 22:00'"},
        {"name", "NAME", "its name"},
        {"description", "TEXT", "its description"},
        {"timezone", "ZONE", "IANA zone (default: the host's)"},
        {"volume", "VOLUME", "a volume to protect", true},
        {"server", "SERVER", "a server (uuid or name) to protect", true},
        {"host-name", "NAME", "a server by its guest's host name", true},
        {"address", "IP", "a server by its guest's LAN address", true},
        {"disks", "WHICH", "the servers' disks: all, system or data"},
        {"keep", "N", "the cap: at most N stored snapshots per volume"},
        {"keep-last", "N", "keep the last N"},
        {"keep-hourly", "N", "keep one an hour for N hours"},
        {"keep-daily", "N", "keep one a day for N days"},
        {"keep-weekly", "N", "keep one a week for N weeks"},
        {"keep-monthly", "N", "keep one a month for N months"},
        {"keep-yearly", "N", "keep one a year for N years"},
        {"disable", "", "create it disabled"},
        {"no-run-missed", "", "skip times missed while stratad was down"}},
       PolicyCreate},
      {"policy delete",
       "POLICY",
       "Delete a policy (its snapshots stay).",
       {},
       PolicyDelete},
      {"policy run", "POLICY", "Run a policy now.", {kWait}, PolicyRun},
      {"policy runs",
       "POLICY",
       "List a policy's runs, newest first.",
       {{"limit", "N", "at most N"}},
       PolicyRuns},
      {"policy prune",
       "POLICY",
       "Show what the policy's retention would prune now, and why.",
       {{"dry-run", "", "required: nothing is deleted"}},
       PolicyPrune},
      {"task list",
       "",
       "List long operations, newest first.",
       {{"volume", "VOLUME", "only this volume's"},
        {"status", "STATUS", "running, succeeded or failed"},
        {"limit", "N", "at most N (default 100)"},
        kAllProjects},
       TaskList},
      {"task show",
       "TASK",
       "Show a task; --wait follows it to its end.",
       {kWait},
       TaskShow},
  };
  return kCommands;
}

}  // namespace strata::cli
