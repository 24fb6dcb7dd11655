// Fuzz target: the chain reader (engine/chain.h) on a file holding the
// input, confined to the scratch directory: whatever the header names as
// its backing file (absolute, relative, "..", json:, protocols), nothing
// outside may be opened.
#include <cstdint>

#include "engine/chain.h"
#include "fuzz/fuzz_util.h"
#include "util/fs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  fuzz::WriteScratch(data, size);
  const std::string& path = fuzz::ScratchPath();
  static const engine::Confinement confinement({DirName(path)}, {});
  auto chain = engine::ReadChain(path, path, confinement);
  if (chain.ok() && chain->length() > 1) {
    // Every layer it accepted lies in the scratch directory.
    for (const auto& l : chain->layers)
      if (!IsUnderDir(l.path, DirName(path))) __builtin_trap();
  }
  return 0;
}
