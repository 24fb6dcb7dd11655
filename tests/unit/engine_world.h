// Test helpers: a store that fails uploads on demand (the fault a local
// directory store cannot produce by itself), and an engine on a real
// catalog and local store in a temp dir, for tests of the parts above the
// engine.
// Thread-safety: one per test.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>

#include "db/catalog.h"
#include "engine/engine.h"
#include "storage-drivers/store_registry.h"
#include "temp_dir.h"
#include "util/fs.h"

namespace strata::testing {

// Forwards to `next`, failing Put while `fail` is set; keeps the labels of
// each key's last Put (the local store keeps none).
class FailingStore : public store::Store {
 public:
  explicit FailingStore(store::Store* next) : next_(next) {}
  bool fail = false;
  std::map<std::string, std::map<std::string, std::string>> labels;
  std::string Name() const override { return next_->Name(); }
  Result<store::ObjectInfo> Put(const std::string& k, ByteSource& s,
                                const store::RequestOptions& o) override {
    if (fail) return Status::IoError("injected upload failure");
    labels[k] = o.labels;
    return next_->Put(k, s, o);
  }
  Status Get(const std::string& k, ByteSink& s, const std::string& sha,
             const store::RequestOptions& o) override {
    return next_->Get(k, s, sha, o);
  }
  Result<store::ObjectInfo> Stat(const std::string& k,
                                 const store::RequestOptions& o) override {
    return next_->Stat(k, o);
  }
  Status Delete(const std::string& k, const store::RequestOptions& o) override {
    return next_->Delete(k, o);
  }
  Result<std::vector<store::ObjectInfo>> List(
      const std::string& p, const store::RequestOptions& o) override {
    return next_->List(p, o);
  }

 private:
  store::Store* next_;
};

// A catalog, a local store behind a FailingStore, and an engine managing
// `disks` (also its shared base directory), recovered and ready.
struct EngineWorld {
  TempDir tmp;  // declared first: removed last
  std::string disks = tmp.path + "/disks";
  std::unique_ptr<db::Catalog> catalog;
  std::unique_ptr<store::Store> local;
  std::unique_ptr<FailingStore> store;
  std::unique_ptr<engine::Engine> engine;

  EngineWorld() {
    REQUIRE(MakeDirs(disks).ok());
    auto c = db::Catalog::Open(tmp.path + "/catalog.db");
    REQUIRE(c.ok());
    catalog = std::move(*c);
    store::RegisterBuiltinStores();
    auto s =
        store::StoreRegistry::Global().Create("local:" + tmp.path + "/store");
    REQUIRE(s.ok());
    local = std::move(*s);
    store = std::make_unique<FailingStore>(local.get());
    engine::EngineOptions o;
    o.allowed_dirs = {*CanonicalPath(disks)};
    o.shared_base_dirs = {*CanonicalPath(disks)};
    o.upload_attempts = 1;
    engine = std::make_unique<engine::Engine>(catalog.get(), store.get(), o);
    REQUIRE(engine->Recover().ok());
  }
  ~EngineWorld() { engine.reset(); }
};

}  // namespace strata::testing
