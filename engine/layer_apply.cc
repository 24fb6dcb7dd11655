// A layer's writes applied to a history file by its extents. See
// layer_apply.h.
#include "engine/layer_apply.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "engine/qemu_img.h"
#include "qcow2/cluster_map.h"
#include "qcow2/qcow2_header.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/time_util.h"

namespace strata::engine {
namespace {

constexpr uint32_t kBitmapsExtension = 0x23852875;

// One range to write: `length` bytes at `to` in the target's file, copied
// from `from` in the layer's file, or zeroes.
struct Piece {
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t length = 0;
  bool zeros = false;
};

// NotSupported unless the image at `fd` is a qcow2 file whose clusters a
// write in place changes for this image alone, and whose metadata no
// write in place makes stale.
Result<qcow2::Qcow2Header> PlainImage(int fd, const std::string& path) {
  auto h = qcow2::ReadQcow2Header(fd, path);
  if (!h.ok()) {
    if (h.status().code() == StatusCode::kCorruption) return h.status();
    return Status::NotSupported(h.status().message());
  }
  if (h->nb_snapshots != 0)
    return Status::NotSupported(path + " has internal snapshots");
  if (h->dirty) return Status::NotSupported(path + " is marked dirty");
  if ((h->autoclear_features & 1) ||
      std::count(h->extension_types.begin(), h->extension_types.end(),
                 kBitmapsExtension))
    return Status::NotSupported(path + " has persistent bitmaps");
  return h;
}

// The pieces that make `target` hold what `layer` holds, or NotSupported
// when the layer holds compressed clusters or a range the target holds
// no cluster of its own for (unallocated, a zero flag, shared).
Result<std::vector<Piece>> PlanPieces(const std::vector<qcow2::GuestRun>& held,
                                      qcow2::ClusterMapReader& target,
                                      const std::string& layer_path,
                                      const std::string& target_path) {
  using qcow2::SubclusterState;
  std::vector<Piece> pieces;
  for (const qcow2::GuestRun& e : held) {
    if (e.state == SubclusterState::kCompressed)
      return Status::NotSupported(layer_path + " holds compressed clusters");
    STRATA_ASSIGN_OR_RETURN(std::vector<qcow2::GuestRun> under,
                            target.Runs(e.guest, e.length));
    for (const qcow2::GuestRun& r : under) {
      if (r.state != SubclusterState::kData || !r.sole_owner)
        return Status::NotSupported(
            target_path + " has no cluster of its own at guest offset " +
            std::to_string(r.guest));
      Piece p;
      p.zeros = e.state == SubclusterState::kZero;
      p.from = p.zeros ? 0 : e.host + (r.guest - e.guest);
      p.to = r.host;
      p.length = r.length;
      pieces.push_back(p);
    }
  }
  return pieces;
}

Status WritePieces(int from_fd, int to_fd, const std::vector<Piece>& pieces,
                   const std::string& layer, const std::string& target,
                   bool sync, int64_t* written_at) {
  constexpr size_t kBuffer = 1 << 20;
  std::vector<char> buf(kBuffer);
  const std::vector<char> zeros(kBuffer, 0);
  for (const Piece& p : pieces) {
    for (uint64_t done = 0; done < p.length;) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(kBuffer, p.length - done));
      const char* src = zeros.data();
      if (!p.zeros) {
        STRATA_RETURN_IF_ERROR(
            PreadAll(from_fd, buf.data(), n, p.from + done, layer));
        src = buf.data();
      }
      STRATA_RETURN_IF_ERROR(PwriteAll(to_fd, src, n, p.to + done, target));
      done += n;
    }
  }
  if (written_at) *written_at = MonotonicMicros();
  if (sync && fdatasync(to_fd) != 0)
    return Status::FromErrno("fsync " + target, errno);
  return Status::OK();
}

}  // namespace

Status ApplyLayerInto(const std::string& layer, const std::string& target,
                      bool sync, ApplyStats* stats) {
  STRATA_ASSIGN_OR_RETURN(UniqueFd from, OpenFileNoSymlinks(layer, O_RDONLY));
  STRATA_ASSIGN_OR_RETURN(UniqueFd to, OpenFileNoSymlinks(target, O_RDWR));
  STRATA_ASSIGN_OR_RETURN(qcow2::Qcow2Header lh, PlainImage(from.get(), layer));
  STRATA_ASSIGN_OR_RETURN(qcow2::Qcow2Header th, PlainImage(to.get(), target));
  if (lh.virtual_size != th.virtual_size)
    return Status::NotSupported(layer + " and " + target +
                                " differ in virtual size");
  const int64_t t_begin = MonotonicMicros();
  STRATA_ASSIGN_OR_RETURN(auto layer_map,
                          qcow2::ClusterMapReader::Open(from.get(), lh, layer));
  STRATA_ASSIGN_OR_RETURN(auto target_map,
                          qcow2::ClusterMapReader::Open(to.get(), th, target));
  STRATA_ASSIGN_OR_RETURN(std::vector<qcow2::GuestRun> held, layer_map.Held());
  STRATA_ASSIGN_OR_RETURN(std::vector<Piece> pieces,
                          PlanPieces(held, target_map, layer, target));
  const int64_t t_mapped = MonotonicMicros();
  int64_t t_written = 0;
  STRATA_RETURN_IF_ERROR(WritePieces(from.get(), to.get(), pieces, layer,
                                     target, sync, &t_written));
  const int64_t t_end = MonotonicMicros();
  ApplyStats got;
  got.extents = pieces.size();
  for (const Piece& p : pieces) got.bytes += p.length;
  LogInfo("applied " + std::to_string(got.extents) + " extents (" +
          std::to_string(got.bytes >> 10) + " KiB) of " + BaseName(layer) +
          ": mapped in " + std::to_string((t_mapped - t_begin) / 1000) +
          " ms, written in " + std::to_string((t_written - t_mapped) / 1000) +
          (sync ? " ms, synced in " +
                      std::to_string((t_end - t_written) / 1000) + " ms"
                : " ms"));
  if (stats) *stats = got;
  return Status::OK();
}

}  // namespace strata::engine
