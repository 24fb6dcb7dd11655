// Whether this backend can hold a volume of a type: Cinder's
// CapabilitiesFilter over the type's extra specs and the backend's
// capabilities (the pool's, as GET /scheduler-stats/get_pools?detail=true
// shows them). A key scoped by a namespace other than "capabilities:"
// ("RESKEY:…", "hw:…") is another component's and passes; any other key
// names a capability the backend must have and match, with Cinder's
// extra_specs_ops: a plain value (equal; "True"/"False" for a boolean
// capability), "<is> True", "<in> sub", "<or> a <or> b", "s==", "s!=",
// "s<", "s<=", "s>", "s>=", and the numeric "=" (at least), "==", "!=",
// ">=", "<=".
// Thread-safety: pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "db/records.h"

namespace strata::api {

// True when `caps` satisfies every spec; else false with `*why` naming the
// first spec that does not match.
bool SatisfiesExtraSpecs(const nlohmann::json& caps, const db::Metadata& specs,
                         std::string* why);

}  // namespace strata::api
