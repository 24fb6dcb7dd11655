// The benchmark's parameters and their command-line flags.
//
// Defaults are the full run (2 GiB disk, 512 MiB of data, 8 rounds of
// 64 MiB); --quick shrinks them to a one-minute smoke test. Flags after
// --quick override its values.
//
// Thread-safety: values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "util/status.h"

namespace strata::bench {

struct BenchConfig {
  uint64_t disk_bytes = uint64_t{2} << 30;    // virtual size of the disk
  uint64_t data_bytes = uint64_t{512} << 20;  // filled before snapshot #1
  uint64_t fill_chunk = uint64_t{64} << 20;   // bytes per fill write
  uint64_t round_bytes = uint64_t{64} << 20;  // written between snapshots
  int rounds = 8;
  int verify_samples = 64;  // 64 KiB regions read back per check
  int rollback_reps = 3;    // timed runs per rollback row (median shown)
  size_t batch = 512;       // qemu-io commands per process
  uint64_t seed = 20261122;
  std::string parent_dir = "/var/tmp";  // where the temp dir is made
  std::string json_path;                // --json FILE; empty: none
  std::string patterns;  // --patterns a,s4,…: the rows run; empty: all
  bool quick = false;
  bool keep = false;     // leave the temp dir in place
  bool verbose = false;  // the engine's info log on stderr
};

// Parses argv. InvalidArgument names the bad flag. `*help` is set (and the
// result is the defaults) when --help was given.
Result<BenchConfig> ParseFlags(int argc, char** argv, bool* help);

// The flags, one per line, for --help.
const char* UsageText();

}  // namespace strata::bench
