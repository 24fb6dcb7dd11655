// stratad's NBD exports. See nbd_exports.h.
#include "daemon/nbd_exports.h"

#include <map>
#include <memory>
#include <mutex>

#include "cache/catalog_history_sink.h"
#include "nbd/backend_spec.h"
#include "nbd/qcow_chain_backend.h"
#include "util/fs.h"
#include "util/log.h"

namespace strata::daemon {
namespace {

// The volume of an exported disk, adopted on first sight (the operator's
// configuration names the file, so the manage directories do not apply).
Status EnsureVolume(engine::Engine* engine, const std::string& export_name,
                    const std::string& disk, const std::string& project) {
  auto found = engine->catalog()->GetVolumeByPath(disk);
  if (found.ok()) return Status::OK();
  if (!found.status().IsNotFound()) return found.status();
  engine::ManageRequest req;
  req.project_id = project;
  req.name = "nbd-" + export_name;
  req.description = "served by Strata's NBD export " + export_name;
  req.source_path = disk;
  req.trusted_path = true;
  auto vol = engine->ManageVolume(req);
  if (!vol.ok()) return vol.status();
  LogInfo("NBD export " + export_name + ": adopted " + disk + " as volume " +
          vol->id);
  return Status::OK();
}

}  // namespace

Status SetUpNbdExports(const DaemonConfig& cfg, const std::string& socket_dir,
                       engine::Engine* engine, nbd::NbdServer* server,
                       engine::ExportedChains* chains,
                       std::vector<api::NbdExportInfo>* exports) {
  cache::DrainPolicy drain;
  drain.batch_bytes = cfg.nbd_drain_batch_bytes;
  drain.throttle_ratio =
      static_cast<double>(cfg.nbd_drain_throttle_percent) / 100.0;
  drain.block_below_records = cfg.nbd_block_below_records;
  drain.block_below_bytes = cfg.nbd_block_below_bytes;
  drain.block_below_seconds =
      static_cast<double>(cfg.nbd_block_below_ms) / 1000.0;
  drain.defer_above_forecast_writes = cfg.nbd_defer_block_above_writes;
  drain.forecast_window_seconds =
      static_cast<double>(cfg.nbd_forecast_window_seconds);
  // R0.11: each cached export's write history lives in the catalog, which
  // outlives the exports.
  std::shared_ptr<cache::WriteHistorySink> history_sink =
      cache::MakeCatalogHistorySink(engine->catalog());
  if (!cfg.nbd_exports.empty())
    STRATA_RETURN_IF_ERROR(MakeDirs(socket_dir, 0755));
  // A volume whose export has clients shows "in-use", as Cinder shows an
  // attached volume; the disks of the qcow2: exports by export name.
  struct ExportDisks {
    std::mutex mu;
    std::map<std::string, std::string> by_name;  // GUARDED_BY(mu)
  };
  auto disks = std::make_shared<ExportDisks>();
  server->OnClientsChanged(
      [engine, disks](const std::string& name, int clients) {
        std::string disk;
        {
          std::lock_guard<std::mutex> lock(disks->mu);
          auto it = disks->by_name.find(name);
          if (it == disks->by_name.end()) return;
          disk = it->second;
        }
        Status s = engine->SetExportAttached(disk, clients > 0);
        if (!s.ok())
          LogWarning("NBD export " + name + ": volume status: " + s.ToString());
      });
  for (const std::string& def : cfg.nbd_exports) {
    std::string name, spec;
    STRATA_RETURN_IF_ERROR(nbd::SplitExportDefinition(def, &name, &spec));
    const std::string what = "NBD export " + name;
    // Adopted before the daemon locks the file (adoption reads it).
    if (spec.rfind("qcow2:", 0) == 0) {
      auto disk = CanonicalPath(spec.substr(6));
      if (!disk.ok()) return disk.status().WithContext(what);
      STRATA_RETURN_IF_ERROR(
          EnsureVolume(engine, name, *disk, cfg.default_project)
              .WithContext(what));
      // (An "in-use" left by a stop with clients was reset by Recover.)
      std::lock_guard<std::mutex> lock(disks->mu);
      disks->by_name[name] = *disk;
    }
    auto opened = nbd::OpenBackend(spec, {socket_dir, name});
    if (!opened.ok()) return opened.status().WithContext(what);
    std::shared_ptr<nbd::BlockBackend> backend = std::move(*opened);
    api::NbdExportInfo info{name, server->SocketPath(name), backend->Describe(),
                            nullptr};
    std::shared_ptr<nbd::BlockBackend> served = backend;
    if (cfg.nbd_cache) {
      cache::WriteHistory::Options ho;
      ho.slot_seconds = static_cast<uint32_t>(cfg.nbd_forecast_slot_seconds);
      auto history = cache::WriteHistory::Open(name, history_sink, ho);
      if (!history.ok())
        return history.status().WithContext(what + ": history");
      auto c = cache::RedirectCache::Open(backend,
                                          JoinPath(socket_dir, name + ".cache"),
                                          drain, std::move(*history));
      if (!c.ok()) return c.status().WithContext(what + ": cache");
      info.cache = std::move(*c);
      served = info.cache;
    }
    if (auto chain =
            std::dynamic_pointer_cast<nbd::QcowChainBackend>(backend)) {
      STRATA_ASSIGN_OR_RETURN(std::string disk, CanonicalPath(chain->disk()));
      // Canonical, as a domain's XML is compared with it.
      auto socket = CanonicalPath(DirName(info.socket));
      if (!socket.ok()) return socket.status().WithContext(what);
      chains->Add(name, disk, JoinPath(*socket, BaseName(info.socket)), chain,
                  info.cache);
    }
    STRATA_RETURN_IF_ERROR(server->AddExport(name, served).WithContext(what));
    exports->push_back(std::move(info));
  }
  return Status::OK();
}

}  // namespace strata::daemon
