// StreamedLayer (issue 19, R1.8): a stored layer served over NBD while it
// downloads. The layer is a real qcow2 file (qemu-img, qemu-io), stored in a
// real local store behind the zstd relay stage (so it cannot be linked),
// and read back through Strata's NBD server by qemu-io as a qcow2 image.
// A gate around the store's Get holds or breaks the stream at a chosen
// byte: the faults (a slow store, an outage mid-stream) that a local store
// cannot produce on demand.
#include "engine/streamed_layer.h"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "engine/layer_form.h"
#include "nbd/server.h"
#include "storage-drivers/relay/zstd_store.h"
#include "storage-drivers/store_registry.h"
#include "temp_dir.h"
#include "util/subprocess.h"

namespace {

using namespace strata;
using strata::engine::StreamedLayer;

// Passes the Get's stream on, but stops at `hold_at` bytes until Release(),
// and (once, when `fail_at` is set) fails the Get there as an outage would.
class GatedStore : public store::Store {
 public:
  explicit GatedStore(std::unique_ptr<store::Store> next)
      : next_(std::move(next)) {}
  std::string Name() const override { return "gated:" + next_->Name(); }
  Result<store::ObjectInfo> Put(const std::string& key, ByteSource& src,
                                const store::RequestOptions& o) override {
    return next_->Put(key, src, o);
  }
  Result<store::ObjectInfo> Stat(const std::string& key,
                                 const store::RequestOptions& o) override {
    return next_->Stat(key, o);
  }
  Status Delete(const std::string& key,
                const store::RequestOptions& o) override {
    return next_->Delete(key, o);
  }
  Result<std::vector<store::ObjectInfo>> List(
      const std::string& prefix, const store::RequestOptions& o) override {
    return next_->List(prefix, o);
  }
  Status Get(const std::string& key, ByteSink& sink, const std::string& sha,
             const store::RequestOptions& o) override {
    gets++;
    Gate gate(this, &sink);
    return next_->Get(key, gate, sha, o);
  }

  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::atomic<uint64_t> hold_at{UINT64_MAX}, fail_at{UINT64_MAX};
  std::atomic<int> gets{0};
  std::atomic<bool> holding{false};

 private:
  struct Gate : ByteSink {
    Gate(GatedStore* s, ByteSink* inner) : s(s), inner(inner) {}
    Status Write(const char* buf, size_t n) override {
      for (size_t done = 0; done < n;) {
        const uint64_t stop = std::min(s->hold_at.load(), s->fail_at.load());
        size_t part = n - done;
        if (at < stop) part = std::min<uint64_t>(part, stop - at);
        if (at == s->fail_at) {
          s->fail_at = UINT64_MAX;  // once
          return Status::Unavailable("connection reset by the gate");
        }
        if (at == s->hold_at) {
          std::unique_lock<std::mutex> l(s->mu_);
          s->holding = true;
          s->cv_.wait(l, [&] { return s->released_; });
          s->holding = false;
          s->hold_at = UINT64_MAX;
          continue;
        }
        STRATA_RETURN_IF_ERROR(inner->Write(buf + done, part));
        done += part;
        at += part;
      }
      return Status::OK();
    }
    GatedStore* s;
    ByteSink* inner;
    uint64_t at = 0;
  };
  std::unique_ptr<store::Store> next_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

constexpr uint64_t kDisk = 64ull << 20;

struct World {
  testing::TempDir dir{"strata-streamed", "/var/tmp"};
  GatedStore* gated = nullptr;
  std::unique_ptr<store::Store> store;
  db::SnapshotRecord snap;
  std::string layer;  // the layer file as made (about 12 MiB)
  nbd::NbdServer server{dir.File("nbd")};

