// Parsing libvirt domain XML (as virDomainGetXMLDesc returns it) into a
// DomainInfo: name, UUID, memory, vCPUs, guest agent channel, and each disk
// with its <backingStore> chain, and the edit that gives a disk its chain
// explicitly. Uses libxml2 with RAII on every handle.
// Thread-safety: ParseDomainXml is reentrant.
#pragma once

#include <string>

#include "hypervisor/hypervisor.h"

namespace strata::hypervisor {

// Fills everything but `state` (the XML does not carry it). Malformed XML →
// Corruption.
Result<DomainInfo> ParseDomainXml(const std::string& xml);

// `xml` (a domain's persistent definition) with the backing chain of disk
// `target` given explicitly: nested <backingStore> elements for `chain`
// (top first, each a qcow2 or raw file), ended by an empty <backingStore/>.
// libvirt then builds the disk's node graph from these instead of probing
// the images' headers. An empty `chain` removes any given chain (libvirt
// probes again). With `policy`, the disk's driver gets its error policies
// (an empty one's attribute removed). NotFound when the domain has no such
// disk.
Result<std::string> WithDiskBackingChain(
    const std::string& xml, const std::string& target,
    const std::vector<BackingFile>& chain,
    const std::optional<DiskErrorPolicy>& policy = std::nullopt);

}  // namespace strata::hypervisor
