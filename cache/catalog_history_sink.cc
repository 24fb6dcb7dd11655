// The catalog-backed WriteHistorySink. See catalog_history_sink.h.
#include "cache/catalog_history_sink.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace strata::cache {
namespace {

// SQLite stores signed 64-bit integers; sums past that are clamped (they
// would take centuries of writes to reach).
int64_t ToSql(uint64_t v) {
  return static_cast<int64_t>(
      std::min<uint64_t>(v, std::numeric_limits<int64_t>::max()));
}

class CatalogHistorySink : public WriteHistorySink {
 public:
  explicit CatalogHistorySink(db::Catalog* catalog) : catalog_(catalog) {}

  Status AddSlotPeriods(const std::string& export_name, uint32_t slot_seconds,
                        const WriteSlotMap& deltas) override {
    std::vector<db::WriteSlotRecord> rows;
    rows.reserve(deltas.size());
    for (const auto& [slot, t] : deltas)
      rows.push_back({slot, ToSql(t.periods), ToSql(t.writes), ToSql(t.bytes)});
    return catalog_->AddWriteHistory(export_name, slot_seconds, rows);
  }

  Result<WriteSlotMap> LoadSlots(const std::string& export_name,
                                 uint32_t slot_seconds) override {
    STRATA_ASSIGN_OR_RETURN(
        std::vector<db::WriteSlotRecord> rows,
        catalog_->WriteHistoryOf(export_name, slot_seconds));
    WriteSlotMap out;
    for (const db::WriteSlotRecord& r : rows)
      out[static_cast<uint32_t>(r.slot)] = {static_cast<uint64_t>(r.periods),
                                            static_cast<uint64_t>(r.writes),
                                            static_cast<uint64_t>(r.bytes)};
    return out;
  }

 private:
  db::Catalog* const catalog_;
};

}  // namespace

std::shared_ptr<WriteHistorySink> MakeCatalogHistorySink(db::Catalog* catalog) {
  return std::make_shared<CatalogHistorySink>(catalog);
}

}  // namespace strata::cache
