// The engine's request types and small shared definitions: what callers
// pass to the Engine (engine.h) and what its parts (engine_part.h) pass
// among themselves.
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/records.h"
#include "engine/qemu_img.h"

namespace strata::engine {

struct EngineOptions {
  // Canonical directories under which disks may be adopted (manage).
  std::vector<std::string> allowed_dirs;
  // Canonical directory where the volumes Strata creates (Cinder's volume
  // create) get their disks, "volume-<id>.qcow2"; one of `allowed_dirs`.
  // Empty: volumes cannot be created.
  std::string volume_dir;
  // Canonical directories whose files a disk may have as read-only backing
  // files (Nova's _base image cache): confinement.h.
  std::vector<std::string> shared_base_dirs;
  // The layout of the overlays Strata creates (qemu_img.h): qemu's 64 KiB
  // clusters with subclusters, so a small write's layer holds that write,
  // and 256 MiB reserved past each new overlay's end, so the guest's first
  // writes into it do not pay for block allocations one by one
  // (docs/engine.md, "Layers as small as the writes").
  OverlayLayout overlay{0, /*subclusters=*/true, /*reserve_bytes=*/256 << 20};
  int workers = 2;
  int upload_attempts = 3;  // tries per upload on retryable store errors
  // Nice increment of the worker threads and the qemu-img they start, so a
  // running VM's vCPU and I/O threads get the CPU first. (On the test guest
  // its effect on write stalls was within the benchmark's noise.)
  int worker_nice = 10;
  // Where an instant rollback serves stored layers it cannot link (a remote
  // store, relay stages, the sparse form) over NBD while they download
  // (streamed_layer.h), one unix socket each, for the hypervisor's group.
  // Empty: an instant rollback that needs such a layer is refused.
  std::string layer_socket_dir;
  std::string layer_socket_group;
  // Where the memory taken with a server's snapshot goes (issue 21): one
  // region file per snapshot, "<snapshot id>.region". Empty: snapshots
  // with memory are refused.
  std::string memory_dir;
  // R3.7: raw block devices (LUNs, partitions) for them instead: each
  // snapshot's memory takes a device no other snapshot's memory holds
  // (memory_regions.h). Empty: files in memory_dir.
  std::vector<std::string> memory_devices;
  // R3.8: QEMU's downtime limit for them, and how many passes over the
  // dirty pages Strata lets QEMU make before it pauses the VM itself.
  int64_t memory_downtime_ms = 300;
  int64_t memory_max_passes = 3;
  // A group cut's hold (engine/group_hold.h): how long this host holds its
  // writers at most, from the hold's request, whatever its driver does.
  int64_t group_hold_ms = 10000;
  // The hold guard's command, to which the deadline and the domains are
  // appended (stratad: {its executable, "--hold-guard", libvirt URI});
  // empty: no guard, the deadline holds while stratad lives.
  std::vector<std::string> hold_guard_argv;
};

struct ManageRequest {
  std::string project_id, user_id, name, description;
  std::string source_path;  // the existing qcow2 file to adopt
  bool bootable = false;
  db::Metadata metadata;
  // Skips the manage-directory check of the top (its backing files are
  // still confined): for paths the hypervisor's own configuration or the
  // operator names (a server's disks, NBD exports), never for user input.
  bool trusted_path = false;
};

// Cinder's volume create (issue 18): an empty disk of `size_gib`, or one
// holding a snapshot's state (`snapshot_id`, any available snapshot, not
// only the latest), or a copy of another volume (`source_volid`).
struct CreateVolumeRequest {
  std::string project_id, user_id, name, description;
  int64_t size_gib = 0;
  std::optional<std::string> snapshot_id, source_volid, volume_type_id;
  // A Cinder backup to restore (backup_lifecycle.h): the disk holds its
  // point's state, on the base the backup recorded.
  std::optional<std::string> backup_id;
  std::optional<std::string> id;  // the new volume's id; unset: a new one
  // Set when no backend here can hold the volume (its type's extra specs,
  // api/extra_specs_match.h): the volume is recorded in "error", as
  // Cinder's scheduler leaves it, and nothing is built.
  std::optional<std::string> no_valid_backend;
  std::optional<bool> bootable;  // unset: the source's, or false
  db::Metadata metadata;
  std::optional<std::string> group_id;  // the Cinder group it joins
};

// Cinder's backup create (backup_lifecycle.h): the volume's current state,
// or that of its snapshot `snapshot_id`, as a stored point.
struct CreateBackupRequest {
  std::string project_id, user_id, volume_id, name, description;
  std::optional<std::string> snapshot_id, container;
  std::string availability_zone;
  bool incremental = false;
  bool force = false;  // an in-use volume may be backed up only with it
  db::Metadata metadata;
};

// Backup rotation (R1.6, Nova's createBackup): once the new snapshot is
// stored, the volume's available snapshots whose metadata holds every entry
// of `match` (the new one included) are deleted oldest first until `keep`
// remain.
struct Rotation {
  db::Metadata match;
  int keep = 0;
};

struct CreateSnapshotRequest {
  std::string project_id, user_id, volume_id, name, description;
  db::Metadata metadata;
  std::optional<Rotation> rotation = std::nullopt;
  // A backup's point (backup_lifecycle.h): the id its backups row already
  // names, and hidden from the snapshot views from the start.
  std::optional<std::string> id = std::nullopt;
  bool hidden = false;
  // One member of a group snapshot (group_lifecycle.h).
  std::optional<std::string> group_snapshot_id = std::nullopt;
  // The running VM's memory too, taken at the disk's cut instant
  // (snapshot_memory.cc; issue 21).
  bool with_memory = false;
};

// A volume's disk as a running domain uses it (R2.2: the VM is running).
struct LiveDisk {
  std::string domain_uuid;
  std::string target;  // "vda"
  bool has_guest_agent = false;
};

// True when snapshot `id`'s layer must stay stored: it is the volume's head
// (the live chain builds on it), another snapshot's layer is relative to
// it, a backup's point is it (pinned), or it is unmanaged (Cinder keeps an
// unmanaged snapshot's data). `ignoring` names a snapshot about to go,
// whose link does not count.
bool LayerIsNeeded(const db::VolumeRecord& vol,
                   const std::vector<db::SnapshotRecord>& snaps,
                   const std::string& id, const std::string& ignoring = "");

// The store key of a snapshot's layer: "volumes/<volume>/<snapshot>.qcow2",
// or, for the layer a delete rewrote by merging its parent's into it
// (generation n > 0, snapshot_merge.cc),
// "volumes/<volume>/<snapshot>.g<n>.qcow2": a new key, so the layer it replaces
// stays whole until the catalog names the new one.
std::string LayerKey(const std::string& volume_id,
                     const std::string& snapshot_id, int generation = 0);
// Where a store keeps the memory taken with a snapshot (issue 21): its
// restore image (memsnap/restore_image.h), beside the layer.
std::string MemoryKey(const std::string& volume_id,
                      const std::string& snapshot_id);
// The generation of `key` as a layer key of that snapshot (0 for the plain
// key), or -1 when it is not one.
int LayerKeyGeneration(const std::string& key, const std::string& volume_id,
                       const std::string& snapshot_id);
// Size in GiB, rounded up, as Cinder reports it.
int64_t SizeGiB(int64_t bytes);

}  // namespace strata::engine
