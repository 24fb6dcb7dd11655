// The write history behind R0.11's forecast (and R0.3's sizing without a
// caller's rate): counts per time-of-day slot, periods closed as the clock
// crosses slot boundaries (quiet ones with zero writes, the partial first
// one not at all), the forecast as the mean of the touched slots' averages
// scaled to the window, and persistence through a real SQLite catalog that
// is closed and opened again. Clocks are set by hand: nothing sleeps.
#include "cache/write_history.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <string>

#include "cache/catalog_history_sink.h"
#include "db/catalog.h"
#include "memory_history_sink.h"
#include "temp_dir.h"
#include "util/fs.h"

using namespace strata;
using namespace strata::cache;
using strata::cache::testing::ManualClock;
using strata::cache::testing::MemoryHistorySink;

using strata::testing::TempDir;

namespace {

constexpr uint32_t kSlot = 900;  // 96 slots a day

std::unique_ptr<WriteHistory> OpenHistory(
    std::shared_ptr<WriteHistorySink> sink, const ManualClock& clock,
    const std::string& name = "vm1", uint32_t slot_seconds = kSlot) {
  WriteHistory::Options o;
  o.slot_seconds = slot_seconds;
  o.now_micros = clock.Fn();
  o.persist_in_background = false;
  auto h = WriteHistory::Open(name, std::move(sink), o);
  REQUIRE_MESSAGE(h.ok(), h.status().ToString());
  return std::move(*h);
}

void Writes(WriteHistory& h, int n, uint64_t bytes_each) {
  for (int i = 0; i < n; ++i) h.NoteWrite(bytes_each);
}

}  // namespace

TEST_CASE("write history: a slot length must divide a day") {
  auto sink = std::make_shared<MemoryHistorySink>();
  ManualClock clock;
  for (uint32_t bad : {0u, 7u, 1000u, 86401u}) {
    WriteHistory::Options o;
    o.slot_seconds = bad;
    o.now_micros = clock.Fn();
    o.persist_in_background = false;
    CHECK(WriteHistory::Open("vm1", sink, o).status().code() ==
          StatusCode::kInvalidArgument);
  }
  auto h = OpenHistory(sink, clock, "vm1", 86400);
  CHECK(h->slots_per_day() == 1);
  CHECK(OpenHistory(sink, clock)->slots_per_day() == 96);
}

TEST_CASE("write history: periods close at slot boundaries (R0.11)") {
  auto sink = std::make_shared<MemoryHistorySink>();
  ManualClock clock;  // exactly at slot 0's start: its period is whole
  auto h = OpenHistory(sink, clock);
  Writes(*h, 30, 100);
  clock.SetSeconds(899.999999);  // the last µs of slot 0
  Writes(*h, 2, 50);
  CHECK(h->SlotTotals(0).periods == 0);  // still open
  clock.SetSeconds(900);                 // slot 1 begins: slot 0 closes
  WriteSlotTotals s0 = h->SlotTotals(0);
  CHECK(s0.periods == 1);
  CHECK(s0.writes == 32);
  CHECK(s0.bytes == 30 * 100 + 2 * 50);
  Writes(*h, 5, 10);
  // Three quiet slots passed without a write: each one period of 0.
  clock.SetSeconds(5 * 900 + 1);
  Writes(*h, 1, 1);
  CHECK(h->SlotTotals(1).writes == 5);
  for (uint32_t s : {2u, 3u, 4u}) {
    CHECK(h->SlotTotals(s).periods == 1);
    CHECK(h->SlotTotals(s).writes == 0);
  }
  CHECK(h->SlotTotals(5).periods == 0);  // open
  // Most of a day without writes: slots 6..95 and 0..4 get a quiet period
  // each; slot 5's period of yesterday is closed, today's is open.
  clock.SetSeconds(86400 + 5 * 900 + 7);
  CHECK(h->SlotTotals(5).periods == 1);
  CHECK(h->SlotTotals(5).writes == 1);
  CHECK(h->SlotTotals(0).periods == 2);  // yesterday's 32 and today's 0
  CHECK(h->SlotTotals(0).writes == 32);
  CHECK(h->SlotTotals(95).periods == 1);
  CHECK(h->SlotTotals(6).periods == 1);
  // Two more days: every slot gets two more periods (slot 5: the one left
  // open, closed with 0 writes, and one quiet).
  clock.SetSeconds(3 * 86400 + 5 * 900 + 7);
  CHECK(h->SlotTotals(5).periods == 3);
  CHECK(h->SlotTotals(6).periods == 3);
  CHECK(h->SlotTotals(0).periods == 4);
  CHECK(h->SlotTotals(0).writes == 32);
  // A clock that steps back changes nothing.
  clock.SetSeconds(100);
  Writes(*h, 3, 1);
  CHECK(h->SlotTotals(0).periods == 4);
  CHECK(h->SlotTotals(0).writes == 32);
}

