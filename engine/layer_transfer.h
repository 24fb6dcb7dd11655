// LayerTransfer: snapshot layers to and from the store: uploads with retries
// and verification of what the store holds, and deletes that survive a store
// that does not answer (R1.9: queued in the catalog, retried, never
// forgotten).
// Thread-safety: any thread; calls for different keys run in parallel.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "engine/engine_part.h"

namespace strata::engine {

// What a stored layer is, kept with it by stores that keep metadata, so
// that a catalog lost with its host can be rebuilt from the store
// (catalog_rebuild.h): the volume, the snapshot and its parent, names,
// sizes, times and the failed snapshots it covers.
std::map<std::string, std::string> LayerLabels(const db::VolumeRecord& vol,
                                               const db::SnapshotRecord& snap);

class LayerTransfer : public EnginePart {
 public:
  explicit LayerTransfer(EngineContext& ctx) : EnginePart(ctx) {}

  // A layer as stored: the object (its bytes after any relay stage), the
  // SHA-256 of the layer file itself, and the fast check of the stored
  // bytes ("" when a relay stage changed them).
  struct StoredLayer {
    store::ObjectInfo object;
    std::string layer_sha256;
    std::string check;
    // Names this layer, stored under `key`, as `snap`'s (key, location,
    // digests, check, size).
    void RecordIn(const std::string& key, db::SnapshotRecord* snap) const;
  };
  // Uploads a layer file with retries, verifying what the store holds.
  // `labels` describe it to stores that keep metadata (glance). With
  // `show_progress`, the snapshot (then "creating") shows the upload's
  // progress; without it (a stored snapshot's layer rewritten), its status is
  // left.
  Result<StoredLayer> UploadLayer(
      const std::string& snapshot_id, const std::string& key,
      const std::string& path, const std::map<std::string, std::string>& labels,
      bool show_progress = true);
  // Uploads the memory taken with a snapshot (issue 21): the restore image
  // of the complete region at `region` (memsnap/restore_image.h), so that
  // the store keeps only the slots that hold pages; retried and verified
  // as a layer is.
  Result<StoredLayer> UploadMemory(
      const std::string& snapshot_id, const std::string& key,
      const std::string& region,
      const std::map<std::string, std::string>& labels);
  // R1.9: deletes a store object, or, when the store does not answer,
  // queues the key in the catalog (pending_deletes) and returns OK: the
  // object is deleted by RetryPendingDeletes, never forgotten.
  Status DeleteStored(const std::string& key);
  // Deletes every snapshot of the volume: each stored layer first
  // (DeleteStored), then its row, so a record is dropped only once its
  // layer is gone or queued and nothing stored is forgotten.
  Status DeleteSnapshotsOf(const std::string& volume_id);
  // Deletes queued objects, oldest first, until the store fails again.
  // Runs at start-up (Recover) and after every successful upload.
  void RetryPendingDeletes();

 private:
  // What one upload attempt sends: the bytes, their length, the "form"
  // label, and whether to take the fast check (util/file_check.h) of them.
  struct UploadInput {
    std::unique_ptr<ByteSource> source;
    uint64_t size = 0;
    std::string form;
    bool take_check = false;
  };
  // Uploads what `open` gives (called once per attempt) as `key`.
  Result<StoredLayer> Upload(const std::string& snapshot_id,
                             const std::string& key,
                             const std::function<Result<UploadInput>()>& open,
                             const std::map<std::string, std::string>& labels,
                             bool show_progress);
};

}  // namespace strata::engine
