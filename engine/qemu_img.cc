// qemu-img wrappers. See qemu_img.h.
#include "engine/qemu_img.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/space_reserve.h"
#include "util/subprocess.h"

namespace strata::engine {

std::chrono::milliseconds QemuImgTimeout(uint64_t bytes) {
  constexpr auto kFloor = std::chrono::minutes(2);
  constexpr uint64_t kMinBytesPerSecond = 4 << 20;
  return std::chrono::duration_cast<std::chrono::milliseconds>(kFloor) +
         std::chrono::milliseconds(bytes / kMinBytesPerSecond * 1000);
}

namespace {

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

// The files of one qemu-img run, opened here and handed over as
// /proc/self/fd/N (qemu_img.h). qemu-img re-opens that magic link, which
// names the inode this process opened, whatever its path has become.
class HandedFiles {
 public:
  explicit HandedFiles(uint64_t bytes) {
    opts_.timeout = QemuImgTimeout(bytes);
  }

  // `path` opened with `flags` (OpenFileNoSymlinks); the name qemu-img is
  // to use for it.
  Result<std::string> Add(const std::string& path, int flags) {
    STRATA_ASSIGN_OR_RETURN(UniqueFd fd, OpenFileNoSymlinks(path, flags));
    std::string name = "/proc/self/fd/" + std::to_string(fd.get());
    opts_.inherit_fds.push_back(fd.get());
    names_.emplace_back(name, path);
    fds_.push_back(std::move(fd));
    return name;
  }

  // The descriptor of the `i`-th file added.
  int fd(size_t i) const { return fds_[i].get(); }

  // A `file` node reading or writing `path`.
  Result<nlohmann::json> FileNode(const std::string& path, bool read_only) {
    STRATA_ASSIGN_OR_RETURN(std::string name,
                            Add(path, read_only ? O_RDONLY : O_RDWR));
    nlohmann::json f = {{"driver", "file"}, {"filename", name}};
    if (read_only) f["read-only"] = true;
    return f;
  }

  Result<ProcessResult> Run(const std::vector<std::string>& argv) {
    auto r = RunProcess(argv, opts_);
    if (!r.ok()) return Named(r.status());
    r->err = Named(r->err);
    r->out = Named(r->out);
    return r;
  }

  Status RunChecked(const std::vector<std::string>& argv) {
    auto r = strata::RunChecked(argv, opts_);
    return r.ok() ? Status::OK() : Named(r.status());
  }

  // A qcow2 (or raw) node of `path` alone, its backing not opened.
  Result<nlohmann::json> TopOnlyNode(const std::string& path,
                                     const std::string& format) {
    STRATA_ASSIGN_OR_RETURN(nlohmann::json f,
                            FileNode(path, /*read_only=*/true));
    nlohmann::json node = {{"driver", format}, {"file", std::move(f)}};
    if (format == "qcow2") node["backing"] = nullptr;
    return node;
  }

 private:
  // `text` with each handed name replaced by its file's path (longest
  // descriptor numbers first, so /proc/self/fd/1 does not eat .../fd/12).
  std::string Named(std::string text) const {
    auto sorted = names_;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a.first.size() > b.first.size();
    });
    for (const auto& [name, path] : sorted) {
      for (size_t at = text.find(name); at != std::string::npos;
           at = text.find(name, at + path.size()))
        text.replace(at, name.size(), path);
    }
    return text;
  }
  Status Named(const Status& s) const {
    return s.WithMessage(Named(s.message()));
  }

  RunOptions opts_;
  std::vector<UniqueFd> fds_;
  std::vector<std::pair<std::string, std::string>> names_;
};