TEST_CASE("write history: the period it starts in, seen in part, is not kept") {
  auto sink = std::make_shared<MemoryHistorySink>();
  ManualClock clock;
  clock.SetSeconds(450);  // half-way through slot 0
  auto h = OpenHistory(sink, clock);
  Writes(*h, 10, 1);
  clock.SetSeconds(900);
  Writes(*h, 4, 1);
  CHECK(h->SlotTotals(0).periods == 0);  // would understate slot 0
  clock.SetSeconds(1800);
  CHECK(h->SlotTotals(1).periods == 1);  // entered at its start: whole
  CHECK(h->SlotTotals(1).writes == 4);
}

TEST_CASE(
    "write history: the forecast is the mean of the touched slots' averages, "
    "scaled to the window (R0.11, R0.3)") {
  auto sink = std::make_shared<MemoryHistorySink>();
  sink->Put("vm1", kSlot, 0, {2, 200, 2000});  // 100 writes a period
  sink->Put("vm1", kSlot, 1, {1, 300, 3000});  // 300
  sink->Put("vm1", kSlot, 2, {4, 0, 0});       // quiet
  sink->Put("vm1", kSlot, 95, {1, 900, 9});    // the day's last slot
  sink->Put("vm2", kSlot, 0, {1, 5, 5});       // another export
  ManualClock clock;
  // A fresh history at each instant, so that no period closes between the
  // checks (the clock never moves under one).
  auto at = [&](double seconds_after_day0, double window,
                const std::string& name = "vm1") {
    clock.SetSeconds(seconds_after_day0);
    return OpenHistory(sink, clock, name)->Forecast(window);
  };

  WriteForecast f = at(0, 900);  // exactly slot 0
  CHECK(f.slots == 1);
  CHECK(f.slots_with_history == 1);
  CHECK(f.writes == doctest::Approx(100));
  CHECK(f.bytes == doctest::Approx(1000));
  CHECK(at(0, 450).writes == doctest::Approx(50));  // half a slot
  // Two slots: mean (100 + 300) / 2 = 200 a slot, over two slots' time.
  f = at(0, 1800);
  CHECK(f.slots == 2);
  CHECK(f.writes == doctest::Approx(400));
  CHECK(f.bytes == doctest::Approx(4000));
  // Three slots, the quiet one included: (100 + 300 + 0) / 3 × 3.
  f = at(0, 2700);
  CHECK(f.slots == 3);
  CHECK(f.slots_with_history == 3);
  CHECK(f.writes == doctest::Approx(400));
  // A window of one slot's length from mid-slot touches two slots.
  f = at(450, 900);
  CHECK(f.slots == 2);
  CHECK(f.writes == doctest::Approx(200));
  // A window ending exactly at a boundary does not touch the next slot.
  f = at(900, 900);
  CHECK(f.slots == 1);
  CHECK(f.writes == doctest::Approx(300));
  // Across midnight: slot 95 and the next day's slot 0.
  f = at(86400 - 60, 120);
  CHECK(f.slots == 2);
  CHECK(f.writes == doctest::Approx((900 + 100) / 2.0 * 120 / 900));
  // Any day: slot 1 of day 3 is slot 1.
  CHECK(at(3 * 86400 + 900, 900).writes == doctest::Approx(300));
  // A window over more than a day touches each slot once.
  CHECK(at(0, 3 * 86400).slots == 96);
  // A slot without history counts as 0 in the mean, as a quiet one does:
  // slots 2 (quiet) and 3 (none) → 0; slots 1, 2 and 3 → (300 + 0 + 0) / 3
  // a slot, over three slots' time.
  f = at(1800, 1800);
  CHECK(f.slots_with_history == 1);
  CHECK(f.writes == 0);
  f = at(900, 2700);
  CHECK(f.slots_with_history == 2);
  CHECK(f.writes == doctest::Approx(300));
  // No history at all: 0, and it says so.
  f = at(10 * 900, 600);
  CHECK(f.writes == 0);
  CHECK(f.bytes == 0);
  CHECK(f.slots_with_history == 0);
  CHECK(at(0, 900, "vm3").writes == 0);
  CHECK(at(0, 0).writes == 0);
  CHECK(at(0, -5).writes == 0);
}

