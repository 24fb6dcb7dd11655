// Cinder's quotas: limits, usage and the check. See quotas.h.
#include "api/quotas.h"

#include "engine/engine.h"

namespace strata::api {
namespace {

// Cinder's built-in defaults (cinder/quota.py: quota_volumes, …).
const std::vector<std::pair<std::string, int64_t>>& BuiltinDefaults() {
  static const std::vector<std::pair<std::string, int64_t>> kDefaults = {
      {"volumes", 10}, {"snapshots", 10},          {"gigabytes", 1000},
      {"backups", 10}, {"backup_gigabytes", 1000}, {"per_volume_gigabytes", -1},
      {"groups", 10}};
  return kDefaults;
}

// The three resources Cinder keeps per volume type.
const char* const kPerTypeParts[] = {"volumes", "snapshots", "gigabytes"};

std::string PerType(const std::string& part, const std::string& type_name) {
  return part + "_" + type_name;
}

// Volume type id → name, every type (private ones included, as Cinder's
// quota engine lists them).
Result<std::map<std::string, std::string>> TypeNames(db::Catalog* c) {
  STRATA_ASSIGN_OR_RETURN(auto types, c->ListVolumeTypes(true));
  std::map<std::string, std::string> out;
  for (const auto& t : types) out[t.id] = t.name;
  return out;
}

// resource → in use, from the catalog's rows.
Result<std::map<std::string, int64_t>> Usage(db::Catalog* c,
                                             const std::string& project_id) {
  STRATA_ASSIGN_OR_RETURN(auto names, TypeNames(c));
  STRATA_ASSIGN_OR_RETURN(auto rows, c->QuotaUsageRows(project_id));
  std::map<std::string, int64_t> used;
  for (const auto& r : rows) {
    const int64_t gib = engine::SizeGiB(r.virtual_size);
    if (r.is_backup) {
      used["backups"] += 1;
      used["backup_gigabytes"] += gib;
      continue;
    }
    const std::string count = r.is_snapshot ? "snapshots" : "volumes";
    used[count] += 1;
    used["gigabytes"] += gib;
    auto type = names.find(r.volume_type_id.value_or(db::kDefaultVolumeTypeId));
    if (type == names.end()) continue;  // a type since deleted
    used[PerType(count, type->second)] += 1;
    used[PerType("gigabytes", type->second)] += gib;
  }
  return used;
}

Status OverLimit(const std::string& exception, const std::string& message) {
  return Status::TooLarge(exception + ": " + message);
}

// Cinder's process_reserve_over_quota: the exception for `resource`.
Status OverQuota(const std::string& resource, const QuotaEntry& q,
                 int64_t gigabytes) {
  const std::string limit = std::to_string(q.limit);
  if (resource == "backup_gigabytes")
    return OverLimit("VolumeBackupSizeExceedsAvailableQuota",
                     "Requested backup exceeds allowed Backup gigabytes "
                     "quota. Requested " +
                         std::to_string(gigabytes) + "G, quota is " + limit +
                         "G and " + std::to_string(q.in_use) +
                         "G has been consumed.");
  if (resource == "backups")
    return OverLimit(
        "BackupLimitExceeded",
        "Maximum number of backups allowed (" + limit + ") exceeded");
  if (resource.rfind("gigabytes", 0) == 0)
    return OverLimit("VolumeSizeExceedsAvailableQuota",
                     "Requested volume or snapshot exceeds allowed " +
                         resource + " quota. Requested " +
                         std::to_string(gigabytes) + "G, quota is " + limit +
                         "G and " + std::to_string(q.in_use) +
                         "G has been consumed.");
  if (resource.rfind("snapshots", 0) == 0)
    return OverLimit(
        "SnapshotLimitExceeded",
        "Maximum number of snapshots allowed (" + limit + ") exceeded");
  return OverLimit("VolumeLimitExceeded",
                   "Maximum number of volumes allowed (" + limit +
                       ") exceeded for quota '" + resource + "'.");
}

}  // namespace

Result<std::vector<std::string>> QuotaResources(db::Catalog* c) {
  std::vector<std::string> out;
  for (const auto& [name, limit] : BuiltinDefaults()) out.push_back(name);
  STRATA_ASSIGN_OR_RETURN(auto types, c->ListVolumeTypes(true));
  for (const auto& t : types)
    for (const char* part : kPerTypeParts) out.push_back(PerType(part, t.name));
  return out;
}

Result<std::map<std::string, int64_t>> ClassQuotaLimits(
    db::Catalog* c, const std::string& class_name) {
  STRATA_ASSIGN_OR_RETURN(auto resources, QuotaResources(c));
  STRATA_ASSIGN_OR_RETURN(auto defaults, c->QuotaClass("default"));
  std::map<std::string, int64_t> rows;
  if (class_name != "default") {
    STRATA_ASSIGN_OR_RETURN(rows, c->QuotaClass(class_name));
  }
  std::map<std::string, int64_t> builtin(BuiltinDefaults().begin(),
                                         BuiltinDefaults().end());
  std::map<std::string, int64_t> out;
  for (const auto& r : resources) {
    if (auto it = rows.find(r); it != rows.end())
      out[r] = it->second;
    else if (auto d = defaults.find(r); d != defaults.end())
      out[r] = d->second;
    else if (auto b = builtin.find(r); b != builtin.end())
      out[r] = b->second;
    else
      out[r] = -1;  // per-type resources
  }
  return out;
}

Result<QuotaSet> ProjectQuotaSet(db::Catalog* c, const std::string& project_id,
                                 bool usage) {
  STRATA_ASSIGN_OR_RETURN(auto limits, ClassQuotaLimits(c, "default"));
  STRATA_ASSIGN_OR_RETURN(auto own, c->ProjectQuotas(project_id));
  std::map<std::string, int64_t> used;
  if (usage) {
    STRATA_ASSIGN_OR_RETURN(used, Usage(c, project_id));
  }
  QuotaSet out;
  for (const auto& [resource, limit] : limits) {
    auto mine = own.find(resource);
    auto u = used.find(resource);
    out[resource] = {mine != own.end() ? mine->second : limit,
                     u != used.end() ? u->second : 0};
  }
  return out;
}

Status CheckQuota(db::Catalog* c, const std::string& project_id,
                  const QuotaDelta& d) {
  STRATA_ASSIGN_OR_RETURN(QuotaSet q, ProjectQuotaSet(c, project_id, true));
  // Cinder's limit_check on the size of one volume comes first.
  const QuotaEntry& per_volume = q["per_volume_gigabytes"];
  if (d.volume_size > 0 && per_volume.limit >= 0 &&
      d.volume_size > per_volume.limit)
    return OverLimit("VolumeSizeExceedsLimit",
                     "Requested volume size " + std::to_string(d.volume_size) +
                         "G is larger than maximum allowed limit " +
                         std::to_string(per_volume.limit) + "G.");
  std::string type_name;
  {
    STRATA_ASSIGN_OR_RETURN(
        db::VolumeTypeRecord t,
        c->GetVolumeType(d.volume_type_id.value_or(db::kDefaultVolumeTypeId)));
    type_name = t.name;
  }
  // Then the reservation's deltas, in Cinder's order: the global ones,
  // then the type's (add_volume_type_opts).
  const std::pair<const char*, int64_t> parts[] = {{"volumes", d.volumes},
                                                   {"snapshots", d.snapshots},
                                                   {"gigabytes", d.gigabytes}};
  for (const bool per_type : {false, true})
    for (const auto& [part, delta] : parts) {
      if (delta <= 0) continue;
      const std::string resource =
          per_type ? PerType(part, type_name) : std::string(part);
      auto e = q.find(resource);
      if (e != q.end() && e->second.limit >= 0 &&
          e->second.limit < delta + e->second.in_use)
        return OverQuota(resource, e->second, d.gigabytes);
    }
  const std::pair<const char*, int64_t> backup_parts[] = {
      {"backups", d.backups}, {"backup_gigabytes", d.backup_gigabytes}};
  for (const auto& [resource, delta] : backup_parts) {
    auto e = q.find(resource);
    if (delta > 0 && e != q.end() && e->second.limit >= 0 &&
        e->second.limit < delta + e->second.in_use)
      return OverQuota(resource, e->second, d.backup_gigabytes);
  }
  return Status::OK();
}

Status EnforceQuota(engine::Engine* e, const std::string& project_id,
                    const QuotaDelta& d) {
  return CheckQuota(e->catalog(), project_id, d);
}

std::unique_lock<std::mutex> HoldQuotaLock() {
  static std::mutex mu;  // guards nothing but the order of check and insert
  return std::unique_lock<std::mutex>(mu);
}

}  // namespace strata::api