// Runs `qemu-img commit` of the explicit chain `active` ← layers.back() ←
// … ← layers[0] ← base into `base`: `active` is the writable top qemu-img
// commit opens, `layers` are opened read-only.
Status CommitChain(const std::vector<std::string>& layers,
                   const std::string& base, const std::string& active,
                   bool flush) {
  std::vector<std::string> read = layers;
  read.push_back(active);
  HandedFiles files(BytesOf(read));
  STRATA_ASSIGN_OR_RETURN(nlohmann::json base_file,
                          files.FileNode(base, /*read_only=*/false));
  // base keeps its own backing (qemu_img.h): a node whose options name
  // only its file keeps that file's name, which `-b` must match.
  const std::string base_name = base_file["filename"];
  nlohmann::json node = {{"driver", "qcow2"}, {"file", std::move(base_file)}};
  for (const std::string& layer : layers) {
    STRATA_ASSIGN_OR_RETURN(nlohmann::json f,
                            files.FileNode(layer, /*read_only=*/true));
    node = {{"driver", "qcow2"},
            {"read-only", true},
            {"file", std::move(f)},
            {"backing", std::move(node)}};
  }
  STRATA_ASSIGN_OR_RETURN(nlohmann::json top,
                          files.FileNode(active, /*read_only=*/false));
  node = {{"driver", "qcow2"},
          {"file", std::move(top)},
          {"backing", std::move(node)}};
  std::vector<std::string> argv = {"qemu-img", "commit", "-q", "-d"};
  if (!flush) argv.insert(argv.end(), {"-t", "unsafe"});
  argv.insert(argv.end(), {"-b", base_name, "json:" + node.dump()});
  return files.RunChecked(argv);
}

}  // namespace

Status CreateOverlay(const std::string& path, const std::string& backing,
                     const std::string& backing_fmt, uint64_t virtual_size,
                     const OverlayLayout& layout) {
  HandedFiles files(0);
  // Created here (no symlink on its path), so that qemu-img only fills it.
  bool created = true;
  auto name = files.Add(path, O_RDWR | O_CREAT | O_EXCL);
  if (!name.ok() && name.status().code() == StatusCode::kAlreadyExists) {
    created = false;
    name = files.Add(path, O_RDWR);
  }
  if (!name.ok()) return name.status();
  std::vector<std::string> argv = {"qemu-img", "create", "-q", "-f", "qcow2"};
  if (!backing.empty())
    argv.insert(argv.end(), {"-u", "-b", backing, "-F", backing_fmt});
  std::string options;
  if (layout.cluster_size)
    options = "cluster_size=" + std::to_string(layout.cluster_size);
  if (layout.subclusters)
    options += std::string(options.empty() ? "" : ",") + "extended_l2=on";
  if (!options.empty()) argv.insert(argv.end(), {"-o", options});
  argv.push_back(*name);
  argv.push_back(std::to_string(virtual_size));
  Status s = files.RunChecked(argv);
  if (!s.ok() && created)
    LogIfError(RemoveFileNoSymlinks(path), "removing a failed overlay");
  if (s.ok() && layout.reserve_bytes) {
    // Only saves the guest time: a file system that cannot is no error.
    // More than the disk's size is never written.
    auto reserved = ReserveSpacePastEnd(
        files.fd(0), std::min(layout.reserve_bytes, virtual_size));
    if (!reserved.ok())
      LogWarning("reserving space for " + path + ": " +
                 reserved.status().ToString());
  }
  return s;
}

Status SetBackingUnsafe(const std::string& path, const std::string& backing,
                        const std::string& backing_fmt, bool flush) {
  HandedFiles files(0);
  STRATA_ASSIGN_OR_RETURN(std::string name, files.Add(path, O_RDWR));
  std::vector<std::string> argv = {"qemu-img", "rebase", "-q",
                                   "-u",       "-f",     "qcow2"};
  if (!flush) argv.insert(argv.end(), {"-t", "unsafe"});
  if (backing.empty()) {
    argv.insert(argv.end(), {"-b", ""});
  } else {
    argv.insert(argv.end(), {"-b", backing, "-F", backing_fmt});
  }
  argv.push_back(name);
  return files.RunChecked(argv);
}

Status CommitInto(const std::vector<std::string>& top_to_base) {
  if (top_to_base.size() < 2)
    return Status::Internal("a commit needs a top and a base");
  // Bottom first, without the base and the active top.
  std::vector<std::string> layers(top_to_base.rbegin() + 1,
                                  top_to_base.rend() - 1);
  return CommitChain(layers, top_to_base.back(), top_to_base.front(),
                     /*flush=*/true);
}