  World() {
    store::RegisterBuiltinStores();
    auto local =
        store::StoreRegistry::Global().Create("local:" + dir.File("s"));
    REQUIRE(local.ok());
    auto g = std::make_unique<GatedStore>(
        store::MakeZstdStore(std::move(*local), 1));
    gated = g.get();
    store = std::move(g);
    // A layer with 8 MiB of 0x5a at 1 MiB and 4 MiB of 0xa5 at 40 MiB,
    // and random bytes so zstd cannot shrink it to nothing.
    layer = dir.File("layer.qcow2");
    REQUIRE(RunChecked({"qemu-img", "create", "-q", "-f", "qcow2", layer,
                        std::to_string(kDisk)})
                .ok());
    REQUIRE(RunChecked({"qemu-io", "-c", "write -P 0x5a 1M 8M", "-c",
                        "write -P 0xa5 40M 4M", layer})
                .ok());
    auto src = engine::LayerSource::Open(layer);
    REQUIRE(src.ok());
    auto put = store->Put("layers/l1", **src, {});
    REQUIRE(put.ok());
    snap.id = "snap-1";
    snap.store_key = "layers/l1";
    snap.sha256 = put->sha256;
    snap.layer_sha256 =
        put->content_sha256.empty() ? put->sha256 : put->content_sha256;
    snap.virtual_size = static_cast<int64_t>(kDisk);
  }
  StreamedLayer::Options Fast() {
    StreamedLayer::Options o;
    o.retry_pause = std::chrono::milliseconds(50);
    return o;
  }
  // qemu-io over the export as a qcow2 image: its exit code and output.
  std::pair<int, std::string> QemuIo(const std::string& export_name,
                                     const std::string& cmd) {
    const std::string url = "nbd+unix:///" + export_name +
                            "?socket=" + server.SocketPath(export_name);
    auto r = RunProcess({"qemu-io", "-r", "-f", "qcow2", "-c", cmd, url}, {});
    REQUIRE(r.ok());
    return {r->exit_code, r->out + r->err};
  }
};

// A layer whose download the gate holds at `hold_at` bytes.
std::shared_ptr<StreamedLayer> StartHeld(World& w, uint64_t hold_at) {
  w.gated->hold_at = hold_at;
  auto layer = StreamedLayer::Start(w.store.get(), w.snap,
                                    w.dir.File("mirror.qcow2"), w.Fast());
  while (!w.gated->holding) std::this_thread::yield();
  return layer;
}

// A 4 KiB read at `offset` on a thread of its own: its status.
std::future<Status> ReadLater(const std::shared_ptr<StreamedLayer>& layer,
                              uint64_t offset) {
  return std::async(std::launch::async, [layer, offset] {
    std::string b(4096, 'x');
    return layer->Pread(b.data(), 4096, offset);
  });
}

bool Filled(const std::string& buf, char c) {
  return buf.find_first_not_of(c) == std::string::npos;
}

TEST_CASE("a held download: reads of what arrived are served, the rest wait") {
  World w;
  auto layer = StartHeld(w, 256 << 10);  // the header and tables, not data
  REQUIRE(layer->Downloaded() <= (256u << 10));
  // Below what arrived: served now.
  std::string head(4096, 'x');
  REQUIRE(layer->Pread(head.data(), 4096, 0).ok());
  CHECK(head.compare(0, 4, "QFI\xfb") == 0);
  // Past it: waits until the gate opens.
  auto late = std::async(std::launch::async, [&] {
    std::string b(65536, 'x');
    Status s = layer->Pread(b.data(), 65536, 6ull << 20);
    return std::make_pair(s, b);
  });
  CHECK(late.wait_for(std::chrono::milliseconds(300)) ==
        std::future_status::timeout);
  w.gated->Release();
  auto [s, b] = late.get();
  REQUIRE(s.ok());
  REQUIRE(layer->Wait().ok());
  // The whole file at its path, byte for byte the layer that was stored.
  auto want = ReadSmallFile(w.layer, 256 << 20);
  auto got = ReadSmallFile(w.dir.File("mirror.qcow2"), 256 << 20);
  REQUIRE(want.ok());
  REQUIRE(got.ok());
  CHECK(*want == *got);
  CHECK(b == want->substr(6ull << 20, 65536));
  CHECK(layer->Attempts() == 1);
}

TEST_CASE("served over NBD, a qcow2 client reads the layer's data") {
  World w;
  auto layer = StreamedLayer::Start(w.store.get(), w.snap,
                                    w.dir.File("mirror.qcow2"), w.Fast());
  REQUIRE(w.server.AddExport("l1", layer).ok());
  auto [rc, out] = w.QemuIo("l1", "read -P 0x5a 1M 8M");
  CHECK_MESSAGE(rc == 0, out);
  CHECK_MESSAGE(out.find("Pattern verification failed") == std::string::npos,
                out);
  std::tie(rc, out) = w.QemuIo("l1", "read -P 0xa5 40M 4M");
  CHECK_MESSAGE(out.find("Pattern verification failed") == std::string::npos,
                out);
  // A wrong pattern is noticed: the check above can fail.
  std::tie(rc, out) = w.QemuIo("l1", "read -P 0x11 1M 64k");
  CHECK(out.find("Pattern verification failed") != std::string::npos);
  REQUIRE(w.server.RemoveExport("l1").ok());
  CHECK(!PathExists(w.server.SocketPath("l1")));
}

TEST_CASE("an outage mid-stream: the store is asked again, reads wait") {
  World w;
  w.gated->fail_at = 2ull << 20;
  auto layer = StreamedLayer::Start(w.store.get(), w.snap,
                                    w.dir.File("mirror.qcow2"), w.Fast());
  std::string b(1 << 20, 'x');
  // Past the break: served once the second attempt gets there.
  REQUIRE(layer->Pread(b.data(), 1 << 20, 10ull << 20).ok());
  REQUIRE(layer->Wait().ok());
  CHECK(layer->Attempts() == 2);
  CHECK(w.gated->gets == 2);
  auto want = ReadSmallFile(w.layer, 256 << 20);
  REQUIRE(want.ok());
  CHECK(b == want->substr(10ull << 20, 1 << 20));
  // Past the file's end (within the export): zeroes.
  std::string tail(4096, 'x');
  REQUIRE(layer->Pread(tail.data(), 4096, layer->Size() - 4096).ok());
  CHECK(Filled(tail, '\0'));
}

TEST_CASE("a stored layer that is not what was stored fails for good") {
  World w;
  w.snap.sha256 = std::string(64, '0');
  auto layer = StartHeld(w, 1 << 20);
  auto late = ReadLater(layer, 40ull << 20);  // past the file's end: waits
  w.gated->Release();
  Status s = layer->Wait();
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK(late.get().code() == StatusCode::kIoError);
  // Nothing of it is served any more, not even what arrived.
  std::string head(4096, 'x');
  CHECK(layer->Pread(head.data(), 4096, 0).code() == StatusCode::kIoError);
  CHECK(layer->Attempts() == 1);
  CHECK(!PathExists(w.dir.File("mirror.qcow2")));
}

TEST_CASE("Stop ends a waiting read") {
  World w;
  auto layer = StartHeld(w, 1 << 20);
  auto late = ReadLater(layer, 10ull << 20);
  layer->Stop();
  CHECK(late.get().code() == StatusCode::kUnavailable);
  w.gated->Release();
  CHECK(layer->Wait().code() == StatusCode::kUnavailable);
}

}  // namespace
