// The route tables behind AddCinderInfoRoutes (handlers.h), one per file:
// volume types and their extra specs (volume_types.cc), quota sets, quota
// classes and limits (quota_routes.cc), availability zones, services,
// hosts, pools and capabilities (service_info.cc), QoS specs
// (qos_specs.cc), encryption types (volume_type_encryption.cc), group
// types and their specs (group_types.cc).
// Thread-safety: Add* at start-up only; the handlers are reentrant.
#pragma once

#include "api/handlers.h"

namespace strata::api {

void AddVolumeTypeRoutes(Router& r, engine::Engine* e);
void AddQuotaRoutes(Router& r, engine::Engine* e);
void AddServiceInfoRoutes(Router& r, engine::Engine* e, ServiceInfoOptions o);
void AddQosSpecsRoutes(Router& r, engine::Engine* e);
void AddEncryptionTypeRoutes(Router& r, engine::Engine* e);
void AddGroupTypeRoutes(Router& r, engine::Engine* e);

}  // namespace strata::api
