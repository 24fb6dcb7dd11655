// Fuzz target: the qcow2 header reader (qcow2/qcow2_header.h) and the
// checks a backing file name goes through before anything is opened
// (engine/confinement.h). Input: the first bytes of an image.
#include <cstdint>
#include <string_view>

#include "engine/confinement.h"
#include "qcow2/qcow2_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  using engine::Confinement;
  const std::string_view head(reinterpret_cast<const char*>(data), size);
  // As read from a file of exactly this size, and as the head of a larger
  // one (the rest not read).
  for (uint64_t file_size : {uint64_t{size}, uint64_t{size} + (1u << 20)}) {
    auto h = qcow2::ParseQcow2Header(head, file_size);
    if (h.ok() && !h->backing_file.empty())
      (void)Confinement::CheckBackingName(h->backing_file, "fuzz");
  }
  return 0;
}
