// Setup: the qcow2 image with real allocated data that every section starts
// from. See sections.h.
#include <iostream>

#include "bench/qemu_io.h"
#include "bench/sections.h"
#include "util/fs.h"
#include "util/subprocess.h"
#include "util/time_util.h"

namespace strata::bench {

void Progress(const std::string& line) {
  std::cerr << "[bench] " << line << std::endl;
}

Result<BenchImage> BuildImage(const BenchConfig& cfg, const std::string& dir) {
  BenchImage image{JoinPath(dir, "image.qcow2"), DiskModel(cfg.disk_bytes)};
  int64_t start = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(
      RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", image.path,
                  std::to_string(cfg.disk_bytes)})
          .status());
  image.create_us = MonotonicMicros() - start;

  std::vector<DiskWrite> fill = FillWrites(cfg.data_bytes, cfg.fill_chunk);
  start = MonotonicMicros();
  STRATA_RETURN_IF_ERROR(QemuIoWrite(image.path, fill, cfg.batch));
  image.fill_us = MonotonicMicros() - start;
  image.content.Apply(fill);

  // The data must really be allocated in the file, not just described.
  STRATA_ASSIGN_OR_RETURN(uint64_t allocated, AllocatedBytes(image.path));
  if (allocated < cfg.data_bytes)
    return Status::Internal(image.path + " holds only " +
                            std::to_string(allocated) +
                            " bytes after the fill");
  Progress("image: " + std::to_string(cfg.disk_bytes >> 20) + " MiB qcow2, " +
           std::to_string(cfg.data_bytes >> 20) + " MiB of data written in " +
           std::to_string(image.fill_us / 1000) + " ms");
  return image;
}

}  // namespace strata::bench
