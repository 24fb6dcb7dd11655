// Which server a policy's server target names (R1.1: "VM identity (host
// name), its LAN address"). A target names a server by libvirt uuid or
// name, or by the host name or a LAN address the guest has: those as the
// guest agent or libvirt report them (hypervisor::GuestNetwork), looked up
// among the project's running servers at each run, so a server that was
// recreated under another uuid is still found.
//
// Thread-safety: pure functions, and ResolveServerTarget calls only the
// (thread-safe) hypervisor.
#pragma once

#include <string>
#include <vector>

#include "hypervisor/hypervisor.h"
#include "policy/policy_spec.h"
#include "util/status.h"

namespace strata::policy {

struct ResolvedServer {
  hypervisor::DomainInfo domain;
  hypervisor::GuestNetwork network;  // empty when the server is off
};

// "server NAME", "host name NAME" or "address ADDR": the target as errors
// and run records name it.
std::string DescribeTarget(const ServerTarget& t);

// A host name reported by a guest matches the one a policy gives when they
// are equal ignoring case, or when the policy gives the first label of the
// reported fully qualified name ("db1" for "db1.example.org").
bool HostNameMatches(const std::string& reported, const std::string& wanted);

// One of the addresses is `wanted` (IPv4 or IPv6, compared as addresses:
// "fd00::1" is "fd00:0::1").
bool HasAddress(const std::vector<hypervisor::GuestAddress>& addresses,
                const std::string& wanted);

// The server `t` names, among the domains whose owner (Nova's, else
// `default_project`) is `project_id` when it is named by host name or
// address. NotFound when none is; Conflict when several running servers
// report that host name or address (the target is ambiguous: name the
// server instead). A server named by uuid or name gets its `network` only
// `with_network` (a view shows it; a run needs only the disks); one found
// by host name or address always has it.
[[nodiscard]] Result<ResolvedServer> ResolveServerTarget(
    hypervisor::Hypervisor& hv, const ServerTarget& t,
    const std::string& project_id, const std::string& default_project,
    bool with_network);

}  // namespace strata::policy
