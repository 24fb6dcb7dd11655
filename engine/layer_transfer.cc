// Moving layer files to and from the store: upload with progress, retries
// and verification (R2.5), and dropping layers nothing needs any more.
#include "engine/layer_transfer.h"

#include <memory>
#include <thread>

#include "engine/layer_form.h"
#include "engine/memory_regions.h"
#include "memsnap/restore_image.h"
#include "util/file_check.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/sha256.h"
#include "util/time_util.h"

namespace strata::engine {
namespace {

// The layer's bytes on their way to the store: reports upload progress
// (15% → 95%) to the catalog at most twice a second and, with `take_check`,
// computes the fast check of what it read (util/file_check.h: ~0.15 s of a
// core per GiB).
class UploadSource : public ByteSource {
 public:
  UploadSource(ByteSource* inner, uint64_t total, db::Catalog* c,
               std::string snapshot_id, bool take_check)
      : check_(take_check ? std::make_unique<FileCheckHasher>() : nullptr),
        inner_(inner),
        total_(total),
        catalog_(c),
        id_(std::move(snapshot_id)) {}

  Result<size_t> Read(char* buf, size_t n) override {
    auto r = inner_->Read(buf, n);
    if (r.ok()) {
      if (check_) check_->Update(buf, *r);
      done_ += *r;
      int64_t now = MonotonicMicros();
      if (catalog_ && total_ > 0 && now - last_report_ > 500000) {
        last_report_ = now;
        int pct = 15 + static_cast<int>(80 * done_ / total_);
        // Progress only: the next update or the final status replaces it.
        LogIfError(catalog_->SetSnapshotStatus(id_, "creating", pct),
                   "progress of snapshot " + id_);
      }
    }
    return r;
  }

  // The check of every byte read (call once, after the last Read); "" when
  // not taken.
  std::string FinishCheck() { return check_ ? check_->Finish() : ""; }

