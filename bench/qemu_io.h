// Writing and checking disk data with qemu-io, many commands per process.
//
// One qemu-io process per `batch` commands (`-c` each) keeps the cost of
// opening the qcow2 chain out of the measurement's way: 16384 small writes
// take a few seconds instead of minutes. Writes use cache=writeback, as a VM
// would; qemu-io flushes when it exits, so the data is in the file before the
// call returns.
//
// Thread-safety: stateless; the disk must not be open elsewhere meanwhile.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bench/disk_model.h"
#include "util/status.h"

namespace strata::bench {

// Runs `write -P` for every entry. IoError when qemu-io reports a failure.
Status QemuIoWrite(const std::string& disk,
                   const std::vector<DiskWrite>& writes, size_t batch);

// Runs `read -P` for every entry. Corruption naming the first mismatch when
// the disk does not hold the pattern; IoError when qemu-io fails otherwise.
Status QemuIoVerify(const std::string& disk,
                    const std::vector<DiskWrite>& checks, size_t batch);

}  // namespace strata::bench
