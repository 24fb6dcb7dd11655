// A group snapshot across hosts. See group_coordinator.h.
#include "coordinator/group_coordinator.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "coordinator/peer_client.h"
#include "util/crash_point.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::coordinator {
namespace {

constexpr char kKind[] = "group_coordinate";
// How long the coordinator waits for the hosts to store their parts.
constexpr auto kSettleLimit = std::chrono::hours(1);
// How long a failed cut waits for the hosts' members to settle before it
// deletes them (each is one layer's store, or an error at once).
constexpr auto kCleanLimit = std::chrono::seconds(600);

// fn(i) for every i < n at once, a thread each; exceptions end as errors
// at the thread's edge.
template <typename T, typename F>
std::vector<Result<T>> OnEach(size_t n, F fn) {
  std::vector<std::optional<Result<T>>> got(n);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      Status s = CatchAll("coordinator.host_call", [&] {
        got[i].emplace(fn(i));
        return Status::OK();
      });
      if (!s.ok()) got[i].emplace(s);
    });
  for (auto& t : threads) t.join();
  std::vector<Result<T>> out;
  for (auto& g : got) out.push_back(std::move(*g));
  return out;
}

template <typename T>
Status FirstError(const std::vector<Result<T>>& rs) {
  for (const auto& r : rs)
    if (!r.ok()) return r.status();
  return Status::OK();
}

// OK when every host stored its part (`parts`: Settled's statuses).
Status AllStored(const std::vector<std::string>& hosts,
                 const std::vector<std::string>& parts) {
  for (size_t k = 0; k < hosts.size(); ++k) {
    if (parts[k].empty())
      return Status::NotFound("host " + hosts[k] + " has no part of it");
    if (parts[k] != "available")
      return Status::IoError("host " + hosts[k] + " could not store its part");
  }
  return Status::OK();
}

// The hosts a journalled coordination asked to hold (none before its
// hold step).
std::vector<std::string> PlacementHosts(const nlohmann::json& state) {
  std::vector<std::string> hosts;
  if (state.is_object() && state.contains("placement") &&
      state["placement"].is_object())
    for (auto it = state["placement"].begin(); it != state["placement"].end();
         ++it)
      hosts.push_back(it.key());
  return hosts;
}

}  // namespace

GroupCoordinator::GroupCoordinator(db::Catalog* catalog,
                                   CoordinatorOptions opts, LocalParts local)
    : catalog_(catalog),
      opts_(std::move(opts)),
      local_(std::move(local)),
      instance_(NewUuid()) {}

bool GroupCoordinator::Coordinates(const std::string& id) {
  auto tasks = catalog_->TasksOfSnapshot(kKind, id);
  return tasks.ok() && !tasks->empty();
}

GroupCoordinator::~GroupCoordinator() {
  stopping_ = true;
  std::vector<std::thread> runs;
  {
    std::lock_guard<std::mutex> l(mu_);
    runs.swap(runs_);
  }
  for (auto& t : runs) t.join();
}

Result<db::GroupSnapshotRecord> GroupCoordinator::Start(CoordinatedSnapshot s) {
  if (!enabled())
    return Status::InvalidArgument(
        "Invalid input received: a group snapshot of servers needs the "
        "compute hosts' stratad APIs ([groups] hosts).");
  if (s.servers.empty())
    return Status::InvalidArgument(
        "Invalid input received: a group snapshot of servers needs at least "
        "one server.");
  s.row.status = "creating";
  s.row.follows_members = false;  // the coordinator says how it ended
  s.row.created_at = s.row.updated_at = NowMicros();
  STRATA_RETURN_IF_ERROR(catalog_->InsertGroupSnapshot(s.row));
  auto j = engine::Journal::Begin(catalog_, kKind, "", s.row.id);
  if (!j.ok()) {
    LogIfError(catalog_->DeleteGroupSnapshot(s.row.id),
               "dropping group snapshot " + s.row.id);
    return j.status();
  }
  j->state()["servers"] = s.servers;
  j->state()["hosts"] = opts_.hosts;
  db::GroupSnapshotRecord row = s.row;
  std::lock_guard<std::mutex> l(mu_);
  runs_.emplace_back([this, s = std::move(s), j = std::move(*j)]() mutable {
    Run(std::move(s), std::move(j));
  });
  return row;
}

