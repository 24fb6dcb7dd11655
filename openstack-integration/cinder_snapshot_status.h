// Cinder's side of os-assisted-volume-snapshots: Nova (here Strata) tells
// Cinder how its part of a snapshot create or delete went, by the snapshot
// action os-update_snapshot_status. Cinder's remotefs drivers (NFS and
// friends) poll the snapshot and take status "creating" (or "deleting")
// with progress "90%" as "the hypervisor is done", "error" (or
// "error_deleting") as failed.
// Thread-safety: the functions are reentrant.
#pragma once

#include <string>

#include "util/status.h"

namespace strata::openstack {

// Where Cinder's v3 API is for a caller, and the token to call it with (the
// caller's own, as Nova uses the request's context).
struct CinderEndpoint {
  std::string url;    // e.g. http://cinder:8776/v3/<project_id>
  std::string token;  // X-Auth-Token; "" sends none
  std::string request_id;
};

// POST {url}/snapshots/{id}/action {"os-update_snapshot_status": {status,
// progress}}; Cinder answers 202. Connection failures and 5xx are retried
// (3 tries, 1 s and 2 s apart); any other answer is an error naming it.
Status UpdateSnapshotStatus(const CinderEndpoint& cinder,
                            const std::string& snapshot_id,
                            const std::string& status,
                            const std::string& progress);

// Nova's [cinder] endpoint_template: "%(project_id)s" (and Nova's older
// "%(tenant)s") replaced by `project_id`.
std::string ExpandEndpointTemplate(const std::string& tmpl,
                                   const std::string& project_id);

}  // namespace strata::openstack
