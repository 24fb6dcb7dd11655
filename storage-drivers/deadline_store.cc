// Bounded store calls. See deadline_store.h.
#include "storage-drivers/deadline_store.h"

#include "storage-drivers/store_wrapper.h"

namespace strata::store {
namespace {

class DeadlineStore : public StoreWrapper {
 public:
  DeadlineStore(std::unique_ptr<Store> next, StoreLimits limits)
      : StoreWrapper(std::move(next)), limits_(limits) {}

  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override {
    return next().Put(key, src, Transfer(opts));
  }
  Status Get(const std::string& key, ByteSink& sink,
             const std::string& expected_sha256,
             const RequestOptions& opts) override {
    return next().Get(key, sink, expected_sha256, Transfer(opts));
  }
  Result<ObjectInfo> Stat(const std::string& key,
                          const RequestOptions& opts) override {
    return next().Stat(key, Metadata(opts));
  }
  Status Delete(const std::string& key, const RequestOptions& opts) override {
    return next().Delete(key, Metadata(opts));
  }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix,
                                       const RequestOptions& opts) override {
    return next().List(prefix, Metadata(opts));
  }
  bool CanLink() const override { return next().CanLink(); }
  Result<std::string> LocalFile(const std::string& key) override {
    return next().LocalFile(key);
  }

 private:
  RequestOptions Transfer(const RequestOptions& opts) const {
    RequestOptions o = opts;
    if (o.stall_timeout.count() == 0) o.stall_timeout = limits_.stall_timeout;
    return o;
  }
  RequestOptions Metadata(const RequestOptions& opts) const {
    RequestOptions o = Transfer(opts);
    if (o.timeout.count() == 0) o.timeout = limits_.metadata_timeout;
    return o;
  }

  StoreLimits limits_;
};

}  // namespace

std::unique_ptr<Store> MakeDeadlineStore(std::unique_ptr<Store> next,
                                         StoreLimits limits) {
  return std::make_unique<DeadlineStore>(std::move(next), limits);
}

}  // namespace strata::store
