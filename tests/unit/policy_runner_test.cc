// The runner of backup policies (issue 19; R1.5, R1.6) on a real engine,
// qcow2 disks and the local store: times missed while stratad was down run
// once at start (or are recorded as skipped when run_missed is off), a
// short interval with a cap keeps exactly the newest snapshots (the others
// deleted from the catalog and the store), a failed run is retried as the
// policy says and recorded (also a retry a stop left pending), and runs a
// stop cut short end as interrupted.
// The one-minute schedule on a booted guest is test-policy-schedule.sh.
#include "policy/policy_runner.h"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "db/catalog.h"
#include "engine/engine.h"
#include "engine_world.h"
#include "policy/policy_spec.h"
#include "storage-drivers/store_registry.h"
#include "util/fs.h"
#include "util/subprocess.h"
#include "util/time_util.h"
#include "util/uuid.h"

using namespace strata;

namespace {

constexpr int64_t kHour = int64_t{3600} * 1000000;

struct World : strata::testing::EngineWorld {
  std::unique_ptr<policy::PolicyRunner> runner;

  ~World() { runner.reset(); }
  void StartRunner() {
    policy::PolicyRunner::Options o;
    o.host_zone = schedule::ZoneClock::Utc();
    o.poll_micros = 20 * 1000;
    runner = std::make_unique<policy::PolicyRunner>(engine.get(), o);
    runner->Start();
  }
  db::VolumeRecord Disk(const std::string& name) {
    const std::string disk = disks + "/" + name + ".qcow2";
    REQUIRE(RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"})
                .ok());
    REQUIRE(
        RunChecked({"qemu-io", "-f", "qcow2", "-c", "write -P 7 0 1M", disk})
            .ok());
    auto v = engine->ManageVolume({"p1", "u1", name, "", disk, false, {}});
    REQUIRE(v.ok());
    return *v;
  }
  db::PolicyRecord Policy(const nlohmann::json& body, int64_t created_at) {
    db::PolicyRecord p;
    p.id = NewUuid();
    p.project_id = "p1";
    p.user_id = "u1";
    p.created_at = p.updated_at = created_at;
    REQUIRE(policy::ApplyPolicyBody(body, true, &p).ok());
    REQUIRE(catalog->InsertPolicy(p).ok());
    return p;
  }
  // A scheduled run of policy `id` as a previous stratad left it: "running"
  // (its stop cut it short) or "error" (ended now, attempt 1).
  db::PolicyRunRecord PastRun(const std::string& id,
                              const std::string& status) {
    db::PolicyRunRecord run;
    run.id = NewUuid();
    run.policy_id = id;
    run.project_id = "p1";
    run.trigger = "schedule";
    run.attempt = 1;
    run.started_at = run.scheduled_at = NowMicros();
    run.status = status;
    if (status == "error") {
      run.finished_at = NowMicros();
      run.error = "the store did not answer";
    }
    REQUIRE(catalog->InsertPolicyRun(run).ok());
    return run;
  }
  std::vector<db::PolicyRunRecord> Runs(const std::string& id) {
    auto r = catalog->ListPolicyRuns(id, 1000);
    REQUIRE(r.ok());
    return *r;
  }
  // Waits (polling, at most 120 s) until `done`, which must then hold.
  template <class F>
  void WaitUntil(F done, const char* what) {
    for (int i = 0; i < 6000 && !done(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE_MESSAGE(done(), what);
  }
  std::vector<db::SnapshotRecord> PolicySnapshots(const std::string& id) {
    db::ListQuery q;
    q.metadata[policy::kPolicyIdKey] = id;
    auto l = catalog->ListSnapshots(q);
    REQUIRE(l.ok());
    return l->rows;
  }
};

int Count(const std::vector<db::PolicyRunRecord>& runs,
          const std::string& status) {
  int n = 0;
  for (const auto& r : runs) n += r.status == status;
  return n;
}

}  // namespace

TEST_CASE("times missed while stopped run once at start, or are skipped") {
  World w;
  const auto vol = w.Disk("v1");
  const int64_t now = NowMicros();
  // Created five and a half hours ago, hourly from 20 minutes after that:
  // six times have passed (+0:20 … +5:20), the seventh is 50 minutes away.
  const int64_t created = now - 5 * kHour - kHour / 2;
  const auto anchor =
      schedule::ZoneClock::Utc().FromUnixMicros(created + kHour / 3 + 999999);
  char from[64];
  std::snprintf(from, sizeof from, "%04d-%02d-%02d %02d:%02d:%02d",
                static_cast<int>(anchor.year), static_cast<int>(anchor.month),
                static_cast<int>(anchor.day), static_cast<int>(anchor.hour),
                static_cast<int>(anchor.minute),
                static_cast<int>(anchor.second));
  nlohmann::json body = {
      {"schedule", std::string("every 1h from ") + from + " UTC"},
      {"targets", {{"volumes", {vol.id}}}}};
  const auto runs_missed = w.Policy(body, created);
  body["run_missed"] = false;
  const auto skips_missed = w.Policy(body, created);
  w.StartRunner();
  w.WaitUntil([&] { return Count(w.Runs(runs_missed.id), "success") == 1; },
              "the missed times ran");
  w.WaitUntil([&] { return w.Runs(skips_missed.id).size() == 1; },
              "the missed times were recorded");
  w.runner->Stop();

  const auto ran = w.Runs(runs_missed.id);
  REQUIRE(ran.size() == 1);  // six times, one run
  CHECK(ran[0].trigger == "missed");
  CHECK(ran[0].scheduled_at <= now);
  CHECK(ran[0].scheduled_at > now - kHour);  // the latest missed time
  CHECK(w.PolicySnapshots(runs_missed.id).size() == 1);
  auto p = w.catalog->GetPolicy(runs_missed.id);
  REQUIRE(p.ok());
  CHECK(p->last_scheduled_at == ran[0].scheduled_at);

  const auto skipped = w.Runs(skips_missed.id);
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].status == "skipped");
  CHECK(skipped[0].error.find("6 scheduled time(s)") != std::string::npos);
  CHECK(w.PolicySnapshots(skips_missed.id).empty());
}

