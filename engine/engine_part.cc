// The engine's shared context and its parts' base. See engine_part.h.
#include "engine/engine_part.h"

#include <chrono>
#include <thread>

#include "util/guarded.h"
#include "util/log.h"

namespace strata::engine {

EngineContext::EngineContext(db::Catalog* catalog, store::Store* store,
                             EngineOptions options, hypervisor::Hypervisor* hv)
    : catalog(catalog),
      store(store),
      hv(hv),
      opts(std::move(options)),
      confinement(opts.allowed_dirs, opts.shared_base_dirs),
      remover(1, 19),
      reaper(1, 19),
      runner(opts.workers, opts.worker_nice) {}

Status PersistWithRetry(const std::function<Status()>& write) {
  Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
    s = write();
    if (s.ok()) return s;
  }
  return s;
}

EnginePart::EnginePart(EngineContext& ctx)
    : catalog_(ctx.catalog),
      store_(ctx.store),
      hv_(ctx.hv),
      holder_(ctx.holder),
      opts_(ctx.opts),
      confinement_(ctx.confinement),
      locks_(ctx.locks),
      remover_(ctx.remover),
      reaper_(ctx.reaper),
      runner_(ctx.runner) {}

void EnginePart::Launch(
    std::shared_ptr<VolumeLease> lease,
    std::function<void(std::shared_ptr<VolumeLease>&)> body) {
  runner_.Submit([lease = std::move(lease), body = std::move(body)]() mutable {
    // released by the body, or when this job is destroyed
    RunLogged("engine.task", [&] { body(lease); });
  });
}

void EnginePart::SettleSnapshotStatus(const std::string& id,
                                      const std::string& status, int progress,
                                      const std::string& error) {
  Status s = PersistWithRetry(
      [&] { return catalog_->SetSnapshotStatus(id, status, progress, error); });
  if (!s.ok())
    LogError("snapshot " + id + ": its status " + status +
             " could not be written: " + s.ToString());
}

void EnginePart::SettleVolumeStatus(const std::string& id,
                                    const std::string& status) {
  Status s = PersistWithRetry([&] {
    return catalog_->ModifyVolume(id, [&](db::VolumeRecord& v) {
      v.status = status;
      return Status::OK();
    });
  });
  if (!s.ok())
    LogError("volume " + id + ": its status " + status +
             " could not be written: " + s.ToString());
}

Status EnginePart::MarkReverting(const db::VolumeRecord& vol,
                                 const db::SnapshotRecord& snap) {
  STRATA_RETURN_IF_ERROR(
      catalog_->ModifyVolume(vol.id, [](db::VolumeRecord& v) {
        v.status = "reverting";
        return Status::OK();
      }));
  return catalog_->SetSnapshotStatus(snap.id, "restoring", snap.progress);
}

}  // namespace strata::engine
