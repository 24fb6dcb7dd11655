// Names of the files Strata keeps next to a disk, and their parsing.
//
// R2.4 finds the previous snapshot's outcome from the chain itself, so every
// layer file carries the UUID of the snapshot whose data it holds:
//   <stem>.snap-<uuid>.qcow2            a renamed top (one snapshot's writes)
//   <stem>.history-<uuid>-<tag>.qcow2   merged uploaded layers; <uuid> is the
//                                       newest snapshot merged into it
//   .<stem>.strata-<what>-<uuid>…       temporaries (overlays being created,
//                                       merge backups, download scratch,
//                                       the spare and delta of a history)
// <stem> is the disk file's name without ".qcow2". The disk's own path never
// changes: it is always the active top.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace strata::engine {

enum class LayerKind { kForeign, kSnapshot, kHistory };

struct LayerName {
  LayerKind kind = LayerKind::kForeign;
  std::string snapshot_id;  // empty for kForeign
};

std::string DiskStem(const std::string& disk_path);
std::string SnapshotLayerPath(const std::string& disk_path,
                              const std::string& snapshot_id);
// A fresh history name for `snapshot_id` (the tag keeps names unique when the
// same point is restored twice).
std::string NewHistoryPath(const std::string& disk_path,
                           const std::string& snapshot_id);
// A temporary file next to the disk: ".<stem>.strata-<what>-<id>.qcow2".
std::string TempPath(const std::string& disk_path, const std::string& what,
                     const std::string& id);
// The two files kept after a history merge so that the next merge need not
// copy the whole history (chain_ops.cc): the history it replaced (the
// spare) and the layer merged into it (the delta). Together they rebuild
// the history named `history_path`. Both are temporaries of the disk.
std::string SparePath(const std::string& disk_path,
                      const std::string& history_path);
std::string DeltaPath(const std::string& disk_path,
                      const std::string& history_path);
// The history's next merge backup, built ahead from its spare and delta
// and synced (spare_prebuild.cc); it replaces both. A temporary too.
std::string ReadyPath(const std::string& disk_path,
                      const std::string& history_path);
// Classifies `path` as one of `disk_path`'s layers (by its file name).
LayerName ParseLayerName(const std::string& disk_path, const std::string& path);
// True for any of Strata's temporaries of `disk_path`.
bool IsTempOf(const std::string& disk_path, const std::string& path);
// True for a temporary of any disk (".<stem>.strata-<what>-…").
bool IsStrataTemp(const std::string& path);
// The paths the disk whose temporary `path` is may have ("<stem>.qcow2",
// "<stem>", beside it); none when `path` is no temporary.
std::vector<std::string> DisksOfTemp(const std::string& path);

}  // namespace strata::engine
