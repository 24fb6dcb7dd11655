// ApplyPolicyBody and the readers of a policy record's fields.
#include "policy/policy_spec.h"

#include <arpa/inet.h>

#include <cctype>

namespace strata::policy {
namespace {

Status Bad(const std::string& field, const std::string& why) {
  return Status::InvalidArgument("Invalid input for field/attribute " + field +
                                 ": " + why);
}

Result<std::string> Text(const nlohmann::json& v, const std::string& field,
                         size_t max_len) {
  if (!v.is_string()) return Bad(field, "a string is expected.");
  const std::string s = v.get<std::string>();
  if (s.size() > max_len)
    return Bad(field, "at most " + std::to_string(max_len) + " characters.");
  return s;
}

Result<int> Whole(const nlohmann::json& v, const std::string& field, int max) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > max)
    return Bad(field, "a whole number from 0 to " + std::to_string(max) + ".");
  return static_cast<int>(v.get<int64_t>());
}

// RFC 1123 host names: dot-separated labels of letters, digits and
// hyphens, 1–63 characters each, not starting or ending with a hyphen.
bool IsHostName(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  for (;;) {
    const size_t dot = s.find('.', start);
    const std::string label =
        s.substr(start, dot == std::string::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' ||
        label.back() == '-')
      return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
        return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

Result<PolicyTargets> ParseTargets(const nlohmann::json& j) {
  if (!j.is_object()) return Bad("targets", "an object is expected.");
  PolicyTargets t;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "volumes") {
      if (!it->is_array()) return Bad("targets.volumes", "a list is expected.");
      for (const auto& v : *it) {
        STRATA_ASSIGN_OR_RETURN(std::string id, Text(v, "targets.volumes", 64));
        if (id.empty()) return Bad("targets.volumes", "an empty volume id.");
        t.volumes.push_back(id);
      }
    } else if (it.key() == "servers") {
      if (!it->is_array()) return Bad("targets.servers", "a list is expected.");
      for (const auto& v : *it) {
        ServerTarget s;
        if (v.is_string()) {
          s.server = v.get<std::string>();
        } else if (v.is_object()) {
          for (auto f = v.begin(); f != v.end(); ++f) {
            if (f.key() == "server") {
              STRATA_ASSIGN_OR_RETURN(s.server,
                                      Text(*f, "targets.servers.server", 255));
            } else if (f.key() == "host_name") {
              STRATA_ASSIGN_OR_RETURN(
                  s.host_name, Text(*f, "targets.servers.host_name", 253));
              if (!IsHostName(s.host_name))
                return Bad("targets.servers.host_name",
                           "'" + s.host_name + "' is not a host name.");
            } else if (f.key() == "address") {
              STRATA_ASSIGN_OR_RETURN(s.address,
                                      Text(*f, "targets.servers.address", 64));
              if (CanonicalAddress(s.address).empty())
                return Bad("targets.servers.address",
                           "'" + s.address + "' is not an IP address.");
            } else if (f.key() == "disks") {
              STRATA_ASSIGN_OR_RETURN(s.disks,
                                      Text(*f, "targets.servers.disks", 16));
              if (s.disks != "all" && s.disks != "system" && s.disks != "data")
                return Bad("targets.servers.disks",
                           "one of all, system, data.");
            } else {
              return Bad("targets.servers." + f.key(), "unknown field.");
            }
          }
        } else {
          return Bad("targets.servers", "a server id or name, or an object.");
        }
        const int named =
            !s.server.empty() + !s.host_name.empty() + !s.address.empty();
        if (named != 1)
          return Bad("targets.servers",
                     "give one of server, host_name and address.");
        t.servers.push_back(s);
      }
    } else {
      return Bad("targets." + it.key(), "unknown field.");
    }
  }
  if (t.volumes.empty() && t.servers.empty())
    return Bad("targets", "name at least one volume or server.");
  if (t.volumes.size() + t.servers.size() > 256)
    return Bad("targets", "at most 256 volumes and servers.");
  return t;
}