void GroupCoordinator::Run(CoordinatedSnapshot s, engine::Journal j) {
  const Status st =
      CatchAll("coordinator.group_snapshot", [&] { return RunPhases(s, j); });
  if (st.ok()) {
    SetStatus(s.row.id, "available");
    LogIfError(j.Succeed(), "journal of group snapshot " + s.row.id);
    return;
  }
  LogError("group snapshot " + s.row.id + ": " + st.ToString());
  const auto hosts = PlacementHosts(j.state());
  if (!hosts.empty()) {
    Status c = CatchAll("coordinator.clean", [&] {
      Clean(s.row.id, s.token, hosts);
      return Status::OK();
    });
    LogIfError(c, "cleaning group snapshot " + s.row.id);
  }
  SetStatus(s.row.id, "error");
  LogIfError(j.Fail(st), "journal of group snapshot " + s.row.id);
}

Result<std::vector<std::string>> GroupCoordinator::Settled(
    const std::string& id, const std::string& token,
    const std::vector<std::string>& hosts, std::chrono::seconds limit) {
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    if (stopping_)
      return Status::Unavailable("stratad stopped before the hosts' parts of " +
                                 id + " settled");
    auto st = OnEach<std::string>(hosts.size(), [&](size_t k) {
      return PeerClient(hosts[k], token).MembersStatus(id);
    });
    std::vector<std::string> out;
    bool settled = true;
    for (size_t k = 0; k < hosts.size(); ++k) {
      if (!st[k].ok()) {
        if (st[k].status().IsNotFound()) {
          out.push_back("");  // no part there
          continue;
        }
        if (!st[k].status().retryable()) return st[k].status();
        settled = false;  // asked again
        continue;
      }
      if (*st[k] == "creating") settled = false;
      out.push_back(*st[k]);
    }
    if (settled) return out;
    if (std::chrono::steady_clock::now() - t0 > limit)
      return Status::Unavailable("the hosts' parts of group snapshot " + id +
                                 " did not settle");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Status GroupCoordinator::DropRemoteParts(
    const std::string& id, const std::string& token,
    const std::vector<std::string>& hosts) {
  auto dropped = OnEach<bool>(hosts.size(), [&](size_t k) {
    return PeerClient(hosts[k], token).DeletePart(id, instance_);
  });
  return FirstError(dropped);
}

void GroupCoordinator::Clean(const std::string& id, const std::string& token,
                             const std::vector<std::string>& hosts) {
  // The writers run again at once; a host that cannot be reached releases
  // at its deadline by itself.
  auto aborted = OnEach<nlohmann::json>(hosts.size(), [&](size_t k) {
    return PeerClient(hosts[k], token).Act(id, "abort");
  });
  for (size_t k = 0; k < hosts.size(); ++k)
    if (!aborted[k].ok() && !aborted[k].status().IsNotFound())
      LogWarning("group snapshot " + id + ": abort on " + hosts[k] + ": " +
                 aborted[k].status().ToString());
  auto settled = Settled(id, token, hosts, kCleanLimit);
  if (!settled.ok()) {
    LogError("group snapshot " + id +
             ": its parts stay on the hosts: " + settled.status().ToString());
    return;
  }
  LogIfError(DropRemoteParts(id, token, hosts),
             "group snapshot " + id + ": deleting the other hosts' parts");
  if (local_.discard_members)
    LogIfError(local_.discard_members(id),
               "group snapshot " + id + ": discarding this host's part");
  LogInfo("group snapshot " + id + ": the failed cut's parts were deleted");
}

Status GroupCoordinator::Delete(const std::string& id,
                                const std::string& token) {
  STRATA_ASSIGN_OR_RETURN(db::GroupSnapshotRecord g,
                          catalog_->GetGroupSnapshot(id));
  if (g.status != "available" && g.status != "error")
    return Status::InvalidArgument(
        "Invalid group snapshot: Group snapshot status must be available or "
        "error, but it is " +
        g.status + ".");
  STRATA_ASSIGN_OR_RETURN(auto tasks, catalog_->TasksOfSnapshot(kKind, id));
  std::vector<std::string> hosts;
  if (!tasks.empty())
    hosts = PlacementHosts(
        nlohmann::json::parse(tasks.front().state, nullptr, false));
  if (Status d = DropRemoteParts(id, token, hosts); !d.ok()) {
    SetStatus(id, "error");  // no longer whole
    return d;
  }
  return local_.delete_group_snapshot(id);
}

Status GroupCoordinator::RunPhases(const CoordinatedSnapshot& s,
                                   engine::Journal& j) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& id = s.row.id;
  std::vector<PeerClient> all;
  for (const auto& h : opts_.hosts) all.emplace_back(h, s.token);

  // Resolve (R4.3): which host runs each server.
  STRATA_RETURN_IF_ERROR(j.Step("coord.resolve", 10));
  auto found = OnEach<std::vector<std::string>>(
      all.size(), [&](size_t i) -> Result<std::vector<std::string>> {
        std::vector<std::string> on;
        for (const auto& srv : s.servers) {
          STRATA_ASSIGN_OR_RETURN(bool has, all[i].HasServer(srv));
          if (has) on.push_back(srv);
        }
        return on;
      });
  STRATA_RETURN_IF_ERROR(FirstError(found));
  std::vector<PeerClient> hosts;
  std::vector<std::vector<std::string>> servers_of;
  std::map<std::string, std::string> host_of;
  for (size_t i = 0; i < all.size(); ++i) {
    for (const auto& srv : *found[i]) {
      if (host_of.count(srv))
        return Status::Conflict("server " + srv + " was found on both " +
                                host_of[srv] + " and " + all[i].url());
      host_of[srv] = all[i].url();
    }
    if (!found[i]->empty()) {
      hosts.push_back(all[i]);
      servers_of.push_back(*found[i]);
    }
  }
  for (const auto& srv : s.servers)
    if (!host_of.count(srv))
      return Status::NotFound("server " + srv +
                              " runs on none of the registered hosts");
  nlohmann::json placement = nlohmann::json::object();
  for (size_t k = 0; k < hosts.size(); ++k)
    placement[hosts[k].url()] = servers_of[k];
  j.state()["placement"] = placement;

  // Hold: every host, at once.
  STRATA_RETURN_IF_ERROR(j.Step("coord.hold", 30));
  const auto hold_t0 = std::chrono::steady_clock::now();
  auto held = OnEach<nlohmann::json>(hosts.size(), [&](size_t k) {
    nlohmann::json body = {{"id", id},
                           {"group_id", s.row.group_id},
                           {"group_type_id", s.row.group_type_id},
                           {"name", s.row.name},
                           {"description", s.row.description},
                           {"servers", servers_of[k]},
                           {"hold_ms", opts_.hold_ms}};
    return hosts[k].Hold(body);
  });
  // On any failure from here on, Run's Clean aborts every host at once.
  STRATA_RETURN_IF_ERROR(FirstError(held));
  // Cut: only now that every host holds.
  STRATA_RETURN_IF_ERROR(j.Step("coord.cut", 50));
  auto cut = OnEach<nlohmann::json>(
      hosts.size(), [&](size_t k) { return hosts[k].Act(id, "cut"); });
  STRATA_RETURN_IF_ERROR(FirstError(cut));
  // Release: only now that every host has cut.
  STRATA_RETURN_IF_ERROR(j.Step("coord.release", 70));
  auto released = OnEach<nlohmann::json>(
      hosts.size(), [&](size_t k) { return hosts[k].Act(id, "release"); });
  const double wall_ms = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - hold_t0)
                             .count();
  double hold_ms = 0;
  int64_t first_cut = 0, last_cut = 0;
  for (size_t k = 0; k < hosts.size(); ++k) {
    if (!released[k].ok()) return released[k].status();
    const nlohmann::json& r = *released[k];
    if (!r.value("held_through", false))
      return Status::Conflict("host " + hosts[k].url() +
                              " did not hold through its cut: " +
                              r.value("error", std::string("")));
    hold_ms = std::max(hold_ms, r.value("hold_ms", 0.0));
    const int64_t at = r.value("cut_at_us", int64_t{0});
    first_cut = first_cut == 0 ? at : std::min(first_cut, at);
    last_cut = std::max(last_cut, at);
  }
  j.state()["hold_ms"] = hold_ms;
  j.state()["cut_skew_ms"] = (last_cut - first_cut) / 1000.0;
  j.state()["protocol_ms"] = wall_ms;
  LogInfo("group snapshot " + id + ": " + std::to_string(s.servers.size()) +
          " server(s) on " + std::to_string(hosts.size()) +
          " host(s) cut consistently; longest hold " + std::to_string(hold_ms) +
          " ms, cut skew " + std::to_string((last_cut - first_cut) / 1000.0) +
          " ms, hold to " + "release " + std::to_string(wall_ms) + " ms");

  // Settle: each host stores its part.
  STRATA_RETURN_IF_ERROR(j.Step("coord.settle", 90));
  std::vector<std::string> urls;
  for (const auto& h : hosts) urls.push_back(h.url());
  STRATA_ASSIGN_OR_RETURN(auto parts, Settled(id, s.token, urls, kSettleLimit));
  STRATA_RETURN_IF_ERROR(AllStored(urls, parts));
  CrashPoint("coord.settled");  // a restart finishes it (tests)
  j.state()["total_ms"] = std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - t0)
                              .count();
  return Status::OK();
}

