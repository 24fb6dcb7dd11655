// Rebuilding the catalog from the store. See catalog_rebuild.h.
#include "engine/catalog_rebuild.h"

#include <algorithm>
#include <map>
#include <set>

#include "engine/chain.h"
#include "engine/engine.h"
#include "engine/memory_regions.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"
#include "util/time_util.h"

namespace strata::engine {
namespace {

std::string Label(const store::ObjectInfo& o, const std::string& name) {
  auto it = o.labels.find(name);
  return it == o.labels.end() ? "" : it->second;
}

int64_t LabelInt(const store::ObjectInfo& o, const std::string& name) {
  const std::string v = Label(o, name);
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  return v.empty() || *end != '\0' ? 0 : n;
}

}  // namespace

Result<db::VolumeRecord> CatalogRebuilder::VolumeFrom(
    const std::string& volume_id,
    const std::vector<store::ObjectInfo>& layers) {
  // The newest layer speaks for the volume (its path, name and size).
  const store::ObjectInfo* newest = &layers.front();
  for (const auto& l : layers)
    if (LabelInt(l, "created_at") > LabelInt(*newest, "created_at"))
      newest = &l;
  db::VolumeRecord v;
  v.id = volume_id;
  v.project_id = Label(*newest, "project_id");
  v.name = Label(*newest, "volume_name");
  v.path = Label(*newest, "volume_path");
  v.virtual_size = LabelInt(*newest, "virtual_size");
  v.created_at = LabelInt(layers.front(), "created_at");
  for (const auto& l : layers)
    v.created_at = std::min(v.created_at, LabelInt(l, "created_at"));
  v.updated_at = NowMicros();
  v.status = "error";
  if (v.path.empty() || v.path[0] != '/' || !PathExists(v.path)) {
    v.description = "rebuilt from the store; its disk " + v.path +
                    " is missing (its snapshots can make new volumes)";
    if (v.path.empty()) v.path = "/nonexistent/strata-rebuilt-" + volume_id;
    return v;
  }
  STRATA_ASSIGN_OR_RETURN(Chain chain, ReadChain(v.path, v.path, confinement_));
  v.virtual_size = static_cast<int64_t>(chain.top().header.virtual_size);
  std::set<std::string> stored;
  for (const auto& l : layers) stored.insert(Label(l, "snapshot_id"));
  for (size_t i = 1; i < chain.length(); ++i) {
    const LayerName& n = chain.layers[i].name;
    if (n.kind == LayerKind::kForeign) {
      STRATA_ASSIGN_OR_RETURN(v.base_path, CanonicalPath(chain.layers[i].path));
      v.base_format = chain.layers[i].format;
      break;
    }
    if (!v.head_snapshot_id && stored.count(n.snapshot_id))
      v.head_snapshot_id = n.snapshot_id;
  }
  v.status = "available";
  STRATA_ASSIGN_OR_RETURN(auto user, live_->DomainUsing(v.path));
  if (user) {
    v.domain_uuid = user->first.uuid;
    v.disk_target = user->second;
    if (user->first.state != hypervisor::DomainState::kShutoff)
      v.status = "in-use";
  }
  return v;
}

Status CatalogRebuilder::AddMemory(const std::string& snapshot_id,
                                   const store::ObjectInfo& o) {
  STRATA_RETURN_IF_ERROR(catalog_->SetSnapshotMemory(
      snapshot_id, "complete", Label(o, "memory_domain"),
      MemoryRegionFile(opts_.memory_dir, snapshot_id), "{}"));
  LogInfo("rebuild: snapshot " + snapshot_id + " has its memory of server " +
          Label(o, "memory_domain") + " back (" + o.key + ")");
  return catalog_->SetSnapshotMemoryStored(snapshot_id, o.key, o.sha256,
                                           static_cast<int64_t>(o.size));
}

Result<RebuildReport> CatalogRebuilder::Rebuild() {
  RebuildReport report;
  STRATA_ASSIGN_OR_RETURN(std::vector<store::ObjectInfo> objects,
                          store_->List("volumes/", {}));
  // The complete layers, by volume; the memory stored with a snapshot, by
  // snapshot.
  std::map<std::string, std::vector<store::ObjectInfo>> by_volume;
  std::map<std::string, store::ObjectInfo> memory;
  for (auto& o : objects) {
    const std::string volume = Label(o, "volume_id");
    const std::string snapshot = Label(o, "snapshot_id");
    if (!volume.empty() && o.key == MemoryKey(volume, snapshot)) {
      if (Label(o, "memory_domain").empty() || !IsSha256Hex(o.sha256) ||
          opts_.memory_dir.empty()) {
        LogWarning("rebuild: " + o.key + " is the memory of snapshot " +
                   snapshot +
                   (opts_.memory_dir.empty()
                        ? " and this host keeps no memory directory"
                        : " without the server's id or a SHA-256") +
                   "; not restored into the catalog");
        ++report.skipped;
      } else {
        memory[snapshot] = std::move(o);
      }
      continue;
    }
    if (volume.empty() || snapshot.empty() || !IsSha256Hex(o.sha256) ||
        LayerKeyGeneration(o.key, volume, snapshot) < 0) {
      LogWarning("rebuild: " + o.key +
                 " is not a complete layer with Strata's labels; skipped");
      ++report.skipped;
      continue;
    }
    by_volume[volume].push_back(std::move(o));
  }
  // A layer a delete rewrote (its parent's merged into it) is stored under
  // a later generation of its key; an older one is left only when the
  // delete of the replaced object has not happened yet: the latest counts.
  for (auto& [volume_id, layers] : by_volume) {
    std::map<std::string, std::pair<int, size_t>> latest;  // snapshot → gen, i
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::string snapshot = Label(layers[i], "snapshot_id");
      const int gen = LayerKeyGeneration(layers[i].key, volume_id, snapshot);
      auto it = latest.find(snapshot);
      if (it == latest.end() || it->second.first < gen)
        latest[snapshot] = {gen, i};
    }
    std::vector<store::ObjectInfo> kept;
    for (size_t i = 0; i < layers.size(); ++i) {
      if (latest[Label(layers[i], "snapshot_id")].second == i) {
        kept.push_back(std::move(layers[i]));
      } else {
        LogWarning("rebuild: " + layers[i].key +
                   " was replaced by a later generation; skipped");
        ++report.skipped;
      }
    }
    layers = std::move(kept);
  }
  for (auto& [volume_id, layers] : by_volume) {
    // Parents before children.
    std::sort(layers.begin(), layers.end(), [](const auto& a, const auto& b) {
      return LabelInt(a, "created_at") < LabelInt(b, "created_at");
    });
    Status done = catalog_->Transaction([&]() -> Status {
      if (!catalog_->GetVolume(volume_id).ok()) {
        STRATA_ASSIGN_OR_RETURN(db::VolumeRecord v,
                                VolumeFrom(volume_id, layers));
        STRATA_RETURN_IF_ERROR(catalog_->InsertVolume(v));
        LogInfo("rebuild: volume " + v.id + " at " + v.path + " (" + v.status +
                ", head " + v.head_snapshot_id.value_or("none") + ")");
        ++report.volumes_added;
      }
      for (const auto& l : layers) {
        db::SnapshotRecord s;
        s.id = Label(l, "snapshot_id");
        if (catalog_->GetSnapshot(s.id).ok()) {
          ++report.snapshots_known;
          continue;
        }
        s.volume_id = volume_id;
        s.project_id = Label(l, "project_id");
        s.name = Label(l, "snapshot_name");
        s.status = "available";
        s.progress = 100;
        if (!Label(l, "parent_id").empty()) s.parent_id = Label(l, "parent_id");
        s.store_key = l.key;
        s.store_location = l.location;
        s.sha256 = l.sha256;
        s.layer_bytes = static_cast<int64_t>(l.size);
        s.virtual_size = LabelInt(l, "virtual_size");
        s.created_at = LabelInt(l, "created_at");
        s.updated_at = NowMicros();
        const std::string covers = Label(l, "covers");
        for (size_t at = 0; at < covers.size();) {
          size_t comma = covers.find(',', at);
          if (comma == std::string::npos) comma = covers.size();
          if (comma > at) s.covers.push_back(covers.substr(at, comma - at));
          at = comma + 1;
        }
        STRATA_RETURN_IF_ERROR(catalog_->InsertSnapshot(s));
        ++report.snapshots_added;
        auto m = memory.find(s.id);
        if (m != memory.end()) {
          STRATA_RETURN_IF_ERROR(AddMemory(s.id, m->second));
          ++report.memory_added;
        }
      }
      return Status::OK();
    });
    if (!done.ok()) return done.WithContext("rebuilding volume " + volume_id);
  }
  return report;
}

}  // namespace strata::engine