 private:
  std::unique_ptr<FileCheckHasher> check_;
  ByteSource* inner_;
  uint64_t total_, done_ = 0;
  db::Catalog* catalog_;
  std::string id_;
  int64_t last_report_ = 0;
};

}  // namespace

std::map<std::string, std::string> LayerLabels(const db::VolumeRecord& vol,
                                               const db::SnapshotRecord& snap) {
  std::map<std::string, std::string> labels = {
      {"volume_id", vol.id},
      {"snapshot_id", snap.id},
      {"project_id", snap.project_id},
      {"volume_path", vol.path},
      {"virtual_size", std::to_string(snap.virtual_size)},
      {"created_at", std::to_string(snap.created_at)}};
  if (snap.parent_id) labels["parent_id"] = *snap.parent_id;
  if (!snap.name.empty()) labels["snapshot_name"] = snap.name;
  if (!vol.name.empty()) labels["volume_name"] = vol.name;
  std::string covers;
  for (const std::string& c : snap.covers)
    covers += (covers.empty() ? "" : ",") + c;
  if (!covers.empty()) labels["covers"] = covers;
  return labels;
}

void LayerTransfer::StoredLayer::RecordIn(const std::string& key,
                                          db::SnapshotRecord* snap) const {
  snap->store_key = key;
  snap->store_location = object.location;
  snap->sha256 = object.sha256;
  snap->layer_sha256 = layer_sha256;
  snap->layer_check =
      check.empty() ? std::nullopt : std::optional<std::string>(check);
  snap->layer_bytes = static_cast<int64_t>(object.size);
}

Result<LayerTransfer::StoredLayer> LayerTransfer::UploadLayer(
    const std::string& snapshot_id, const std::string& key,
    const std::string& path, const std::map<std::string, std::string>& labels,
    bool show_progress) {
  return Upload(
      snapshot_id, key,
      [&]() -> Result<UploadInput> {
        STRATA_ASSIGN_OR_RETURN(auto src, LayerSource::Open(path));
        UploadInput in;
        in.size = src->size();
        in.form = src->sparse() ? "sparse" : "qcow2";
        // Only an object the store keeps as a local file (the local store,
        // no relay stage or other decorator) in the plain form
        // (layer_form.h) is ever linked and so checked with it: other
        // uploads, bound by CPU on two cores, are spared the hash.
        in.take_check = store_->CanLink() && !src->sparse();
        in.source = std::move(src);
        return in;
      },
      labels, show_progress);
}

Result<LayerTransfer::StoredLayer> LayerTransfer::UploadMemory(
    const std::string& snapshot_id, const std::string& key,
    const std::string& region,
    const std::map<std::string, std::string>& labels) {
  return Upload(
      snapshot_id, key,
      [&]() -> Result<UploadInput> {
        STRATA_ASSIGN_OR_RETURN(auto src,
                                memsnap::RestoreImageSource::Open(region));
        UploadInput in;
        in.size = src->size();
        in.form = "memory";
        in.source = std::move(src);
        return in;
      },
      labels, /*show_progress=*/false);
}

Result<LayerTransfer::StoredLayer> LayerTransfer::Upload(
    const std::string& snapshot_id, const std::string& key,
    const std::function<Result<UploadInput>()>& open,
    const std::map<std::string, std::string>& labels, bool show_progress) {
  Status last;
  for (int attempt = 1; attempt <= opts_.upload_attempts; ++attempt) {
    if (attempt > 1)
      std::this_thread::sleep_for(std::chrono::seconds(1 << (attempt - 2)));
    db::UploadRecord u;
    u.snapshot_id = snapshot_id;
    u.store = store_->Name();
    u.store_key = key;
    u.started_at = NowMicros();
    STRATA_ASSIGN_OR_RETURN(int64_t upload_id, catalog_->BeginUpload(u));
    auto src = open();
    if (!src.ok()) {
      // The upload row is a record of attempts; the snapshot's own status
      // says what counts.
      LogIfError(catalog_->FinishUpload(upload_id, "failed", 0, "",
                                        src.status().message()),
                 "upload record " + std::to_string(upload_id));
      return src.status();
    }
    UploadSource progress(src->source.get(), src->size,
                          show_progress ? catalog_ : nullptr, snapshot_id,
                          src->take_check);
    store::RequestOptions ro;
    ro.labels = labels;
    ro.labels["form"] = src->form;
    auto put = store_->Put(key, progress, ro);
    Status s = put.status();
    // A digest that is none (a hashing thread failed: sha256.h's
    // kFailedDigest) must never be recorded as a layer's.
    if (s.ok() &&
        (!IsSha256Hex(put->sha256) ||
         (!put->content_sha256.empty() && !IsSha256Hex(put->content_sha256))))
      s = Status::Internal("the upload of " + key + " has no valid SHA-256 (" +
                           put->sha256 + ")")
              .SetRetryable(true);
    if (s.ok()) {
      // Verify what the store now holds against what was sent.
      auto stat = store_->Stat(key, ro);
      if (!stat.ok())
        s = stat.status();
      else if (stat->size != put->size ||
               (!stat->sha256.empty() && stat->sha256 != put->sha256))
        s = Status::Corruption("store holds " + std::to_string(stat->size) +
                               " bytes sha256 " + stat->sha256 + " for " + key +
                               ", sent " + std::to_string(put->size) +
                               " bytes sha256 " + put->sha256)
                .SetRetryable(true);
    }
    if (s.ok()) {
      // R2.4 asks whether an upload succeeded: this row must be written,
      // or the layer counts as not uploaded.
      Status recorded = catalog_->FinishUpload(
          upload_id, "done", static_cast<int64_t>(put->size), put->sha256, "");
      if (!recorded.ok()) return recorded.WithContext("recording the upload");
      // The layer's own digest: computed by the outermost relay stage, or,
      // without stages, the stored bytes' (each byte is hashed once). The
      // fast check, when taken, describes the stored bytes only when no
      // stage ran.
      const bool as_sent = put->content_sha256.empty();
      const std::string layer_sha256 =
          as_sent ? put->sha256 : put->content_sha256;
      return StoredLayer{*put, layer_sha256,
                         as_sent ? progress.FinishCheck() : ""};
    }
    LogIfError(catalog_->FinishUpload(upload_id, "failed", 0, "", s.ToString()),
               "upload record " + std::to_string(upload_id));
    LogWarning("upload of " + key + " attempt " + std::to_string(attempt) +
               " failed: " + s.ToString());
    last = s;
    if (!s.retryable()) break;
  }
  // Given up: whatever the attempts left under the key (an object that did
  // not verify, segments a store kept to resume from) goes, now or, with
  // the store down, from the queue. No other snapshot uses this key.
  LogIfError(DeleteStored(key),
             "removing what the failed upload of " + key + " left");
  return last.WithContext("upload to " + store_->Name() + " store");
}

Status LayerTransfer::DeleteStored(const std::string& key) {
  Status s = store_->Delete(key, {});
  if (s.ok() || s.code() == StatusCode::kInvalidArgument) return s;
  LogWarning("deleting " + key + " from the store failed (" + s.ToString() +
             "); queued, retried when the store answers again");
  return catalog_->AddPendingDelete(key, s.ToString());
}

Status LayerTransfer::DeleteSnapshotsOf(const std::string& volume_id) {
  STRATA_ASSIGN_OR_RETURN(auto snaps, catalog_->SnapshotsOfVolume(volume_id));
  for (const auto& s : snaps) {
    if (s.store_key) STRATA_RETURN_IF_ERROR(DeleteStored(*s.store_key));
    // The memory taken with it (issue 21), stored and here.
    if (!s.memory_store_key.empty() && s.memory_state != "deleted")
      STRATA_RETURN_IF_ERROR(DeleteStored(s.memory_store_key));
    if (!s.memory_region.empty() && s.memory_state != "deleted")
      STRATA_RETURN_IF_ERROR(ReleaseMemoryRegion(s.memory_region));
    STRATA_RETURN_IF_ERROR(catalog_->DeleteSnapshot(s.id));
  }
  return Status::OK();
}

void LayerTransfer::RetryPendingDeletes() {
  auto keys = catalog_->PendingDeletes();
  if (!keys.ok()) {
    LogWarning("pending deletes: " + keys.status().ToString());
    return;
  }
  for (const auto& key : *keys) {
    Status s = store_->Delete(key, {});
    if (!s.ok()) {  // still down: the rest waits for the next chance
      // The key is queued already; this only notes the latest failure.
      LogIfError(catalog_->AddPendingDelete(key, s.ToString()),
                 "pending delete of " + key);
      return;
    }
    // A row left behind deletes an absent object next time: idempotent.
    LogIfError(catalog_->RemovePendingDelete(key), "pending delete of " + key);
    LogInfo("deleted " + key + " from the store (a delete queued earlier)");
  }
}

}  // namespace strata::engine
