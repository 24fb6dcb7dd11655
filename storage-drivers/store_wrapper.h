// StoreWrapper: the base of Store decorators (bandwidth cap, relay stages),
// after RocksDB's EnvWrapper. It forwards every call to the wrapped store;
// a decorator overrides only what it changes (usually Put and Get).
// CanLink and LocalFile are deliberately not forwarded: a decorator that
// must see every transfer (pacing, compression) would be bypassed by a hard
// link.
//
// Thread-safety: as safe as the wrapped store.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage-drivers/store.h"

namespace strata::store {

class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(std::unique_ptr<Store> next) : next_(std::move(next)) {}

  std::string Name() const override { return next_->Name(); }
  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override {
    return next_->Put(key, src, opts);
  }
  Status Get(const std::string& key, ByteSink& sink,
             const std::string& expected_sha256,
             const RequestOptions& opts) override {
    return next_->Get(key, sink, expected_sha256, opts);
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

 protected:
  Store& next() { return *next_; }
  const Store& next() const { return *next_; }
  // `opts` with `stage` added to the "relay" label ("zstd,aes-256-gcm": the
  // stages a Put's bytes went through, in order), for the stores that keep
  // labels: such an object is no longer a plain qcow2.
  // True for a relay stage's Put that no other stage wraps: that stage sees
  // the caller's own bytes and sets ObjectInfo::content_sha256 (inner
  // stages would only hash bytes already transformed).
  static bool IsOutermostStage(const RequestOptions& opts) {
    return opts.labels.count("relay") == 0;
  }
  static RequestOptions WithRelayStage(const RequestOptions& opts,
                                       const std::string& stage) {
    RequestOptions o = opts;
    std::string& relay = o.labels["relay"];
    relay += (relay.empty() ? "" : ",") + stage;
    return o;
  }

 private:
  std::unique_ptr<Store> next_;
};

}  // namespace strata::store
