// Engine: the request entry points, each handed to the part that decides it
// (engine_part.h).
#include "engine/engine.h"

#include "engine/chain.h"
#include "util/fs.h"
#include "util/log.h"

namespace strata::engine {

std::string LayerKey(const std::string& volume_id,
                     const std::string& snapshot_id, int generation) {
  return "volumes/" + volume_id + "/" + snapshot_id +
         (generation > 0 ? ".g" + std::to_string(generation) : "") + ".qcow2";
}

std::string MemoryKey(const std::string& volume_id,
                      const std::string& snapshot_id) {
  return "volumes/" + volume_id + "/" + snapshot_id + ".memory";
}

int LayerKeyGeneration(const std::string& key, const std::string& volume_id,
                       const std::string& snapshot_id) {
  if (key == LayerKey(volume_id, snapshot_id)) return 0;
  const std::string head = "volumes/" + volume_id + "/" + snapshot_id + ".g";
  const std::string tail = ".qcow2";
  if (key.size() <= head.size() + tail.size() ||
      key.compare(0, head.size(), head) != 0 ||
      key.compare(key.size() - tail.size(), tail.size(), tail) != 0)
    return -1;
  const std::string digits =
      key.substr(head.size(), key.size() - head.size() - tail.size());
  if (digits.empty() || digits.size() > 6 || digits[0] == '0') return -1;
  for (char c : digits)
    if (c < '0' || c > '9') return -1;
  return std::stoi(digits);
}

int64_t SizeGiB(int64_t bytes) {
  const int64_t gib = int64_t{1} << 30;
  return (bytes + gib - 1) / gib;
}

Result<ChainUsage> Engine::ChainUsageOf(const std::string& disk) {
  STRATA_ASSIGN_OR_RETURN(Chain chain, ReadChain(disk, disk, ctx_.confinement));
  ChainUsage u;
  u.length = chain.length();
  for (const auto& l : chain.layers) {
    STRATA_ASSIGN_OR_RETURN(uint64_t bytes, AllocatedBytes(l.path));
    u.allocated_bytes += bytes;
  }
  return u;
}

Engine::Engine(db::Catalog* catalog, store::Store* store, EngineOptions opts,
               hypervisor::Hypervisor* hv)
    : ctx_(catalog, store, std::move(opts), hv) {}

Engine::~Engine() { Stop(); }

void Engine::Stop() {
  instant_.Stop();  // before the workers are joined: one may wait on it
  ctx_.runner.Stop();
  ctx_.reaper.Stop();
  ctx_.remover.Stop();
}

std::vector<Engine::RunnerLoad> Engine::RunnerLoads() {
  std::vector<RunnerLoad> out;
  for (auto [name, runner] :
       {std::pair{"runner", &ctx_.runner}, std::pair{"reaper", &ctx_.reaper},
        std::pair{"remover", &ctx_.remover}})
    out.push_back({name, runner->Queued(), runner->Running()});
  return out;
}

Status Engine::Recover() {
  STRATA_RETURN_IF_ERROR(verifier_.EndInterrupted());
  return recovery_.Recover();
}

void Engine::ResumeInterrupted() {
  instant_.ResumeInterrupted();
  for (const db::TaskRecord& t : recovery_.TakeResumable()) {
    Status s = creator_.ResumeUpload(t);
    if (s.ok()) continue;
    LogError("resuming the upload of snapshot " + t.snapshot_id.value_or("") +
             ": " + s.ToString());
    LogIfError(recovery_.AbandonUpload(t, "interrupted by a restart at step " +
                                              t.step +
                                              ", not resumed: " + s.ToString()),
               "ending snapshot " + t.snapshot_id.value_or(""));
  }
}

Result<RebuildReport> Engine::RebuildCatalog() { return rebuilder_.Rebuild(); }

Result<db::VolumeRecord> Engine::ManageVolume(const ManageRequest& req) {
  return adoption_.ManageVolume(req);
}

Result<db::VolumeRecord> Engine::ServerDiskVolume(
    const hypervisor::DomainInfo& dom, const hypervisor::DomainDisk& disk,
    const std::string& default_project) {
  return adoption_.ServerDiskVolume(dom, disk, default_project);
}

void Engine::RegisterServerDisks(const std::string& default_project) {
  adoption_.RegisterServerDisks(default_project);
}

Status Engine::SetExportAttached(const std::string& disk, bool attached) {
  return adoption_.SetExportAttached(disk, attached);
}

Status Engine::UnmanageVolume(const std::string& volume_id) {
  return adoption_.UnmanageVolume(volume_id);
}

Status Engine::UnmanageSnapshot(const std::string& snapshot_id) {
  return adoption_.UnmanageSnapshot(snapshot_id);
}

Result<db::SnapshotRecord> Engine::ManageSnapshot(
    const std::string& volume_id, const std::string& snapshot_id,
    const std::string& name, const std::string& description,
    const db::Metadata& metadata) {
  return adoption_.ManageSnapshot(volume_id, snapshot_id, name, description,
                                  metadata);
}

Result<db::VolumeRecord> Engine::CreateVolume(const CreateVolumeRequest& req) {
  return lifecycle_.CreateVolume(req);
}

Status Engine::DeleteVolume(const std::string& volume_id, bool cascade,
                            bool force) {
  return lifecycle_.DeleteVolume(volume_id, cascade, force);
}

Status Engine::ExtendVolume(const std::string& volume_id,
                            int64_t new_size_gib) {
  return lifecycle_.ExtendVolume(volume_id, new_size_gib);
}

Result<db::SnapshotRecord> Engine::CreateSnapshot(
    const CreateSnapshotRequest& req) {
  return creator_.CreateSnapshot(req);
}

Status Engine::DeleteSnapshot(const std::string& snapshot_id, bool force) {
  return deleter_.DeleteSnapshot(snapshot_id, force);
}

Status Engine::RevertVolume(const std::string& volume_id,
                            const std::string& snapshot_id) {
  return reverter_.RevertVolume(volume_id, snapshot_id);
}

Status Engine::RebuildServer(const std::string& domain_uuid,
                             const std::string& volume_id,
                             const std::string& snapshot_id) {
  return reverter_.RebuildServer(domain_uuid, volume_id, snapshot_id);
}

}  // namespace strata::engine
