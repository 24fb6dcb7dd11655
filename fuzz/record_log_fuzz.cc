// Fuzz target: the redirect cache's record log scan (cache/record_log.h),
// which replays a log a crash left: headers, records, CRCs, a torn tail.
// Input: the log file's bytes.
#include <cstdint>
#include <vector>

#include "cache/record_log.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  fuzz::WriteScratch(data, size);
  auto log = cache::RecordLog::Open(fuzz::ScratchPath(), 16 << 20);
  if (!log.ok()) return 0;
  auto records = (*log)->Scan();
  if (!records.ok()) return 0;
  std::vector<char> buf(4096);
  for (const auto& r : *records) {
    const uint32_t n = r.length < buf.size() ? r.length : buf.size();
    if (n > 0) (void)(*log)->ReadData(r, 0, buf.data(), n);
  }
  return 0;
}
