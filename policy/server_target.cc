// Server targets by id, name, host name or address. See server_target.h.
#include "policy/server_target.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace strata::policy {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::string DescribeTarget(const ServerTarget& t) {
  if (!t.host_name.empty()) return "host name " + t.host_name;
  if (!t.address.empty()) return "address " + t.address;
  return "server " + t.server;
}

bool HostNameMatches(const std::string& reported, const std::string& wanted) {
  if (reported.empty() || wanted.empty()) return false;
  const std::string r = Lower(reported), w = Lower(wanted);
  if (r == w) return true;
  return w.find('.') == std::string::npos && r.size() > w.size() &&
         r.compare(0, w.size(), w) == 0 && r[w.size()] == '.';
}

bool HasAddress(const std::vector<hypervisor::GuestAddress>& addresses,
                const std::string& wanted) {
  const std::string w = CanonicalAddress(wanted);
  if (w.empty()) return false;
  return std::any_of(addresses.begin(), addresses.end(), [&](const auto& a) {
    return CanonicalAddress(a.address) == w;
  });
}

Result<ResolvedServer> ResolveServerTarget(hypervisor::Hypervisor& hv,
                                           const ServerTarget& t,
                                           const std::string& project_id,
                                           const std::string& default_project,
                                           bool with_network) {
  if (!t.server.empty()) {
    STRATA_ASSIGN_OR_RETURN(hypervisor::DomainInfo dom, hv.GetDomain(t.server));
    ResolvedServer r{std::move(dom), {}};
    // Shown beside the target; a guest that does not say is no error.
    if (with_network)
      if (auto net = hv.GetGuestNetwork(r.domain.uuid); net.ok())
        r.network = std::move(*net);
    return r;
  }
  STRATA_ASSIGN_OR_RETURN(auto domains, hv.ListDomains());
  std::vector<ResolvedServer> found;
  for (auto& dom : domains) {
    const std::string owner =
        dom.project_id.empty() ? default_project : dom.project_id;
    if (owner != project_id || dom.state != hypervisor::DomainState::kRunning)
      continue;
    auto net = hv.GetGuestNetwork(dom.uuid);
    if (!net.ok()) {
      // libvirtd gone is not "no such server"; one domain gone meanwhile is.
      if (net.status().code() == StatusCode::kUnavailable) return net.status();
      continue;
    }
    const bool match = !t.host_name.empty()
                           ? HostNameMatches(net->host_name, t.host_name)
                           : HasAddress(net->addresses, t.address);
    if (match) found.push_back({std::move(dom), std::move(*net)});
  }
  if (found.empty())
    return Status::NotFound("no running server of the project reports " +
                            DescribeTarget(t));
  if (found.size() > 1)
    return Status::Conflict(DescribeTarget(t) + " is reported by servers " +
                            found[0].domain.uuid + " and " +
                            found[1].domain.uuid + ": name the server");
  return std::move(found.front());
}

}  // namespace strata::policy
