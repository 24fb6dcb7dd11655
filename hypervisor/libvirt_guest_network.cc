// A running guest's host name and addresses (LibvirtHypervisor), for R1.1's
// targets by host name and LAN address and Nova's server "addresses".
//
// Three sources, as `virsh domhostname` / `virsh domifaddr --source` name
// them. The guest agent knows the guest's own view (its host name, every
// interface), and is asked only when libvirt saw it open its channel: an
// agent that is absent would cost libvirt's guest-sync wait (5 s) each
// time. libvirt's DHCP leases come next (guests on a libvirt network), then
// for addresses the host's ARP table. A source that fails or answers
// nothing is skipped, not an error: most guests have only one of them.
#include <libvirt/virterror.h>

#include "hypervisor/libvirt_hypervisor.h"

namespace strata::hypervisor {
namespace {

// Loopback and link-local addresses say nothing about where a guest is.
bool Reported(const std::string& ifname, const std::string& addr) {
  if (ifname == "lo") return false;
  if (addr.rfind("127.", 0) == 0 || addr == "::1") return false;
  for (const char* fe80_10 : {"fe8", "fe9", "fea", "feb"})
    if (addr.rfind(fe80_10, 0) == 0) return false;
  return true;
}

// The interfaces' addresses from one source; empty when it failed.
std::vector<GuestAddress> Addresses(virDomainPtr d, unsigned source) {
  virDomainInterfacePtr* ifaces = nullptr;
  const int n = virDomainInterfaceAddresses(d, &ifaces, source, 0);
  std::vector<GuestAddress> out;
  if (n < 0) {
    virResetLastError();
    return out;
  }
  for (int i = 0; i < n; ++i) {
    const virDomainInterfacePtr f = ifaces[i];
    for (unsigned k = 0; k < f->naddrs; ++k) {
      const virDomainIPAddress& a = f->addrs[k];
      const std::string name = f->name ? f->name : "";
      const std::string addr = a.addr ? a.addr : "";
      if (addr.empty() || !Reported(name, addr)) continue;
      out.push_back({name, f->hwaddr ? f->hwaddr : "", addr,
                     a.type == VIR_IP_ADDR_TYPE_IPV6 ? "ipv6" : "ipv4",
                     static_cast<int>(a.prefix)});
    }
    virDomainInterfaceFree(f);
  }
  free(ifaces);
  return out;
}

std::string HostName(virDomainPtr d, unsigned flags) {
  char* name = virDomainGetHostname(d, flags);
  if (!name) {
    virResetLastError();
    return "";
  }
  std::string out(name);
  free(name);
  return out;
}

}  // namespace

Result<GuestNetwork> LibvirtHypervisor::GetGuestNetwork(
    const std::string& uuid) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  STRATA_ASSIGN_OR_RETURN(DomainInfo info, Describe(d.get()));
  GuestNetwork net;
  if (info.state != DomainState::kRunning) return net;
  if (info.guest_agent_connected) {
    net.host_name = HostName(d.get(), VIR_DOMAIN_GET_HOSTNAME_AGENT);
    if (!net.host_name.empty()) net.host_name_source = "agent";
    net.addresses =
        Addresses(d.get(), VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT);
    if (!net.addresses.empty()) net.addresses_source = "agent";
  }
  if (net.host_name.empty()) {
    net.host_name = HostName(d.get(), VIR_DOMAIN_GET_HOSTNAME_LEASE);
    if (!net.host_name.empty()) net.host_name_source = "lease";
  }
  for (auto [source, label] :
       {std::pair{VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, "lease"},
        std::pair{VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP, "arp"}}) {
    if (!net.addresses.empty()) break;
    net.addresses = Addresses(d.get(), source);
    if (!net.addresses.empty()) net.addresses_source = label;
  }
  // Every source failing because libvirtd went away is not "nothing".
  if (virConnectIsAlive(turn.get()) == 0)
    return LibvirtError("asking for the network of domain " + uuid, turn.get());
  return net;
}

}  // namespace strata::hypervisor
