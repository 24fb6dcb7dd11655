// qemu-img wrappers. See qemu_img.h.
#include "engine/qemu_img.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "util/fs.h"
#include "util/subprocess.h"

namespace strata::engine {

std::chrono::milliseconds QemuImgTimeout(uint64_t bytes) {
  constexpr auto kFloor = std::chrono::minutes(2);
  constexpr uint64_t kMinBytesPerSecond = 4 << 20;
  return std::chrono::duration_cast<std::chrono::milliseconds>(kFloor) +
         std::chrono::milliseconds(bytes / kMinBytesPerSecond * 1000);
}

namespace {

RunOptions ForBytes(uint64_t bytes) {
  RunOptions o;
  o.timeout = QemuImgTimeout(bytes);
  return o;
}

// The bytes of the files a run reads (a missing one counts 0: qemu-img
// reports it).
uint64_t BytesOf(const std::vector<std::string>& paths) {
  uint64_t total = 0;
  for (const auto& p : paths) {
    auto size = FileSize(p);
    if (size.ok()) total += *size;
  }
  return total;
}

}  // namespace

Status CreateOverlay(const std::string& path, const std::string& backing,
                     const std::string& backing_fmt, uint64_t virtual_size,
                     uint64_t cluster_size) {
  std::vector<std::string> argv = {"qemu-img", "create", "-q", "-f", "qcow2"};
  if (!backing.empty())
    argv.insert(argv.end(), {"-u", "-b", backing, "-F", backing_fmt});
  if (cluster_size)
    argv.insert(argv.end(),
                {"-o", "cluster_size=" + std::to_string(cluster_size)});
  argv.push_back(path);
  argv.push_back(std::to_string(virtual_size));
  return RunChecked(argv, ForBytes(0)).status();
}

Status SetBackingUnsafe(const std::string& path, const std::string& backing,
                        const std::string& backing_fmt, bool flush) {
  std::vector<std::string> argv = {"qemu-img", "rebase", "-q",
                                   "-u",       "-f",     "qcow2"};
  if (!flush) argv.insert(argv.end(), {"-t", "unsafe"});
  if (backing.empty()) {
    argv.insert(argv.end(), {"-b", ""});
  } else {
    argv.insert(argv.end(), {"-b", backing, "-F", backing_fmt});
  }
  argv.push_back(path);
  return RunChecked(argv, ForBytes(0)).status();
}

Status CommitInto(const std::string& top, const std::string& base) {
  return RunChecked(
             {"qemu-img", "commit", "-q", "-f", "qcow2", "-b", base, top},
             ForBytes(BytesOf({top})))
      .status();
}

Status CommitLayersInto(const std::vector<std::string>& layers,
                        const std::string& base, const std::string& scratch_top,
                        uint64_t virtual_size, bool flush) {
  auto file = [](const std::string& path, bool read_only) {
    nlohmann::json f = {{"driver", "file"}, {"filename", path}};
    if (read_only) f["read-only"] = true;
    return f;
  };
  // Built from the base up: base ← layers[0] ← … ← layers.back() ← top.
  nlohmann::json node = {{"driver", "qcow2"}, {"file", file(base, false)}};
  for (const std::string& layer : layers)
    node = {{"driver", "qcow2"},
            {"read-only", true},
            {"file", file(layer, true)},
            {"backing", std::move(node)}};
  node = {{"driver", "qcow2"},
          {"file", file(scratch_top, false)},
          {"backing", std::move(node)}};
  STRATA_RETURN_IF_ERROR(
      CreateOverlay(scratch_top, "", "", virtual_size, /*cluster_size=*/0));
  std::vector<std::string> argv = {"qemu-img", "commit", "-q", "-d"};
  if (!flush) argv.insert(argv.end(), {"-t", "unsafe"});
  argv.insert(argv.end(), {"-b", base, "json:" + node.dump()});
  Status s = RunChecked(argv, ForBytes(BytesOf(layers))).status();
  unlink(scratch_top.c_str());
  return s;
}

Status MergeIntoNewImage(const std::vector<std::string>& layers,
                         const std::string& out, const std::string& backing,
                         const std::string& backing_fmt, uint64_t virtual_size,
                         uint64_t cluster_size, const std::string& scratch_top,
                         bool flush) {
  STRATA_RETURN_IF_ERROR(
      CreateOverlay(out, backing, backing_fmt, virtual_size, cluster_size));
  STRATA_RETURN_IF_ERROR(
      CommitLayersInto(layers, out, scratch_top, virtual_size, flush));
  return CheckImage(out);
}

Status CheckImage(const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(
      ProcessResult r,
      RunProcess({"qemu-img", "check", "-q", "-f", "qcow2", path},
                 ForBytes(BytesOf({path}))));
  // 0: clean; 3: leaked clusters only (harmless). 2: corruption; 1: error.
  if (r.exit_code == 0 || r.exit_code == 3) return Status::OK();
  return Status::Corruption("qemu-img check " + path + " failed (exit " +
                            std::to_string(r.exit_code) + "): " + r.err +
                            r.out);
}

}  // namespace strata::engine