Status CommitLayersInto(const std::vector<std::string>& layers,
                        const std::string& base, const std::string& scratch_top,
                        uint64_t virtual_size, bool flush) {
  STRATA_RETURN_IF_ERROR(
      CreateOverlay(scratch_top, "", "", virtual_size, OverlayLayout()));
  Status s = CommitChain(layers, base, scratch_top, flush);
  LogIfError(RemoveFileNoSymlinks(scratch_top),
             "removing a commit's scratch top");
  return s;
}

Status MergeIntoNewImage(const std::vector<std::string>& layers,
                         const std::string& out, const std::string& backing,
                         const std::string& backing_fmt, uint64_t virtual_size,
                         const OverlayLayout& layout,
                         const std::string& scratch_top, bool flush) {
  STRATA_RETURN_IF_ERROR(
      CreateOverlay(out, backing, backing_fmt, virtual_size, layout));
  STRATA_RETURN_IF_ERROR(
      CommitLayersInto(layers, out, scratch_top, virtual_size, flush));
  return CheckImage(out);
}

Status CopyPreallocated(const std::string& from, const std::string& to,
                        uint64_t cluster_size) {
  HandedFiles files(BytesOf({from}));
  STRATA_ASSIGN_OR_RETURN(nlohmann::json node,
                          files.TopOnlyNode(from, "qcow2"));
  STRATA_ASSIGN_OR_RETURN(std::string out,
                          files.Add(to, O_RDWR | O_CREAT | O_EXCL));
  auto convert = [&](const char* cache) {
    return files.RunChecked(
        {"qemu-img", "convert", "-q", "-t", cache, "-O", "qcow2", "-o",
         "preallocation=metadata,cluster_size=" + std::to_string(cluster_size),
         "json:" + node.dump(), out});
  };
  Status s = convert("none");
  if (!s.ok()) {
    LogInfo("qemu-img convert -t none: " + s.ToString() +
            "; converting through the page cache");
    s = convert("writeback");
  }
  if (!s.ok())
    LogIfError(RemoveFileNoSymlinks(to), "removing a failed preallocated copy");
  return s;
}

Status CheckImage(const std::string& path) {
  HandedFiles files(BytesOf({path}));
  STRATA_ASSIGN_OR_RETURN(nlohmann::json node,
                          files.TopOnlyNode(path, "qcow2"));
  STRATA_ASSIGN_OR_RETURN(ProcessResult r, files.Run({"qemu-img", "check", "-q",
                                                      "json:" + node.dump()}));
  // 0: clean; 3: leaked clusters only (harmless). 2: corruption; 1: error.
  if (r.exit_code == 0 || r.exit_code == 3) return Status::OK();
  return Status::Corruption("qemu-img check " + path + " failed (exit " +
                            std::to_string(r.exit_code) + "): " + r.err +
                            r.out);
}

Status ResizeImage(const std::string& path, uint64_t virtual_size) {
  HandedFiles files(0);
  STRATA_ASSIGN_OR_RETURN(nlohmann::json f,
                          files.FileNode(path, /*read_only=*/false));
  nlohmann::json node = {
      {"driver", "qcow2"}, {"file", std::move(f)}, {"backing", nullptr}};
  return files.RunChecked({"qemu-img", "resize", "-q", "json:" + node.dump(),
                           std::to_string(virtual_size)});
}

Status CheckOpens(const std::string& path, const std::string& format) {
  HandedFiles files(0);
  STRATA_ASSIGN_OR_RETURN(nlohmann::json node, files.TopOnlyNode(path, format));
  STRATA_ASSIGN_OR_RETURN(
      ProcessResult r,
      files.Run({"qemu-img", "info", "--output=json", "json:" + node.dump()}));
  if (r.exit_code == 0) return Status::OK();
  return Status::InvalidArgument("qemu-img cannot open " + path + ": " +
                                 OutputTail(r.err));
}

}  // namespace strata::engine
