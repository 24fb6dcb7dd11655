// GroupCutGate (engine/group_hold.h, issue 22): the phases of one host's
// part of a group cut, a worker thread playing group_cut.cc's part and the
// test the driver's. The deadline cases wait on the gate itself, never on
// a guess of how long a step takes.
#include "engine/group_hold.h"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "util/fs.h"

using namespace strata;
using namespace strata::engine;

namespace {

HoldClock::time_point In(int ms) {
  return HoldClock::now() + std::chrono::milliseconds(ms);
}

// group_cut.cc's sequence, minus the domains: what the worker saw.
struct Worker {
  bool cut_asked = false, release_in_time = false;
  HoldClock::time_point cut_returned{};
  void Run(GroupCutGate& g) {
    g.Held({"dom-1"});
    cut_asked = g.AwaitCut();
    cut_returned = HoldClock::now();
    if (!cut_asked) {
      g.Ended("expired", Status::Conflict("no cut in time"), 1.0);
      return;
    }
    g.Cut();
    release_in_time = g.AwaitRelease();
    g.Released(release_in_time, 2.0);
  }
};

}  // namespace

TEST_CASE("hold, cut, release in time: released, held through") {
  GroupCutGate g("gs-1", /*driven=*/true, In(60000));
  g.SetMembers({"snap-a", "snap-b"});
  Worker w;
  std::thread t([&] { w.Run(g); });
  GroupCutReport held = g.AwaitHeld();
  CHECK(held.phase == "held");
  CHECK(held.domains == std::vector<std::string>{"dom-1"});
  auto cut = g.RequestCut();
  REQUIRE(cut.ok());
  CHECK(cut->phase == "cut");
  CHECK(cut->cut_at > 0);
  auto rel = g.RequestRelease();
  REQUIRE(rel.ok());
  t.join();
  CHECK(rel->phase == "released");
  CHECK(rel->held_through);
  CHECK(rel->snapshot_ids.size() == 2);
  CHECK(g.Finished());
}

TEST_CASE(
    "no cut before the deadline: the hold ends by itself; a late cut is "
    "refused") {
  const auto deadline = In(300);
  GroupCutGate g("gs-2", true, deadline);
  Worker w;
  std::thread t([&] { w.Run(g); });
  CHECK(g.AwaitHeld().phase == "held");
  t.join();  // the worker ends on its own: nobody asks for the cut
  CHECK_FALSE(w.cut_asked);
  CHECK(w.cut_returned >= deadline);
  auto late = g.RequestCut();
  CHECK(late.status().IsConflict());
  CHECK(g.Report().phase == "expired");
  CHECK_FALSE(g.Report().held_through);
}

TEST_CASE("cut in time, release past the deadline: not held through") {
  const auto deadline = In(300);
  GroupCutGate g("gs-3", true, deadline);
  Worker w;
  std::thread t([&] { w.Run(g); });
  CHECK(g.AwaitHeld().phase == "held");
  REQUIRE(g.RequestCut().ok());
  t.join();  // released at the deadline, the release never asked for
  CHECK_FALSE(w.release_in_time);
  auto rel = g.RequestRelease();
  REQUIRE(rel.ok());
  CHECK(rel->phase == "expired");
  CHECK_FALSE(rel->held_through);
  CHECK(rel->error.find("deadline") != std::string::npos);
}

TEST_CASE("abort while held: aborted, the worker stops waiting at once") {
  GroupCutGate g("gs-4", true, In(60000));
  Worker w;
  std::thread t([&] { w.Run(g); });
  CHECK(g.AwaitHeld().phase == "held");
  GroupCutReport r = g.RequestAbort();
  t.join();
  CHECK(r.phase == "aborted");
  CHECK_FALSE(w.cut_asked);
  CHECK(w.cut_returned < g.deadline());
  CHECK(g.RequestCut().status().IsConflict());
}

TEST_CASE("abort after the cut: aborted, not held through") {
  GroupCutGate g("gs-5", true, In(60000));
  Worker w;
  std::thread t([&] { w.Run(g); });
  CHECK(g.AwaitHeld().phase == "held");
  REQUIRE(g.RequestCut().ok());
  GroupCutReport r = g.RequestAbort();
  t.join();
  CHECK(r.phase == "aborted");
  CHECK_FALSE(r.held_through);
}

TEST_CASE("a cut asked for before the hold is taken is refused") {
  GroupCutGate g("gs-6", true, In(60000));
  CHECK(g.RequestCut().status().IsConflict());
  CHECK(g.RequestRelease().status().IsConflict());
}

TEST_CASE(
    "an undriven gate runs its phases at once (a single-host group snapshot)") {
  GroupCutGate g("gs-7", /*driven=*/false, In(60000));
  Worker w;
  w.Run(g);  // would block until the deadline if it waited for requests
  CHECK(w.cut_asked);
  CHECK(w.release_in_time);
  CHECK(g.Report().phase == "released");
  CHECK(g.Report().held_through);
}

TEST_CASE("a guard with no command starts nothing") {
  HoldGuard guard;
  CHECK(guard.Arm({}, In(1000), {"dom-1"}).ok());
  CHECK(guard.pid() == -1);
  guard.Disarm();
}

// The guard's side of the pipe, played by a shell that records what it
// read before its stdin closed.
TEST_CASE("the guard hears 'released' on Disarm, and nothing on Detach") {
  char dir_tmpl[] = "/tmp/holdguard.XXXXXX";
  REQUIRE(mkdtemp(dir_tmpl) != nullptr);
  const std::string dir = dir_tmpl;
  auto run = [&](const std::string& out, bool disarm) {
    HoldGuard guard;
    REQUIRE(guard
                .Arm({"/bin/sh", "-c",
                      "read line; echo \"got:$line args:$#\" > " + out, "sh"},
                     In(60000), {"dom-1", "dom-2"})
                .ok());
    REQUIRE(guard.pid() > 0);
    const pid_t pid = guard.pid();
    if (disarm) {
      guard.Disarm();  // waits for it
    } else {
      guard.Detach();
      int status = 0;
      REQUIRE(waitpid(pid, &status, 0) == pid);  // it ends on EOF
    }
    auto got = ReadSmallFile(out);
    REQUIRE(got.ok());
    return *got;
  };
  // The deadline and both domains follow the command.
  CHECK(run(dir + "/disarmed", true) == "got:released args:3\n");
  CHECK(run(dir + "/detached", false) == "got: args:3\n");
  std::filesystem::remove_all(dir);
}
