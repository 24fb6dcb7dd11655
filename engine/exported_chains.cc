// The snapshot sequence of a disk behind an NBD export. See
// exported_chains.h.
#include "engine/exported_chains.h"

#include "util/log.h"

namespace strata::engine {

void ExportedChains::Add(const std::string& export_name,
                         const std::string& disk, const std::string& socket,
                         std::shared_ptr<nbd::QcowChainBackend> chain,
                         std::shared_ptr<cache::RedirectCache> cache) {
  disk_by_socket_[socket] = disk;
  auto e = std::make_unique<Entry>();
  e->export_name = export_name;
  e->chain = std::move(chain);
  e->cache = std::move(cache);
  by_disk_[disk] = std::move(e);
}

ExportedChains::Entry* ExportedChains::Find(const std::string& disk) {
  auto it = by_disk_.find(disk);
  return it == by_disk_.end() ? nullptr : it->second.get();
}

bool ExportedChains::Holds(const std::string& disk) {
  return Find(disk) != nullptr;
}

Status ExportedChains::AwaitBypass(Entry& e) {
  if (!e.cache->WaitDrainedFor(drain_wait_))
    return Status::Conflict(
        "the redirect cache of NBD export " + e.export_name +
        " is still writing back the previous snapshot's writes (" +
        std::to_string(e.cache->GetStatus().records) + " records left)");
  const cache::CacheStatus s = e.cache->GetStatus();
  if (s.state == cache::CacheState::kBypass) return Status::OK();
  // A drain stopped on an error (or an operator's os-redirect): the writes
  // are safe in the log; another redirect would mix snapshots.
  return Status::Conflict("the redirect cache of NBD export " + e.export_name +
                          " is still redirecting" +
                          (s.error.empty() ? "" : " (" + s.error + ")"));
}

Status ExportedChains::Release(const std::string& disk,
                               double expected_seconds) {
  Entry* e = Find(disk);
  if (!e) return Status::NotFound(disk + " is not served by an NBD export");
  std::lock_guard lock(e->mu);
  // A Reacquire that failed left it released (and redirecting): carry on.
  if (e->chain->released()) return Status::OK();
  if (e->cache) {
    STRATA_RETURN_IF_ERROR(AwaitBypass(*e));
    STRATA_RETURN_IF_ERROR(e->cache->StartRedirect(expected_seconds, 0));
  }
  Status s = e->chain->Release();
  if (!s.ok() && e->cache && !e->chain->released()) {
    // The files were never let go: write back what came in meanwhile.
    Status d = e->cache->StartDrain();
    if (!d.ok()) LogWarning("export " + e->export_name + ": " + d.ToString());
  }
  if (s.ok())
    LogInfo("export " + e->export_name + ": chain of " + disk +
            " released for a snapshot" +
            (e->cache ? ", writes redirected" : ", writes held"));
  return s;
}

Status ExportedChains::Reacquire(const std::string& disk) {
  Entry* e = Find(disk);
  if (!e) return Status::NotFound(disk + " is not served by an NBD export");
  std::lock_guard lock(e->mu);
  if (e->chain->released()) STRATA_RETURN_IF_ERROR(e->chain->Reacquire());
  if (e->cache && e->cache->GetStatus().state == cache::CacheState::kRedirect)
    STRATA_RETURN_IF_ERROR(e->cache->StartDrain());
  LogInfo("export " + e->export_name + ": chain of " + disk + " taken back" +
          (e->cache ? ", writing the cache back" : ""));
  return Status::OK();
}

std::optional<std::string> ExportedChains::DiskServedOn(
    const std::string& socket) {
  auto it = disk_by_socket_.find(socket);
  if (it == disk_by_socket_.end()) return std::nullopt;
  return it->second;
}

std::optional<HeldChainStatus> ExportedChains::StatusOf(
    const std::string& disk) {
  Entry* e = Find(disk);
  if (!e) return std::nullopt;
  HeldChainStatus h;
  h.export_name = e->export_name;
  h.released = e->chain->released();
  if (e->cache) h.cache = e->cache->GetStatus();
  return h;
}

}  // namespace strata::engine
