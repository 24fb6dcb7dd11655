// Flag parsing for snapshot_bench. See bench_config.h.
#include "bench/bench_config.h"

#include <cstdlib>
#include <string_view>

namespace strata::bench {
namespace {

void ApplyQuick(BenchConfig& c) {
  c.quick = true;
  c.disk_bytes = uint64_t{256} << 20;
  c.data_bytes = uint64_t{64} << 20;
  c.fill_chunk = uint64_t{16} << 20;
  c.round_bytes = uint64_t{8} << 20;
  c.rounds = 4;
  c.rollback_reps = 1;
}

// The value after a flag, or InvalidArgument when it is missing.
Result<std::string> TakeValue(int argc, char** argv, int* i) {
  if (*i + 1 >= argc)
    return Status::InvalidArgument(std::string(argv[*i]) + " needs a value");
  return std::string(argv[++*i]);
}

Result<long long> ParseCount(const std::string& flag, const std::string& v,
                             long long lo, long long hi) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < lo || n > hi)
    return Status::InvalidArgument(flag + " wants a number in [" +
                                   std::to_string(lo) + ", " +
                                   std::to_string(hi) + "], got '" + v + "'");
  return n;
}

// Applies one flag that takes a value.
Status ApplyValue(BenchConfig& c, std::string_view flag, const std::string& v) {
  if (flag == "--rounds") {
    STRATA_ASSIGN_OR_RETURN(long long n, ParseCount("--rounds", v, 1, 64));
    c.rounds = static_cast<int>(n);
  } else if (flag == "--dir") {
    c.parent_dir = v;
  } else if (flag == "--json") {
    c.json_path = v;
  } else if (flag == "--patterns") {
    c.patterns = v;
  } else if (flag == "--seed") {
    STRATA_ASSIGN_OR_RETURN(long long n,
                            ParseCount("--seed", v, 0, (1LL << 62)));
    c.seed = static_cast<uint64_t>(n);
  } else if (flag == "--reps") {
    STRATA_ASSIGN_OR_RETURN(long long n, ParseCount("--reps", v, 1, 99));
    c.rollback_reps = static_cast<int>(n);
  } else if (flag == "--samples") {
    STRATA_ASSIGN_OR_RETURN(long long n, ParseCount("--samples", v, 1, 4096));
    c.verify_samples = static_cast<int>(n);
  } else {
    return Status::InvalidArgument("unknown flag " + std::string(flag) +
                                   " (see --help)");
  }
  return Status::OK();
}

}  // namespace

Result<BenchConfig> ParseFlags(int argc, char** argv, bool* help) {
  BenchConfig c;
  *help = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      *help = true;
    } else if (flag == "--quick") {
      ApplyQuick(c);
    } else if (flag == "--keep") {
      c.keep = true;
    } else if (flag == "--verbose") {
      c.verbose = true;
    } else {
      STRATA_ASSIGN_OR_RETURN(std::string v, TakeValue(argc, argv, &i));
      STRATA_RETURN_IF_ERROR(ApplyValue(c, flag, v));
    }
  }
  return c;
}

const char* UsageText() {
  return "usage: snapshot_bench [flags]\n"
         "  --quick        smoke test: 256 MiB disk, 64 MiB data, 8 MiB per\n"
         "                 round, 4 rounds (about a minute)\n"
         "  --rounds N     incremental snapshots per pattern (default 8)\n"
         "  --dir DIR      parent of the temp dir (default /var/tmp)\n"
         "  --json FILE    also write every table as JSON to FILE\n"
         "  --patterns L   run only these rows, a comma list (a,s4,…);\n"
         "                 the rollback section runs with row a\n"
         "  --seed N       seed of the random write offsets\n"
         "  --samples N    64 KiB regions read back per check (default 64)\n"
         "  --reps N       timed runs per rollback row, median shown (default\n"
         "                 3; 1 after --quick)\n"
         "  --keep         leave the temp dir in place\n"
         "  --verbose      show the engine's log on stderr\n";
}

}  // namespace strata::bench