TEST_CASE("write history: what it observed feeds the next day's forecast") {
  auto sink = std::make_shared<MemoryHistorySink>();
  ManualClock clock;
  auto h = OpenHistory(sink, clock);
  Writes(*h, 90, 4096);     // slot 0, day 0
  clock.SetSeconds(86400);  // slot 0, day 1: 95 quiet periods in between
  WriteForecast f = h->Forecast(300);
  CHECK(f.slots_with_history == 1);
  CHECK(f.writes == doctest::Approx(90.0 * 300 / 900));
  CHECK(f.bytes == doctest::Approx(90.0 * 4096 * 300 / 900));
  Writes(*h, 30, 4096);  // day 1 is quieter: the average falls to 60
  clock.SetSeconds(2 * 86400);
  CHECK(h->Forecast(900).writes == doctest::Approx(60));
}

TEST_CASE("write history: a failed persist is kept and retried") {
  auto sink = std::make_shared<MemoryHistorySink>();
  ManualClock clock;
  auto h = OpenHistory(sink, clock);
  Writes(*h, 7, 1);
  clock.SetSeconds(900);
  sink->SetFailing(true);
  CHECK_FALSE(h->Persist().ok());
  Writes(*h, 3, 1);
  clock.SetSeconds(1800);
  sink->SetFailing(false);
  REQUIRE(h->Persist().ok());
  auto stored = sink->LoadSlots("vm1", kSlot);
  REQUIRE(stored.ok());
  CHECK((*stored)[0].periods == 1);
  CHECK((*stored)[0].writes == 7);
  CHECK((*stored)[1].writes == 3);
  // Nothing new: no call to the sink.
  const int adds = sink->adds();
  REQUIRE(h->Persist().ok());
  CHECK(sink->adds() == adds);
}

TEST_CASE(
    "write history: kept in the catalog, it survives closing and reopening "
    "(R0.11)") {
  TempDir dir;
  const std::string db_path = dir.path + "/catalog.db";
  ManualClock clock;
  {
    auto cat = db::Catalog::Open(db_path);
    REQUIRE_MESSAGE(cat.ok(), cat.status().ToString());
    auto h = OpenHistory(MakeCatalogHistorySink(cat->get()), clock);
    Writes(*h, 40, 512);  // slot 0
    clock.SetSeconds(900);
    Writes(*h, 10, 512);     // slot 1
    clock.SetSeconds(2700);  // slot 2 passed quietly; slot 3 open
    REQUIRE(h->Persist().ok());
    Writes(*h, 8, 1);
    clock.SetSeconds(3600);  // slot 3 closed: the destructor persists it
  }
  {
    auto cat = db::Catalog::Open(db_path);
    REQUIRE(cat.ok());
    auto rows = (*cat)->WriteHistoryOf("vm1", kSlot);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 4);
    CHECK((*rows)[0].slot == 0);
    CHECK((*rows)[0].periods == 1);
    CHECK((*rows)[0].writes == 40);
    CHECK((*rows)[0].bytes == 40 * 512);
    CHECK((*rows)[2].writes == 0);
    CHECK((*rows)[3].writes == 8);
    // Another slot length is another history.
    CHECK((*cat)->WriteHistoryOf("vm1", 3600)->empty());

    clock.SetSeconds(86400);  // the next day's slot 0
    auto h = OpenHistory(MakeCatalogHistorySink(cat->get()), clock);
    CHECK(h->SlotTotals(1).writes == 10);
    CHECK(h->Forecast(900).writes == doctest::Approx(40));
    CHECK(h->Forecast(1800).writes == doctest::Approx(40 + 10));
    CHECK(OpenHistory(MakeCatalogHistorySink(cat->get()), clock, "vm2")
              ->Forecast(900)
              .slots_with_history == 0);
  }
}

TEST_CASE("write history: the background thread persists and stops cleanly") {
  // Only that a history with its thread starts and is destroyed without
  // hanging, and that the destructor's persist reaches the sink: the
  // thread's wake-ups follow the real clock and are not waited for.
  auto sink = std::make_shared<MemoryHistorySink>();
  ManualClock clock;
  {
    WriteHistory::Options o;
    o.slot_seconds = kSlot;
    o.now_micros = clock.Fn();
    auto h = WriteHistory::Open("vm1", sink, o);
    REQUIRE(h.ok());
    Writes(**h, 12, 1);
    clock.SetSeconds(900);
  }
  auto stored = sink->LoadSlots("vm1", kSlot);
  REQUIRE(stored.ok());
  CHECK((*stored)[0].writes == 12);
}
