// Bandwidth-capping store decorator. See rate_limited_store.h.
#include "storage-drivers/rate_limited_store.h"

#include <chrono>
#include <thread>

#include "storage-drivers/store_wrapper.h"

namespace strata::store {
namespace {

// Sleeps so that `done` bytes take at least done / rate seconds from start.
class Pacer {
 public:
  explicit Pacer(uint64_t rate)
      : rate_(rate), start_(std::chrono::steady_clock::now()) {}
  void Account(size_t n) {
    done_ += n;
    auto due = start_ + std::chrono::microseconds(done_ * 1000000 / rate_);
    std::this_thread::sleep_until(due);
  }

 private:
  uint64_t rate_;
  std::chrono::steady_clock::time_point start_;
  uint64_t done_ = 0;
};

class PacedSource : public ByteSource {
 public:
  PacedSource(ByteSource& inner, uint64_t rate) : inner_(inner), pacer_(rate) {}
  Result<size_t> Read(char* buf, size_t n) override {
    auto r = inner_.Read(buf, n);
    if (r.ok()) pacer_.Account(*r);
    return r;
  }

 private:
  ByteSource& inner_;
  Pacer pacer_;
};

class PacedSink : public ByteSink {
 public:
  PacedSink(ByteSink& inner, uint64_t rate) : inner_(inner), pacer_(rate) {}
  Status Write(const char* buf, size_t n) override {
    Status s = inner_.Write(buf, n);
    if (s.ok()) pacer_.Account(n);
    return s;
  }

 private:
  ByteSink& inner_;
  Pacer pacer_;
};

class RateLimitedStore : public StoreWrapper {
 public:
  RateLimitedStore(std::unique_ptr<Store> next, uint64_t rate)
      : StoreWrapper(std::move(next)), rate_(rate) {}

  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override {
    PacedSource paced(src, rate_);
    return next().Put(key, paced, opts);
  }
  Status Get(const std::string& key, ByteSink& sink,
             const std::string& expected_sha256,
             const RequestOptions& opts) override {
    PacedSink paced(sink, rate_);
    return next().Get(key, paced, expected_sha256, opts);
  }

 private:
  uint64_t rate_;
};

}  // namespace

std::unique_ptr<Store> MakeRateLimitedStore(std::unique_ptr<Store> next,
                                            uint64_t bytes_per_second) {
  if (bytes_per_second == 0) return next;
  return std::make_unique<RateLimitedStore>(std::move(next), bytes_per_second);
}

}  // namespace strata::store
