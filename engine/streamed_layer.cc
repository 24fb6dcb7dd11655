// StreamedLayer: a stored layer served while it downloads
// (streamed_layer.h).
#include "engine/streamed_layer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "engine/layer_fetch.h"
#include "util/guarded.h"
#include "util/log.h"
#include "util/open_beneath.h"

namespace strata::engine {

uint64_t UpperFileSize(uint64_t virtual_size) {
  return virtual_size + virtual_size / 16 + (64ull << 20);
}

std::shared_ptr<StreamedLayer> StreamedLayer::Start(store::Store* store,
                                                    db::SnapshotRecord snap,
                                                    std::string path,
                                                    Options options) {
  std::shared_ptr<StreamedLayer> layer(
      new StreamedLayer(store, std::move(snap), std::move(path), options));
  layer->thread_ = std::thread([raw = layer.get()] {
    RunLogged("engine.streamed_layer", [raw] { raw->Run(); });
  });
  return layer;
}

Result<std::shared_ptr<StreamedLayer>> StreamedLayer::Whole(
    db::SnapshotRecord snap, std::string path) {
  STRATA_ASSIGN_OR_RETURN(UniqueFd fd, OpenFileNoSymlinks(path, O_RDONLY));
  STRATA_ASSIGN_OR_RETURN(uint64_t size, FileSize(path));
  std::shared_ptr<StreamedLayer> layer(
      new StreamedLayer(nullptr, std::move(snap), std::move(path), {}));
  layer->served_ = std::make_shared<UniqueFd>(std::move(fd));
  layer->file_size_ = layer->final_below_ = size;
  layer->whole_ = true;
  return layer;
}

StreamedLayer::StreamedLayer(store::Store* store, db::SnapshotRecord snap,
                             std::string path, Options options)
    : store_(store),
      snap_(std::move(snap)),
      path_(std::move(path)),
      options_(options),
      size_(UpperFileSize(static_cast<uint64_t>(snap_.virtual_size))) {}

StreamedLayer::~StreamedLayer() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

void StreamedLayer::Stop() {
  std::lock_guard<std::mutex> l(mu_);
  stopped_ = true;
  changed_.notify_all();
}

Status StreamedLayer::Wait() {
  std::unique_lock<std::mutex> l(mu_);
  changed_.wait(l, [&] { return whole_ || !failed_.ok() || stopped_; });
  if (whole_) return Status::OK();
  if (!failed_.ok()) return failed_;
  return Status::Unavailable("the download of " + path_ + " was stopped",
                             false);
}

std::optional<Status> StreamedLayer::WaitFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> l(mu_);
  if (!changed_.wait_for(l, d,
                         [&] { return whole_ || !failed_.ok() || stopped_; }))
    return std::nullopt;
  l.unlock();
  return Wait();
}

uint64_t StreamedLayer::Downloaded() {
  std::lock_guard<std::mutex> l(mu_);
  return whole_ ? file_size_ : final_below_;
}

int StreamedLayer::Attempts() {
  std::lock_guard<std::mutex> l(mu_);
  return attempts_;
}

void StreamedLayer::Run() {
  for (;;) {
    int attempt;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopped_) return;
      attempt = ++attempts_;
    }
    std::shared_ptr<UniqueFd> mine;  // this attempt's file
    DownloadWatch watch;
    watch.on_open = [&](const std::string& temp) {
      auto fd = OpenFileNoSymlinks(temp, O_RDONLY);
      if (fd.ok()) mine = std::make_shared<UniqueFd>(std::move(*fd));
    };
    watch.on_written = [&](uint64_t below) {
      if (!mine) return;
      std::lock_guard<std::mutex> l(mu_);
      // The same object's bytes, whichever attempt wrote them: the one
      // that got furthest serves.
      if (below > final_below_) {
        served_ = mine;
        final_below_ = below;
        changed_.notify_all();
      }
    };
    watch.stopped = [&] {
      std::lock_guard<std::mutex> l(mu_);
      return stopped_;
    };
    watch.request.stall_timeout = options_.stall_timeout;
    Status s = DownloadLayer(*store_, snap_, path_, /*durable=*/true, watch);
    if (s.ok() && !mine) s = Status::IoError("cannot read back " + path_);
    auto size = s.ok() ? FileSize(path_) : Result<uint64_t>(s);
    std::unique_lock<std::mutex> l(mu_);
    if (size.ok()) {
      served_ = mine;
      file_size_ = *size;
      final_below_ = std::max(final_below_, *size);
      whole_ = true;
      changed_.notify_all();
      return;
    }
    s = size.status();
    if (stopped_) return;
    if (s.code() != StatusCode::kUnavailable && !s.retryable()) {
      LogError("layer of snapshot " + snap_.id + " for " + path_ + ": " +
               s.ToString());
      failed_ = s;
      changed_.notify_all();
      return;
    }
    LogWarning("layer of snapshot " + snap_.id + " for " + path_ +
               ": attempt " + std::to_string(attempt) + " failed after " +
               std::to_string(final_below_ >> 20) + " MiB (" + s.ToString() +
               "); asking the store again");
    changed_.wait_for(l, options_.retry_pause, [&] { return stopped_; });
  }
}

Status StreamedLayer::Pread(void* buf, uint32_t count, uint64_t offset) {
  const uint64_t end = offset + count;
  std::shared_ptr<UniqueFd> fd;
  uint64_t file_end;
  {
    std::unique_lock<std::mutex> l(mu_);
    changed_.wait(l, [&] {
      return stopped_ || whole_ || !failed_.ok() || final_below_ >= end;
    });
    if (stopped_)
      return Status::Unavailable("the layer " + path_ + " is no longer served",
                                 false);
    // Once it is known not to be what was stored, none of it is served.
    if (!failed_.ok())
      return Status::IoError("the layer " + path_ +
                             " cannot be read: " + failed_.ToString());
    fd = served_;
    file_end = whole_ ? file_size_ : end;
  }
  char* out = static_cast<char*>(buf);
  const uint64_t have =
      offset >= file_end ? 0 : std::min<uint64_t>(count, file_end - offset);
  size_t done = 0;
  while (done < have) {
    ssize_t r = ::pread(fd->get(), out + done, have - done,
                        static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno("pread " + path_, errno);
    if (r == 0) break;  // a hole at the end of a file still growing
    done += static_cast<size_t>(r);
  }
  std::memset(out + done, 0, count - done);
  return Status::OK();
}

Status StreamedLayer::Pwrite(const void*, uint32_t, uint64_t, bool) {
  return Status::NotSupported("a stored layer is served read-only");
}

Status StreamedLayer::Trim(uint32_t, uint64_t, bool) {
  return Status::NotSupported("a stored layer is served read-only");
}

Status StreamedLayer::Zero(uint32_t, uint64_t, bool, bool) {
  return Status::NotSupported("a stored layer is served read-only");
}

}  // namespace strata::engine
