// A disk's backing chain as it is on disk, read with Strata's own qcow2
// header reader (no qemu-img needed to know the truth).
//
// layers[0] is the active top (the disk's path); each next entry is the
// previous one's backing file. Relative backing names resolve against the
// directory of the file that names them, as QEMU does. Every qcow2 layer is
// validated (corrupt, encrypted or unknown-feature images are refused); a
// raw file may only be the bottom.
// Thread-safety: values; ReadChain is reentrant.
#pragma once

#include <string>
#include <vector>

#include "engine/confinement.h"
#include "engine/layer_names.h"
#include "qcow2/qcow2_header.h"
#include "util/status.h"

namespace strata::engine {

struct ChainLayer {
  std::string path;           // as resolved (absolute)
  std::string format;         // "qcow2" or "raw"
  qcow2::Qcow2Header header;  // valid when format == "qcow2"
  LayerName name;             // Strata's classification of the file name
};

struct Chain {
  std::vector<ChainLayer> layers;

  size_t length() const { return layers.size(); }
  const ChainLayer& top() const { return layers.front(); }
  // Index of the first layer below `from` that is not a Strata snapshot
  // layer (history, foreign base, or length() when none).
  size_t FirstNonSnapshotBelow(size_t from) const;
};

// A chain as the dashboard and detail views show it: its files, top to
// bottom, and the bytes they occupy (the history's spare and delta, kept
// for the next merge, are not counted).
struct ChainUsage {
  size_t length = 0;
  uint64_t allocated_bytes = 0;
};

// Reads the chain from `top_path`; `disk_path` names the disk whose layers
// are classified (normally the same path). Missing backing files, loops and
// chains deeper than 32 are errors, and so is a `json:` or protocol backing
// name. With an enabled `confinement`, every layer is checked against it
// (confinement.h) before it is opened.
[[nodiscard]] Result<Chain> ReadChain(
    const std::string& top_path, const std::string& disk_path,
    const Confinement& confinement = Confinement());

}  // namespace strata::engine
