// Test helper (tests/integration/test-memory-stream.sh, issue 21): takes a
// running domain's memory into a region with engine::TakeMemorySnapshot,
// the way stratad will, and prints what it measured as JSON.
//   memsnap_take URI DOMAIN REGION [DOWNTIME_MS [MAX_PASSES]]
// REGION: a new file, or a block device (then not fresh).
//   memsnap_take --restore URI REGION FIFO_DIR
// starts the domain REGION holds again with engine::RestoreMemorySnapshot,
// as stratad's restore does (its FIFO in FIFO_DIR), and prints how long
// that took.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/memory_snapshot.h"
#include "hypervisor/libvirt_hypervisor.h"

using namespace strata;

namespace {

Result<std::unique_ptr<hypervisor::LibvirtHypervisor>> Connect(
    const char* uri) {
  hypervisor::LibvirtConnectionOptions o;
  o.uri = uri;
  return hypervisor::LibvirtHypervisor::Connect(o);
}

}  // namespace

int Restore(char** argv) {
  auto hv = Connect(argv[2]);
  if (!hv.ok()) {
    std::fprintf(stderr, "%s\n", hv.status().ToString().c_str());
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  Status s = engine::RestoreMemorySnapshot(hv->get(), argv[3], argv[4]);
  const std::chrono::duration<double, std::milli> took =
      std::chrono::steady_clock::now() - t0;
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("%s\n",
              nlohmann::json{{"restore_ms", took.count()}}.dump().c_str());
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--restore") return Restore(argv);
  if (argc < 4 || argc > 6) {
    std::fprintf(stderr,
                 "usage: %s URI DOMAIN REGION [DOWNTIME_MS [MAX_PASSES]]\n",
                 argv[0]);
    return 2;
  }
  auto hv = Connect(argv[1]);
  if (!hv.ok()) {
    std::fprintf(stderr, "%s\n", hv.status().ToString().c_str());
    return 1;
  }
  auto dom = (*hv)->GetDomain(argv[2]);
  if (!dom.ok()) {
    std::fprintf(stderr, "%s\n", dom.status().ToString().c_str());
    return 1;
  }
  struct stat before;
  const bool device = stat(argv[3], &before) == 0 && S_ISBLK(before.st_mode);
  UniqueFd fd(open(
      argv[3], O_RDWR | O_CLOEXEC | (device ? 0 : O_CREAT | O_TRUNC), 0600));
  if (!fd.valid()) {
    std::perror(argv[3]);
    return 1;
  }
  hypervisor::MigrationTuning tuning;
  if (argc >= 5) tuning.downtime_limit_ms = std::stoll(argv[4]);
  if (argc >= 6) tuning.max_passes = std::stoll(argv[5]);
  auto r = engine::TakeMemorySnapshot(hv->get(), dom->uuid, fd.get(), argv[3],
                                      /*fresh=*/!device, tuning);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    return 1;
  }
  struct stat st;
  fstat(fd.get(), &st);
  std::printf(
      "%s\n",
      nlohmann::json{{"region_bytes", device ? r->layout.bytes : st.st_size},
                     {"allocated_bytes", st.st_blocks * 512},
                     {"slots", r->layout.pages},
                     {"pages", r->stream.pages},
                     {"zero_pages", r->stream.zero_pages},
                     {"stream_bytes", r->stream.bytes},
                     {"qemu_status", r->qemu.status},
                     {"qemu_downtime_ms", r->qemu.downtime_ms},
                     {"dirty_syncs", r->qemu.dirty_syncs},
                     {"resume_ms", r->resume_ms},
                     {"forced_pause", r->forced_pause},
                     {"remaining_at_pause", r->remaining_at_pause},
                     {"vm_paused_ms", r->vm_paused_ms},
                     {"total_ms", r->total_ms}}
          .dump()
          .c_str());
  return 0;
}
