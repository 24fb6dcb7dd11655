// Layer file naming. See layer_names.h.
#include "engine/layer_names.h"

#include "util/fs.h"
#include "util/uuid.h"

namespace strata::engine {

std::string DiskStem(const std::string& disk_path) {
  std::string base = BaseName(disk_path);
  const std::string ext = ".qcow2";
  if (base.size() > ext.size() &&
      base.compare(base.size() - ext.size(), ext.size(), ext) == 0)
    base.resize(base.size() - ext.size());
  return base;
}

std::string SnapshotLayerPath(const std::string& disk_path,
                              const std::string& snapshot_id) {
  return JoinPath(DirName(disk_path),
                  DiskStem(disk_path) + ".snap-" + snapshot_id + ".qcow2");
}

std::string NewHistoryPath(const std::string& disk_path,
                           const std::string& snapshot_id) {
  return JoinPath(DirName(disk_path), DiskStem(disk_path) + ".history-" +
                                          snapshot_id + "-" +
                                          NewUuid().substr(0, 8) + ".qcow2");
}

std::string TempPath(const std::string& disk_path, const std::string& what,
                     const std::string& id) {
  return JoinPath(DirName(disk_path), "." + DiskStem(disk_path) + ".strata-" +
                                          what + "-" + id + ".qcow2");
}

namespace {
// "history-<uuid>-<tag>" of "<stem>.history-<uuid>-<tag>.qcow2".
std::string HistoryId(const std::string& disk_path,
                      const std::string& history_path) {
  std::string name = DiskStem(history_path);  // without ".qcow2"
  const std::string stem = DiskStem(disk_path) + ".";
  if (name.compare(0, stem.size(), stem) == 0) name.erase(0, stem.size());
  return name;
}
}  // namespace

std::string SparePath(const std::string& disk_path,
                      const std::string& history_path) {
  return TempPath(disk_path, "spare", HistoryId(disk_path, history_path));
}

std::string DeltaPath(const std::string& disk_path,
                      const std::string& history_path) {
  return TempPath(disk_path, "delta", HistoryId(disk_path, history_path));
}

std::string ReadyPath(const std::string& disk_path,
                      const std::string& history_path) {
  return TempPath(disk_path, "ready", HistoryId(disk_path, history_path));
}

LayerName ParseLayerName(const std::string& disk_path,
                         const std::string& path) {
  LayerName out;
  if (DirName(path) != DirName(disk_path)) return out;
  const std::string name = BaseName(path);
  const std::string stem = DiskStem(disk_path);
  for (auto [kind, tag] : {std::pair{LayerKind::kSnapshot, ".snap-"},
                           std::pair{LayerKind::kHistory, ".history-"}}) {
    std::string prefix = stem + tag;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string id = name.substr(prefix.size(), 36);
    if (!IsUuid(id)) continue;
    std::string rest = name.substr(prefix.size() + 36);
    bool ok = kind == LayerKind::kSnapshot
                  ? rest == ".qcow2"
                  : rest.size() == 15 && rest[0] == '-' &&
                        rest.compare(9, 6, ".qcow2") == 0;
    if (!ok) continue;
    out.kind = kind;
    out.snapshot_id = id;
    return out;
  }
  return out;
}

bool IsTempOf(const std::string& disk_path, const std::string& path) {
  if (DirName(path) != DirName(disk_path)) return false;
  std::string prefix = "." + DiskStem(disk_path) + ".strata-";
  return BaseName(path).compare(0, prefix.size(), prefix) == 0;
}

bool IsStrataTemp(const std::string& path) {
  const std::string name = BaseName(path);
  return !name.empty() && name[0] == '.' &&
         name.find(".strata-") != std::string::npos;
}

std::vector<std::string> DisksOfTemp(const std::string& path) {
  if (!IsStrataTemp(path)) return {};
  const std::string name = BaseName(path);
  const std::string stem = name.substr(1, name.find(".strata-") - 1);
  const std::string dir = DirName(path);
  return {JoinPath(dir, stem + ".qcow2"), JoinPath(dir, stem)};
}

}  // namespace strata::engine
