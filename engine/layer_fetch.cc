// Linking or downloading stored layers, verified. See layer_fetch.h.
#include "engine/layer_fetch.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/layer_form.h"
#include "qcow2/qcow2_header.h"
#include "util/file_check.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/open_beneath.h"
#include "util/sha256.h"

namespace strata::engine {

Status LinkStoredLayer(store::Store& store, const db::SnapshotRecord& snap,
                       const std::string& to,
                       const std::optional<Backing>& backing) {
  if (snap.layer_sha256 && *snap.layer_sha256 != *snap.sha256)
    return Status::NotSupported("the stored layer went through relay stages");
  STRATA_ASSIGN_OR_RETURN(std::string from, store.LocalFile(*snap.store_key));
  auto h = qcow2::ReadQcow2Header(from);
  if (!h.ok() || (backing && (h->backing_file != backing->file ||
                              (!backing->file.empty() &&
                               h->backing_format != backing->format))))
    return Status::NotSupported(
        "the stored layer needs a new backing (it "
        "names " +
        (h.ok() ? "'" + h->backing_file + "'" : h.status().ToString()) + ")");
  if (Status l = LinkNoSymlinks(from, to); !l.ok())
    return l.code() == StatusCode::kInvalidArgument
               ? l  // the disk's directory is not what its name says
               : Status::NotSupported(l.message());
  return FsyncDir(DirName(to));
}

Status VerifyLinkedLayer(const db::SnapshotRecord& snap,
                         const std::string& path) {
  if (snap.layer_check && IsFileCheck(*snap.layer_check)) {
    STRATA_ASSIGN_OR_RETURN(std::string check, FileCheck(path, 2));
    if (check == *snap.layer_check) return Status::OK();
    return Status::Corruption("the stored layer of snapshot " + snap.id +
                              " has check " + check + ", expected " +
                              *snap.layer_check);
  }
  STRATA_ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
  if (sha == *snap.sha256) return Status::OK();
  return Status::Corruption("the stored layer of snapshot " + snap.id +
                            " has sha256 " + sha + ", expected " +
                            *snap.sha256);
}

namespace {

// Passes a stream on until its reader says stop.
class StoppableSink : public ByteSink {
 public:
  StoppableSink(ByteSink* inner, const std::function<bool()>& stopped)
      : inner_(inner), stopped_(stopped) {}
  Status Write(const char* buf, size_t n) override {
    if (stopped_ && stopped_())
      return Status::Unavailable("the download was stopped", false);
    return inner_->Write(buf, n);
  }

 private:
  ByteSink* inner_;
  const std::function<bool()>& stopped_;
};

}  // namespace

Status DownloadLayer(store::Store& store, const db::SnapshotRecord& snap,
                     const std::string& to, bool durable) {
  return DownloadLayer(store, snap, to, durable, DownloadWatch{});
}

Status DownloadLayer(store::Store& store, const db::SnapshotRecord& snap,
                     const std::string& to, bool durable,
                     const DownloadWatch& watch) {
  FileSinkOptions file;
  file.write_behind = durable;
  file.durable = durable;
  file.on_written = watch.on_written;
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<FileSink> sink,
                          FileSink::Create(to, file));
  if (watch.on_open) watch.on_open(sink->temp_path());
  // The layer's own digest, once relay stages are undone (R1.3). Without
  // stages it is the stored bytes' digest, which the store's Get checks
  // over the same bytes already: hashed once, not twice.
  LayerFileSink layer(sink.get(), snap.layer_sha256 != snap.sha256
                                      ? snap.layer_sha256.value_or("")
                                      : "");
  StoppableSink stoppable(&layer, watch.stopped);
  // On any failure `sink` unlinks its temp file: nothing lands at `to`.
  STRATA_RETURN_IF_ERROR(
      store.Get(*snap.store_key, stoppable, *snap.sha256, watch.request));
  STRATA_RETURN_IF_ERROR(layer.Finish());
  return sink->Commit();
}

Result<std::vector<db::SnapshotRecord>> StoredLineage(
    db::Catalog* catalog, const db::SnapshotRecord& target) {
  std::vector<db::SnapshotRecord> lineage;
  std::optional<std::string> cur = target.id;
  while (cur) {
    if (lineage.size() > 100000)
      return Status::Internal("snapshot lineage loops at " + *cur);
    STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, catalog->GetSnapshot(*cur));
    if (!s.store_key || !s.sha256)
      return Status::Conflict("snapshot " + s.id + " in the lineage of " +
                              target.id + " has no stored layer");
    cur = s.parent_id;
    lineage.insert(lineage.begin(), std::move(s));
  }
  return lineage;
}

Status FetchLayerToRead(store::Store& store, const db::SnapshotRecord& snap,
                        const std::string& to) {
  Status l = LinkStoredLayer(store, snap, to, std::nullopt);
  if (l.ok()) {
    Status v = VerifyLinkedLayer(snap, to);
    if (!v.ok())
      LogIfError(RemoveFileNoSymlinks(to),
                 "cleanup (garbage collection retries)");
    return v;
  }
  if (l.code() != StatusCode::kNotSupported) return l;
  return DownloadLayer(store, snap, to, /*durable=*/false);
}

}  // namespace strata::engine
