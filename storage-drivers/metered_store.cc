// Store traffic counted for /metrics. See metered_store.h.
#include "storage-drivers/metered_store.h"

#include "storage-drivers/store_wrapper.h"
#include "util/metrics.h"
#include "util/time_util.h"

namespace strata::store {
namespace {

constexpr char kBytes[] = "strata_store_bytes_total";
constexpr char kErrors[] = "strata_store_errors_total";
constexpr char kSeconds[] = "strata_store_request_duration_seconds";

class CountingSource : public ByteSource {
 public:
  explicit CountingSource(ByteSource& next) : next_(next) {}
  Result<size_t> Read(char* buf, size_t n) override {
    auto got = next_.Read(buf, n);
    if (got.ok()) bytes += *got;
    return got;
  }
  uint64_t bytes = 0;

 private:
  ByteSource& next_;
};

class CountingSink : public ByteSink {
 public:
  explicit CountingSink(ByteSink& next) : next_(next) {}
  Status Write(const char* buf, size_t n) override {
    Status s = next_.Write(buf, n);
    if (s.ok()) bytes += n;
    return s;
  }
  uint64_t bytes = 0;

 private:
  ByteSink& next_;
};

// Records one call's duration, and its failure if it failed.
Status Record(const std::string& store, const char* op, int64_t t0,
              const Status& s) {
  metrics::Observe(kSeconds, {{"operation", op}, {"store", store}},
                   (MonotonicMicros() - t0) / 1e6);
  // A Stat or Get of an absent object is an answer, not a store error.
  if (!s.ok() && !s.IsNotFound())
    metrics::Add(kErrors, {{"code", StatusCodeName(s.code())},
                           {"operation", op},
                           {"store", store}});
  return s;
}

class MeteredStore : public StoreWrapper {
 public:
  explicit MeteredStore(std::unique_ptr<Store> next)
      : StoreWrapper(std::move(next)) {
    metrics::Describe(kBytes, metrics::Type::kCounter,
                      "Bytes of layers put into and got from the store "
                      "(before relay stages), by direction.");
    metrics::Describe(kErrors, metrics::Type::kCounter,
                      "Store calls that failed, by operation and status.");
    metrics::Describe(kSeconds, metrics::Type::kHistogram,
                      "Store calls' durations, by operation.");
  }

  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override {
    const int64_t t0 = MonotonicMicros();
    CountingSource counted(src);
    auto r = next().Put(key, counted, opts);
    metrics::Add(kBytes, {{"direction", "put"}, {"store", Name()}},
                 static_cast<double>(counted.bytes));
    STRATA_RETURN_IF_ERROR(Record(Name(), "put", t0, r.status()));
    return r;
  }
  Status Get(const std::string& key, ByteSink& sink,
             const std::string& expected_sha256,
             const RequestOptions& opts) override {
    const int64_t t0 = MonotonicMicros();
    CountingSink counted(sink);
    Status s = next().Get(key, counted, expected_sha256, opts);
    metrics::Add(kBytes, {{"direction", "get"}, {"store", Name()}},
                 static_cast<double>(counted.bytes));
    return Record(Name(), "get", t0, s);
  }
  Result<ObjectInfo> Stat(const std::string& key,
                          const RequestOptions& opts) override {
    const int64_t t0 = MonotonicMicros();
    auto r = next().Stat(key, opts);
    STRATA_RETURN_IF_ERROR(Record(Name(), "stat", t0, r.status()));
    return r;
  }
  Status Delete(const std::string& key, const RequestOptions& opts) override {
    const int64_t t0 = MonotonicMicros();
    return Record(Name(), "delete", t0, next().Delete(key, opts));
  }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix,
                                       const RequestOptions& opts) override {
    const int64_t t0 = MonotonicMicros();
    auto r = next().List(prefix, opts);
    STRATA_RETURN_IF_ERROR(Record(Name(), "list", t0, r.status()));
    return r;
  }
  bool CanLink() const override { return next().CanLink(); }
  Result<std::string> LocalFile(const std::string& key) override {
    return next().LocalFile(key);
  }
};

}  // namespace

std::unique_ptr<Store> MakeMeteredStore(std::unique_ptr<Store> next) {
  return std::make_unique<MeteredStore>(std::move(next));
}

}  // namespace strata::store
