// The spec-string → Store registry and the list of built-in drivers. See
// store_registry.h.
#include "storage-drivers/store_registry.h"

#include "storage-drivers/dav/dav_store.h"
#include "storage-drivers/glance/glance_store.h"
#include "storage-drivers/local/local_store.h"
#include "storage-drivers/swift/swift_store.h"

namespace strata::store {

StoreRegistry& StoreRegistry::Global() {
  static StoreRegistry* registry = new StoreRegistry();  // never destroyed
  return *registry;
}

void StoreRegistry::Register(const std::string& scheme, StoreFactory f) {
  std::lock_guard<std::mutex> lock(mu_);
  factories_[scheme] = std::move(f);
}

Result<std::unique_ptr<Store>> StoreRegistry::Create(
    const std::string& spec) const {
  size_t colon = spec.find(':');
  if (colon == std::string::npos || colon == 0)
    return Status::InvalidArgument("store spec '" + spec +
                                   "' is not <scheme>:<config>");
  std::string scheme = spec.substr(0, colon);
  StoreFactory factory;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = factories_.find(scheme);
    if (it != factories_.end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    for (const std::string& s : Schemes())
      known += (known.empty() ? "" : ", ") + s;
    return Status::InvalidArgument(
        "unknown store scheme '" + scheme +
        "' (known: " + (known.empty() ? "none" : known) + ")");
  }
  return factory(spec);
}

std::vector<std::string> StoreRegistry::Schemes() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [scheme, factory] : factories_) out.push_back(scheme);
  return out;  // std::map keeps them sorted
}

void RegisterBuiltinStores() {
  static std::once_flag once;
  std::call_once(once, [] {
    StoreRegistry::Global().Register(LocalStore::kScheme, &LocalStore::Create);
    StoreRegistry::Global().Register(DavStore::kScheme, &DavStore::Create);
    StoreRegistry::Global().Register(GlanceStore::kScheme,
                                     &GlanceStore::Create);
    StoreRegistry::Global().Register(SwiftStore::kScheme, &SwiftStore::Create);
  });
}

}  // namespace strata::store
