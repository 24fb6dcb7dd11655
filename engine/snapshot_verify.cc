// SnapshotVerifier: see snapshot_verify.h.
#include "engine/snapshot_verify.h"

#include "util/log.h"
#include "util/metrics.h"

namespace strata::engine {
namespace {

// Counts the bytes read back and drops them: the store's Get hashes them on
// the way and compares the digest itself.
class CountingSink : public ByteSink {
 public:
  Status Write(const char*, size_t n) override {
    bytes += n;
    return Status::OK();
  }
  uint64_t bytes = 0;
};

void CountVerify(const std::string& result) {
  static const bool described = [] {
    metrics::Describe("strata_verifies_total", metrics::Type::kCounter,
                      "Verifies of stored layers ended, by result (ok, "
                      "failed).");
    return true;
  }();
  (void)described;
  metrics::Add("strata_verifies_total", {{"result", result}});
}

}  // namespace

Status SnapshotVerifier::Start(const std::string& snapshot_id) {
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s,
                          catalog_->GetSnapshot(snapshot_id));
  if (s.status != "available" || !s.store_key || !s.sha256)
    return Status::Conflict("Snapshot " + snapshot_id +
                            " must be available with a stored "
                            "layer to be verified (it is " +
                            s.status + ").");
  if (s.verify_state == "verifying")
    return Status::Conflict("Snapshot " + snapshot_id +
                            " is being verified already.");
  STRATA_RETURN_IF_ERROR(catalog_->SetSnapshotVerify(snapshot_id, "verifying"));
  runner_.Submit([this, id = snapshot_id, key = *s.store_key, sha = *s.sha256] {
    Run(id, key, sha);
  });
  return Status::OK();
}

void SnapshotVerifier::Run(const std::string& snapshot_id,
                           const std::string& key, const std::string& sha256) {
  CountingSink sink;
  Status s = store_->Get(key, sink, sha256, store::RequestOptions());
  if (s.ok()) {
    LogInfo("verified snapshot " + snapshot_id + ": " +
            std::to_string(sink.bytes) + " bytes of " + key +
            " read back, SHA-256 as recorded");
  } else {
    LogWarning("verify of snapshot " + snapshot_id +
               " failed: " + s.ToString());
  }
  CountVerify(s.ok() ? "ok" : "failed");
  LogIfError(PersistWithRetry([&] {
               return catalog_->SetSnapshotVerify(snapshot_id,
                                                  s.ok() ? "ok" : "failed",
                                                  s.ok() ? "" : s.message());
             }),
             "recording the verify of snapshot " + snapshot_id);
}

}  // namespace strata::engine