TEST_CASE("a short interval with a cap keeps exactly the newest (R1.6)") {
  World w;
  const auto vol = w.Disk("v1");
  const auto p = w.Policy({{"schedule", "every 1s"},
                           {"targets", {{"volumes", {vol.id}}}},
                           {"retention", {{"max_count", 2}}}},
                          NowMicros());
  w.StartRunner();
  w.WaitUntil([&] { return Count(w.Runs(p.id), "success") >= 4; },
              "four runs succeeded");
  REQUIRE(w.catalog
              ->ModifyPolicy(p.id,
                             [](db::PolicyRecord& r) {
                               r.enabled = false;
                               return Status::OK();
                             })
              .ok());
  w.runner->Changed();
  w.WaitUntil([&] { return Count(w.Runs(p.id), "running") == 0; },
              "no run going");
  w.runner->Stop();
  w.engine->WaitIdle();

  // Every run made one snapshot; the 2 newest remain, the rest were pruned.
  auto runs = w.Runs(p.id);
  CHECK(Count(runs, "error") == 0);
  std::vector<std::string> made, pruned;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    if (it->status != "success") continue;
    auto snaps = nlohmann::json::parse(it->snapshots);
    REQUIRE(snaps.size() == 1);
    made.push_back(snaps[0]["snapshot_id"]);
    for (const auto& x : nlohmann::json::parse(it->pruned))
      pruned.push_back(x["snapshot_id"]);
  }
  REQUIRE(made.size() >= 4);
  std::set<std::string> want(made.end() - 2, made.end()), have;
  for (const auto& s : w.PolicySnapshots(p.id)) {
    CHECK(s.status == "available");
    have.insert(s.id);
  }
  CHECK(have == want);
  CHECK(pruned.size() == made.size() - 2);
  // The store holds the kept ones' layers (a kept one's rewritten, with its
  // pruned parent's merged into it: <id>.g<n>.qcow2) and nothing of the
  // pruned ones.
  std::set<std::string> objects;
  for (const auto& e : std::filesystem::directory_iterator(
           w.tmp.path + "/store/volumes/" + vol.id)) {
    const std::string name = e.path().filename().string();
    if (name.find('#') == std::string::npos) objects.insert(name);  // sidecars
  }
  std::set<std::string> expected;
  for (const auto& s : w.PolicySnapshots(p.id)) {
    REQUIRE(s.store_key.has_value());
    expected.insert(std::filesystem::path(*s.store_key).filename().string());
  }
  auto join = [](const std::set<std::string>& x) {
    std::string out;
    for (const auto& e : x) out += e + " ";
    return out;
  };
  CAPTURE(join(objects));
  CAPTURE(join(expected));
  CHECK(objects == expected);
  for (const auto& id : made) {
    if (want.count(id)) continue;
    for (const auto& o : objects) CHECK(o.rfind(id, 0) != 0);
  }
}

