// StoreRegistry: builds a Store from a spec string "<scheme>:<rest>", e.g.
// "local:/var/lib/strata/store", so configuration names a backend and the
// engine never names a concrete driver class.
//
// Drivers are registered explicitly by RegisterBuiltinStores() (static-init
// registration in static libraries is dropped by the linker); tests may
// register fakes under their own schemes.
//
// Thread-safety: Register, Create and Schemes may be called from any thread.
// Factories run outside the registry lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage-drivers/store.h"
#include "util/status.h"

namespace strata::store {

// Builds a store from the whole spec (scheme included). InvalidArgument for a
// malformed spec.
using StoreFactory =
    std::function<Result<std::unique_ptr<Store>>(const std::string& spec)>;

class StoreRegistry {
 public:
  // The process-wide registry.
  static StoreRegistry& Global();

  // Registers `f` for `scheme`, replacing any earlier factory for it.
  void Register(const std::string& scheme, StoreFactory f);
  // Splits `spec` at the first ':' and calls that scheme's factory with the
  // whole spec. Unknown scheme → InvalidArgument listing the known ones.
  Result<std::unique_ptr<Store>> Create(const std::string& spec) const;
  // The registered schemes, sorted.
  std::vector<std::string> Schemes() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, StoreFactory> factories_;  // GUARDED_BY(mu_)
};

// Registers the built-in drivers ("local" for now) in the global registry.
// Idempotent: only the first call registers.
void RegisterBuiltinStores();

}  // namespace strata::store
