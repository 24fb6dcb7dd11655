// qemu-img as the engine uses it: overlay creation, backing-file rewrites,
// commits and consistency checks. Each call runs the qemu-img binary from
// qemu-utils (no shell) and turns a failure into a Status carrying its stderr.
//
// All images Strata creates are qcow2 with absolute backing-file names and an
// explicit backing format, so a chain never depends on the current directory
// or on format probing.
//
// qemu-img never resolves a layer's path itself (issue 16, item 1): each
// file a run works on is opened here with no symlink on its path
// (OpenFileNoSymlinks) and given to qemu-img as /proc/self/fd/N, and a chain
// is given as explicit `json:` nodes, so qemu-img reads and writes the very
// files Strata checked even if a directory is swapped for a symlink
// meanwhile. One by-name open is left: CommitInto's and CommitLayersInto's
// `base` keeps its own backing, which qemu opens read-only by its header's
// name and never reads (a commit copies only what lies above `base`).
// Messages name the files, not their descriptors.
// Thread-safety: stateless; calls on different files may run in parallel.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace strata::engine {

// How long one qemu-img run may take before it is killed and its task
// fails as retryable (issue 16, item 4): two minutes for its start and
// metadata work, plus the bytes it reads at 4 MiB/s, far below this host's
// worst, so that a run stalled on a hung disk or file server ends instead
// of holding the volume's lease for hours.
std::chrono::milliseconds QemuImgTimeout(uint64_t bytes);

// The qcow2 layout of the overlays Strata creates (issue 17).
struct OverlayLayout {
  uint64_t cluster_size = 0;  // 0: qemu-img's default (64 KiB)
  // `extended_l2=on` (QEMU ≥ 5.2): each cluster has 32 subclusters, and a
  // write smaller than a cluster allocates only the subclusters it covers;
  // the rest of the cluster is neither copied from the backing file nor
  // written (it stays a hole in the file).
  bool subclusters = false;
  // Bytes reserved past the new file's end (util/space_reserve.h), so that
  // the clusters qemu allocates land in blocks the file already holds; the
  // caller releases them (ReleaseSpacePastEnd) once the file stops growing.
  uint64_t reserve_bytes = 0;
};

// `qemu-img create -f qcow2 -u -b backing -F backing_fmt path size`: a new,
// empty overlay in `layout`. `-u` (no backing probe) lets the backing file
// be created later by a rename. An empty `backing` makes a standalone image.
Status CreateOverlay(const std::string& path, const std::string& backing,
                     const std::string& backing_fmt, uint64_t virtual_size,
                     const OverlayLayout& layout);
// `qemu-img rebase -u`: rewrites only the backing-file name/format in the
// header (no data moves). Used where the data is known to be equal.
// `flush` false: qemu-img does not fsync the file when it closes it (`-t
// unsafe`), for a file whose write-back is settled later.
Status SetBackingUnsafe(const std::string& path, const std::string& backing,
                        const std::string& backing_fmt, bool flush = true);
// `qemu-img commit -b base top` (with -b, qemu-img leaves `top` valid):
// `top_to_base` is the chain from the top down to the base (at least two
// files); every layer above `base` is merged into it. The layers' own
// backing names are not followed (the chain is given explicitly).
Status CommitInto(const std::vector<std::string>& top_to_base);
// Merges `layers` (bottom first) into `base` with one `qemu-img commit`,
// which copies only what the layers hold (their union, the upper one
// winning, zeroed clusters included). The chain is given to qemu as explicit
// `json:` options, so the layers' own headers are neither followed nor
// written: each layer is opened read-only, and may be a hard link to a
// store's object whose backing name is the one it had when uploaded. `base`
// keeps its own backing (qemu-img finds `base` in the chain by the name its
// header and file carry, which explicit options would hide). `scratch_top`
// is created as the empty active layer qemu-img commit needs (`-d`: it is
// not emptied, only its header may change) and removed. `flush` false:
// `base` is left in the page cache, not fsynced (`-t unsafe`).
Status CommitLayersInto(const std::vector<std::string>& layers,
                        const std::string& base, const std::string& scratch_top,
                        uint64_t virtual_size, bool flush);
// A new image `out` on `backing` holding `layers` merged and checked:
// CreateOverlay, CommitLayersInto (with `scratch_top` and `flush`), then
// CheckImage. The history a revert makes (revert.cc), and remakes after a
// crash (settle.cc).
Status MergeIntoNewImage(const std::vector<std::string>& layers,
                         const std::string& out, const std::string& backing,
                         const std::string& backing_fmt, uint64_t virtual_size,
                         const OverlayLayout& layout,
                         const std::string& scratch_top, bool flush);
// `qemu-img convert` of the qcow2 image `from` (which has no backing file)
// into a new image `to` in `cluster_size`, with its metadata preallocated
// (`preallocation=metadata`): every cluster allocated, so that later writes
// to it never change the image's metadata (layer_apply.h). Written with
// O_DIRECT (`-t none`), so that no dirty page cache is left to stall a
// running VM's flushes, or through the page cache (fsynced) on a file
// system without O_DIRECT.
Status CopyPreallocated(const std::string& from, const std::string& to,
                        uint64_t cluster_size);
// `qemu-img resize` of the qcow2 file `path` alone (its backing is not
// opened) to `virtual_size` bytes; fsynced by qemu-img as it closes the
// file. Growing only: what lies past the backing file's end reads as zeros.
Status ResizeImage(const std::string& path, uint64_t virtual_size);
// `qemu-img check`: NotFound-free consistency check of one qcow2 file (its
// backing is not opened); a leak is not an error, corruption is.
Status CheckImage(const std::string& path);
// `qemu-img info` of a disk's top layer in `format` (its backing is not
// opened, as qemu-img info never does): InvalidArgument with qemu-img's
// reason when QEMU cannot open it.
Status CheckOpens(const std::string& path, const std::string& format);

}  // namespace strata::engine
