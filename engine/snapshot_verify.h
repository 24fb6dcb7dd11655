// SnapshotVerifier: a stored layer read back whole from the store and its
// SHA-256 compared with the one recorded at upload (os-verify, issue 20; as
// Proxmox Backup Server's verify jobs re-read their chunks). Read only: the
// chain, the store and the snapshot's status are never changed, only its
// verify state (db SnapshotRecord::verify_state). Not journalled: a verify
// a restart cuts short is recorded "interrupted" at the next start.
// Thread-safety: Start may be called from any thread; the read runs on the
// engine's runner, without the volume's lease (nothing it reads changes
// under it: a stored object is immutable until its snapshot is deleted,
// and a delete during a verify makes the verify fail, not the delete).
#pragma once

#include <string>

#include "engine/engine_part.h"

namespace strata::engine {

class SnapshotVerifier : public EnginePart {
 public:
  explicit SnapshotVerifier(EngineContext& ctx) : EnginePart(ctx) {}

  // NotFound for an unknown snapshot; Conflict (409) unless it
  // is available with a stored layer, or while a verify of it runs. Then
  // "verifying" is recorded and the read-back starts; it ends "ok", or
  // "failed" with why (a digest mismatch, a missing object, a store error).
  Status Start(const std::string& snapshot_id);

  // At start: verifies a restart cut short are recorded "interrupted".
  Status EndInterrupted() { return catalog_->EndInterruptedVerifies(); }

 private:
  void Run(const std::string& snapshot_id, const std::string& key,
           const std::string& sha256);
};

}  // namespace strata::engine
