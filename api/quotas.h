// Cinder's quotas (issue 18): which resources are limited, their defaults,
// a project's limits and what it uses, and the check a create runs before
// it acts (EnforceQuota), refusing with Cinder's 413 overLimit messages.
//
// Resources are Cinder's: volumes, snapshots, gigabytes, backups,
// backup_gigabytes, per_volume_gigabytes, groups, and volumes_<type>,
// snapshots_<type>, gigabytes_<type> for every volume type (so
// volumes___DEFAULT__ for the default type). A limit is a project's own
// row (catalog table quotas), else the quota class "default"'s row (table
// quota_classes), else Cinder's built-in default: volumes 10, snapshots
// 10, gigabytes 1000, backups 10, backup_gigabytes 1000, groups 10,
// per_volume_gigabytes and every per-type resource -1 (unlimited).
//
// Usage is counted from the catalog, never kept: a project's volumes, its
// visible snapshots, and their sizes in GiB (engine::SizeGiB of the
// virtual size) under gigabytes, snapshots included as Cinder counts them
// (no_snapshot_gb_quota = False); per type the same under the volume's
// type; a project's backups and their sizes under backups and
// backup_gigabytes. Strata has no groups: their usage is 0.
//
// Thread-safety: the functions are reentrant (the catalog serialises).
// A check and the insert it allows are two catalog calls: hold
// HoldQuotaLock() across both so that two creates in one stratad cannot
// both take the last unit.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db/catalog.h"
#include "util/status.h"

namespace strata::engine {
class Engine;
}

namespace strata::api {

// One resource of a project: its limit (-1 unlimited) and use.
struct QuotaEntry {
  int64_t limit = 0;
  int64_t in_use = 0;
};
using QuotaSet = std::map<std::string, QuotaEntry>;  // by resource name

// Every resource name: the global ones and three per volume type.
[[nodiscard]] Result<std::vector<std::string>> QuotaResources(db::Catalog* c);
// Limits of the quota class `class_name` ("default": the defaults every
// project starts from): its rows over the built-in defaults.
[[nodiscard]] Result<std::map<std::string, int64_t>> ClassQuotaLimits(
    db::Catalog* c, const std::string& class_name);
// A project's limits and, with `usage`, what it uses (else in_use 0).
[[nodiscard]] Result<QuotaSet> ProjectQuotaSet(db::Catalog* c,
                                               const std::string& project_id,
                                               bool usage);

// What a create or extend adds to a project. Zero fields are not checked.
struct QuotaDelta {
  int64_t volumes = 0;    // new volumes
  int64_t snapshots = 0;  // new snapshots
  int64_t gigabytes = 0;  // GiB added (a new volume's or snapshot's size,
                          // an extend's increase)
  int64_t backups = 0;    // new backups
  int64_t backup_gigabytes = 0;  // their size in GiB
  // The size in GiB of the volume being created or extended, checked
  // against per_volume_gigabytes (0: none).
  int64_t volume_size = 0;
  // The type the volumes, snapshots and GiB count under (that of the
  // volume, or of the snapshot's volume); unset: the default type.
  std::optional<std::string> volume_type_id;
};

// OK when `d` fits the project's quotas, else TooLarge (413 overLimit)
// with Cinder's message, its exception's name first, as Cinder's fault
// shows it: the per-volume limit first, then volumes, snapshots,
// gigabytes, then the same per type, e.g.
//   "VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded
//    for quota 'volumes'."
//   "SnapshotLimitExceeded: Maximum number of snapshots allowed (10)
//    exceeded"
//   "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds
//    allowed gigabytes quota. Requested 2G, quota is 10G and 9G has been
//    consumed."
//   "VolumeSizeExceedsLimit: Requested volume size 5G is larger than
//    maximum allowed limit 4G."
// and, after those, backups then backup_gigabytes
//   "BackupLimitExceeded: Maximum number of backups allowed (10) exceeded"
//   "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds
//    allowed Backup gigabytes quota. Requested 1G, quota is 1000G and 0G
//    has been consumed."
[[nodiscard]] Status CheckQuota(db::Catalog* c, const std::string& project_id,
                                const QuotaDelta& d);
// CheckQuota against the engine's catalog.
[[nodiscard]] Status EnforceQuota(engine::Engine* e,
                                  const std::string& project_id,
                                  const QuotaDelta& d);
// Serialises check-then-create sequences within this process.
[[nodiscard]] std::unique_lock<std::mutex> HoldQuotaLock();

}  // namespace strata::api
