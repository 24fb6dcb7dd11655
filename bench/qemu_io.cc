// qemu-io batches. See qemu_io.h.
#include "bench/qemu_io.h"

#include "util/subprocess.h"

namespace strata::bench {
namespace {

constexpr char kMismatch[] = "Pattern verification failed";

std::string Command(const char* verb, const DiskWrite& w) {
  return std::string(verb) + " -q -P " + std::to_string(w.pattern) + " " +
         std::to_string(w.offset) + " " + std::to_string(w.length);
}

// The first line of `text` that contains `needle`, else its first line.
std::string LineWith(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) at = 0;
  size_t start = text.rfind('\n', at);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, text.find('\n', start) - start);
}

// One qemu-io process running `verb` for entries [first, first+count).
Result<ProcessResult> RunBatch(const std::string& disk, const char* verb,
                               const std::vector<DiskWrite>& entries,
                               size_t first, size_t count) {
  std::vector<std::string> argv = {"qemu-io", "-f", "qcow2", "-t", "writeback"};
  for (size_t i = first; i < first + count && i < entries.size(); ++i) {
    argv.push_back("-c");
    argv.push_back(Command(verb, entries[i]));
  }
  argv.push_back(disk);
  return RunProcess(argv);
}

// Runs every entry through qemu-io `verb`; an ok result is a clean run.
Status RunAll(const std::string& disk, const char* verb,
              const std::vector<DiskWrite>& entries, size_t batch) {
  if (batch == 0) batch = 1;
  for (size_t first = 0; first < entries.size(); first += batch) {
    STRATA_ASSIGN_OR_RETURN(ProcessResult r,
                            RunBatch(disk, verb, entries, first, batch));
    const std::string said = r.out + r.err;
    if (said.find(kMismatch) != std::string::npos)
      return Status::Corruption(disk + ": " + LineWith(said, kMismatch));
    if (r.exit_code != 0 || said.find("failed") != std::string::npos)
      return Status::IoError("qemu-io " + std::string(verb) + " on " + disk +
                             " failed (exit " + std::to_string(r.exit_code) +
                             "): " + LineWith(said, "failed"));
  }
  return Status::OK();
}

}  // namespace

Status QemuIoWrite(const std::string& disk,
                   const std::vector<DiskWrite>& writes, size_t batch) {
  return RunAll(disk, "write", writes, batch);
}

Status QemuIoVerify(const std::string& disk,
                    const std::vector<DiskWrite>& checks, size_t batch) {
  return RunAll(disk, "read", checks, batch);
}

}  // namespace strata::bench
