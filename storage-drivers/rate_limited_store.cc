// Bandwidth-capping store decorator. See rate_limited_store.h.
#include "storage-drivers/rate_limited_store.h"

#include <chrono>
#include <thread>

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

class RateLimitedStore : public Store {
 public:
  RateLimitedStore(std::unique_ptr<Store> next, uint64_t rate)
      : next_(std::move(next)), rate_(rate) {}

  std::string Name() const override { return next_->Name(); }
  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override {
    PacedSource paced(src, rate_);
    return next_->Put(key, paced, opts);
  }
  Status Get(const std::string& key, ByteSink& sink,
             const std::string& expected_sha256,
             const RequestOptions& opts) override {
    PacedSink paced(sink, rate_);
    return next_->Get(key, paced, expected_sha256, opts);
  }
  Result<ObjectInfo> Stat(const std::string& key,
                          const RequestOptions& opts) override {
    return next_->Stat(key, opts);
  }
  Status Delete(const std::string& key, const RequestOptions& opts) override {
    return next_->Delete(key, opts);
  }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix,
                                       const RequestOptions& opts) override {
    return next_->List(prefix, opts);
  }

 private:
  std::unique_ptr<Store> next_;
  uint64_t rate_;
};

}  // namespace

std::unique_ptr<Store> MakeRateLimitedStore(std::unique_ptr<Store> next,
                                            uint64_t bytes_per_second) {
  if (bytes_per_second == 0) return next;
  return std::make_unique<RateLimitedStore>(std::move(next), bytes_per_second);
}

}  // namespace strata::store
