// Fuzz target: reading a stored layer back into a file (engine/layer_form.h):
// the form told by its first bytes, a sparse stream's header, extent table
// and data decoded (util/sparse_stream.h). A store's bytes come from
// outside this host. Input: the first byte picks the Write size (1..256),
// the rest is the stored stream.
#include <algorithm>
#include <cstdint>

#include "engine/layer_form.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  if (size == 0) return 0;
  const size_t chunk = static_cast<size_t>(data[0]) + 1;
  auto file = FileSink::Create(fuzz::ScratchPath());
  if (!file.ok()) abort();
  engine::LayerFileSink sink(file->get(), "");
  const char* p = reinterpret_cast<const char*>(data + 1);
  size_t left = size - 1;
  while (left > 0) {
    const size_t n = std::min(chunk, left);
    if (!sink.Write(p, n).ok()) return 0;  // the temp file goes with `file`
    p += n;
    left -= n;
  }
  (void)sink.Finish();  // refused or whole: never committed here
  return 0;
}
