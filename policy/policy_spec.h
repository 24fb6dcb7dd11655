// A backup policy as the API gives it and the runner reads it (issue 19):
// targets (R1.1), schedule and time zone (R1.5), retention (R1.6), retries.
//
// The API's body, validated field by field into a db::PolicyRecord (faults
// in OpenStack's words: "Invalid input for field/attribute schedule: …"),
// and the record's JSON fields read back as types for the runner. A policy
// names volumes by id, and servers by id or name, or by the host name or
// LAN address the guest reports (server_target.h), with the disks to take:
// "all", "system" (the first disk) or "data" (the others); servers are
// resolved at each run, so a disk added later is taken too.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db/records.h"
#include "policy/retention.h"
#include "schedule/schedule.h"
#include "schedule/zone_clock.h"
#include "util/status.h"

namespace strata::policy {

// Exactly one of `server`, `host_name` and `address` is set.
struct ServerTarget {
  std::string server;         // libvirt domain uuid or name
  std::string host_name;      // the guest's host name
  std::string address;        // an IPv4 or IPv6 address of the guest
  std::string disks = "all";  // all, system, data
};

struct PolicyTargets {
  std::vector<std::string> volumes;  // volume ids
  std::vector<ServerTarget> servers;
};

// The body's fields written into `rec` (create: every required field; an
// update may give any subset). `rec.id`, project and times are the
// caller's.
[[nodiscard]] Status ApplyPolicyBody(const nlohmann::json& body, bool create,
                                     db::PolicyRecord* rec);

[[nodiscard]] Result<PolicyTargets> ReadTargets(const db::PolicyRecord& p);

// An IPv4 or IPv6 address in its canonical text ("fd00:0::15" → "fd00::15"),
// "" when `text` is none: how a target's address is checked and matched.
std::string CanonicalAddress(const std::string& text);
[[nodiscard]] Result<RetentionRules> ReadRetention(const db::PolicyRecord& p);
[[nodiscard]] Result<schedule::Schedule> ReadSchedule(
    const db::PolicyRecord& p);
// The policy's zone: its own, else `host`.
[[nodiscard]] Result<schedule::ZoneClock> ReadZone(
    const db::PolicyRecord& p, const schedule::ZoneClock& host);

// Metadata a policy's snapshots carry: the policy and the run that made
// them. A snapshot whose metadata has kProtectedKey = "true" is never
// pruned.
inline constexpr char kPolicyIdKey[] = "strata:policy_id";
inline constexpr char kPolicyRunKey[] = "strata:policy_run_id";
inline constexpr char kProtectedKey[] = "strata:protected";

}  // namespace strata::policy
