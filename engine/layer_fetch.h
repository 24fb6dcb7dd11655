// Getting a snapshot's stored layer next to a disk, verified, for a revert
// (revert.cc) or for rebuilding a history a crash may have lost
// (settle.cc): a hard link of the local store's file when it keeps one,
// else a download.
// Thread-safety: stateless; calls for different files may run in parallel.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "db/catalog.h"
#include "storage-drivers/store.h"
#include "util/status.h"

namespace strata::engine {

struct Backing {
  std::string file, format;
};

// The stored layer as a file at `to` without copying it: when the store
// keeps it as a file on the disk's file system (local store, no relay
// stages), it is hard-linked. NotSupported: download it instead. The link is
// not verified yet (VerifyLinkedLayer).
//
// With `backing` set, the layer is to be used through its own header (the
// bottom of a new chain), so the stored backing name must be that one:
// nothing modifies a linked file (merges write into backups or new files,
// and a history with a second name is never retired into a spare), so the
// object stays as stored. Without it, the layer is only read, through
// explicit backing options (CommitLayersInto), whatever its header names.
Status LinkStoredLayer(store::Store& store, const db::SnapshotRecord& snap,
                       const std::string& to,
                       const std::optional<Backing>& backing);

// The check a download does on the way, for a linked layer: the fast check
// recorded at upload (a local file on this host's disk: util/file_check.h
// says why that suffices), hashed on both cores, or, for layers stored
// before there was one, SHA-256.
Status VerifyLinkedLayer(const db::SnapshotRecord& snap,
                         const std::string& path);

// Downloads the layer to `to`, verified against the stored bytes' SHA-256
// and, when relay stages changed them, the layer's own once they are undone
// (R1.3). `durable`: written back as it arrives and fsynced (a file that
// ends in a chain); else scratch.
Status DownloadLayer(store::Store& store, const db::SnapshotRecord& snap,
                     const std::string& to, bool durable);

// DownloadLayer's knobs for a reader of the file as it grows
// (streamed_layer.h).
struct DownloadWatch {
  // Once the temp file exists, with its path (it is renamed onto `to` at
  // the end; a descriptor opened now follows it).
  std::function<void(const std::string& temp_path)> on_open;
  // FileSinkOptions::on_written.
  std::function<void(uint64_t)> on_written;
  // Polled before each chunk is written: true ends the download
  // (Unavailable, not retryable).
  std::function<bool()> stopped;
  store::RequestOptions request;
};
Status DownloadLayer(store::Store& store, const db::SnapshotRecord& snap,
                     const std::string& to, bool durable,
                     const DownloadWatch& watch);

// `target`'s lineage through parent_id, root first: the layers that make its
// state. Conflict when one has no stored layer.
Result<std::vector<db::SnapshotRecord>> StoredLineage(
    db::Catalog* catalog, const db::SnapshotRecord& target);

// A layer a merge only reads: linked and verified, or downloaded.
Status FetchLayerToRead(store::Store& store, const db::SnapshotRecord& snap,
                        const std::string& to);

}  // namespace strata::engine