void GroupCoordinator::SetStatus(const std::string& id,
                                 const std::string& status) {
  LogIfError(catalog_->ModifyGroupSnapshot(id,
                                           [&](db::GroupSnapshotRecord& g) {
                                             g.status = status;
                                             g.follows_members = false;
                                             return Status::OK();
                                           }),
             "group snapshot " + id);
}

void GroupCoordinator::RecoverInterrupted() {
  auto tasks = catalog_->UnfinishedTasks();
  if (!tasks.ok()) {
    LogError("group coordinator: " + tasks.status().ToString());
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& t : *tasks)
    if (t.kind == kKind)
      runs_.emplace_back([this, t] {
        LogIfError(CatchAll("coordinator.recover",
                            [&] {
                              Resume(t);
                              return Status::OK();
                            }),
                   "recovering group snapshot task " + t.id);
      });
}

void GroupCoordinator::Resume(db::TaskRecord t) {
  const std::string id = t.snapshot_id.value_or("");
  const auto hosts =
      PlacementHosts(nlohmann::json::parse(t.state, nullptr, false));
  // The caller's token went with the process: the hosts are asked without
  // one (they accept it when they run without Keystone, or the parts stay,
  // each marked by its host).
  const std::string token;
  if (t.step == "coord.settle") {
    // Every host held through its cut and released: the cut is consistent
    // and only its storing was left to watch.
    LogWarning("recovery: group snapshot " + id +
               " was interrupted while its parts were stored: settling it");
    auto st = Settled(id, token, hosts, kSettleLimit);
    if (st.ok() && AllStored(hosts, *st).ok()) {
      SetStatus(id, "available");
      LogIfError(catalog_->FinishTask(t.id, "succeeded", ""),
                 "closing task " + t.id);
      return;
    }
  } else {
    LogWarning("recovery: group snapshot " + id + " was interrupted at " +
               t.step + ": aborting and cleaning it");
  }
  if (!hosts.empty()) Clean(id, token, hosts);
  if (!id.empty()) SetStatus(id, "error");
  LogIfError(catalog_->FinishTask(t.id, "failed",
                                  "interrupted by a restart at " + t.step),
             "closing task " + t.id);
}

}  // namespace strata::coordinator