TEST_CASE("a failed run is retried as the policy says, and recorded") {
  World w;
  const auto vol = w.Disk("v1");
  const auto p = w.Policy({{"schedule", "2099-01-01"},
                           {"targets", {{"volumes", {vol.id}}}},
                           {"retry", {{"attempts", 1}, {"delay_seconds", 0}}}},
                          NowMicros());
  REQUIRE(w.engine->UnmanageVolume(vol.id).ok());  // the target is gone
  w.StartRunner();
  REQUIRE(w.runner->RunNow(p).ok());
  w.WaitUntil([&] { return Count(w.Runs(p.id), "error") == 2; },
              "the run and its retry failed");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto runs = w.Runs(p.id);
  REQUIRE(runs.size() == 2);  // one retry, then no more
  CHECK(runs[1].trigger == "manual");
  CHECK(runs[1].attempt == 1);
  CHECK(runs[0].trigger == "retry");
  CHECK(runs[0].attempt == 2);
  for (const auto& r : runs)
    CHECK(r.error.find("volume " + vol.id + " could not be found") !=
          std::string::npos);
}

TEST_CASE("a retry pending at a stop runs after the next start") {
  World w;
  const auto vol = w.Disk("v1");
  const auto p = w.Policy({{"schedule", "2099-01-01"},
                           {"targets", {{"volumes", {vol.id}}}},
                           {"retry", {{"attempts", 2}, {"delay_seconds", 1}}}},
                          NowMicros());
  // The previous stratad's run failed (attempt 1) and it stopped before the
  // retry was due.
  const auto run = w.PastRun(p.id, "error");
  w.StartRunner();
  w.WaitUntil([&] { return Count(w.Runs(p.id), "success") == 1; },
              "the pending retry ran after the start");
  const auto runs = w.Runs(p.id);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].trigger == "retry");
  CHECK(runs[0].attempt == 2);
  CHECK(runs[0].scheduled_at == run.scheduled_at);
  // Its delay counted from the failed run's end.
  CHECK(runs[0].started_at >= run.finished_at + 1000000);
  CHECK(w.PolicySnapshots(p.id).size() == 1);
}

TEST_CASE("runs a stop cut short end as interrupted at the next start") {
  World w;
  const auto vol = w.Disk("v1");
  const auto p = w.Policy(
      {{"schedule", "2099-01-01"}, {"targets", {{"volumes", {vol.id}}}}},
      NowMicros());
  w.PastRun(p.id, "running");
  w.StartRunner();
  const auto runs = w.Runs(p.id);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "error");
  CHECK(runs[0].error == "interrupted by a restart of stratad");
  CHECK(runs[0].finished_at > 0);
}

TEST_CASE("a run waits for a volume busy with another operation") {
  World w;
  const auto vol = w.Disk("v1");
  const auto p = w.Policy(
      {{"schedule", "2099-01-01"}, {"targets", {{"volumes", {vol.id}}}}},
      NowMicros());
  // Another operation holds the volume (a revert: CreateSnapshot answers
  // 409 until it ends).
  auto set_status = [&](const std::string& status) {
    REQUIRE(w.catalog
                ->ModifyVolume(vol.id,
                               [&](db::VolumeRecord& v) {
                                 v.status = status;
                                 return Status::OK();
                               })
                .ok());
  };
  set_status("reverting");
  w.StartRunner();
  auto run = w.runner->RunNow(p);
  REQUIRE(run.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto runs = w.Runs(p.id);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "running");  // waiting, not failed
  CHECK(w.PolicySnapshots(p.id).empty());
  set_status("available");
  w.WaitUntil([&] { return Count(w.Runs(p.id), "running") == 0; },
              "the run ended");
  runs = w.Runs(p.id);
  CHECK(runs[0].status == "success");
  CHECK(w.PolicySnapshots(p.id).size() == 1);
}