nlohmann::json TargetsJson(const PolicyTargets& t) {
  nlohmann::json servers = nlohmann::json::array();
  for (const auto& s : t.servers) {
    nlohmann::json one = {{"disks", s.disks}};
    if (!s.server.empty()) one["server"] = s.server;
    if (!s.host_name.empty()) one["host_name"] = s.host_name;
    if (!s.address.empty()) one["address"] = s.address;
    servers.push_back(one);
  }
  return {{"volumes", t.volumes}, {"servers", servers}};
}

}  // namespace

Status ApplyPolicyBody(const nlohmann::json& body, bool create,
                       db::PolicyRecord* rec) {
  if (!body.is_object()) return Bad("policy", "an object is expected.");
  bool has_schedule = false, has_targets = false;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = *it;
    if (k == "name") {
      STRATA_ASSIGN_OR_RETURN(rec->name, Text(v, k, 255));
    } else if (k == "description") {
      STRATA_ASSIGN_OR_RETURN(rec->description, Text(v, k, 1024));
    } else if (k == "enabled" || k == "run_missed") {
      if (!v.is_boolean()) return Bad(k, "true or false.");
      (k == "enabled" ? rec->enabled : rec->run_missed) = v.get<bool>();
    } else if (k == "schedule") {
      STRATA_ASSIGN_OR_RETURN(std::string text, Text(v, k, 255));
      auto parsed = schedule::Schedule::Parse(text);
      if (!parsed.ok()) return Bad(k, parsed.status().message() + ".");
      rec->schedule = text;
      has_schedule = true;
    } else if (k == "timezone") {
      STRATA_ASSIGN_OR_RETURN(std::string tz, Text(v, k, 255));
      if (!tz.empty() && !schedule::ZoneClock::Find(tz).ok())
        return Bad(k, "unknown time zone '" + tz + "'.");
      rec->timezone = tz;
    } else if (k == "targets") {
      STRATA_ASSIGN_OR_RETURN(PolicyTargets t, ParseTargets(v));
      rec->targets = TargetsJson(t).dump();
      has_targets = true;
    } else if (k == "retention") {
      auto r = ParseRetentionRules(v);
      if (!r.ok()) return r.status();
      rec->retention = RetentionRulesToJson(*r).dump();
    } else if (k == "retry") {
      if (!v.is_object()) return Bad(k, "an object is expected.");
      for (auto f = v.begin(); f != v.end(); ++f) {
        if (f.key() == "attempts") {
          STRATA_ASSIGN_OR_RETURN(rec->retry_attempts,
                                  Whole(*f, "retry.attempts", 10));
        } else if (f.key() == "delay_seconds") {
          STRATA_ASSIGN_OR_RETURN(rec->retry_delay_seconds,
                                  Whole(*f, "retry.delay_seconds", 86400));
        } else {
          return Bad("retry." + f.key(), "unknown field.");
        }
      }
    } else {
      return Bad(k, "unknown field.");
    }
  }
  if (create && !has_schedule)
    return Bad("schedule", "a schedule is required.");
  if (create && !has_targets) return Bad("targets", "targets are required.");
  return Status::OK();
}

std::string CanonicalAddress(const std::string& text) {
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6})
    if (inet_pton(family, text.c_str(), bytes) == 1 &&
        inet_ntop(family, bytes, out, sizeof out))
      return out;
  return "";
}

Result<PolicyTargets> ReadTargets(const db::PolicyRecord& p) {
  auto j = nlohmann::json::parse(p.targets, nullptr, false);
  if (j.is_discarded())
    return Status::Corruption("policy " + p.id + ": targets are not JSON");
  return ParseTargets(j);
}

Result<RetentionRules> ReadRetention(const db::PolicyRecord& p) {
  auto j = nlohmann::json::parse(p.retention, nullptr, false);
  if (j.is_discarded())
    return Status::Corruption("policy " + p.id + ": retention is not JSON");
  return ParseRetentionRules(j);
}

Result<schedule::Schedule> ReadSchedule(const db::PolicyRecord& p) {
  return schedule::Schedule::Parse(p.schedule);
}

Result<schedule::ZoneClock> ReadZone(const db::PolicyRecord& p,
                                     const schedule::ZoneClock& host) {
  if (p.timezone.empty()) return host;
  return schedule::ZoneClock::Find(p.timezone);
}

}  // namespace strata::policy
