// Parsing libvirt domain XML (as virDomainGetXMLDesc returns it) into a
// DomainInfo: name, UUID, memory, vCPUs, guest agent channel, and each disk
// with its <backingStore> chain. Uses libxml2 with RAII on every handle.
// Thread-safety: ParseDomainXml is reentrant.
#pragma once

#include <string>

#include "hypervisor/hypervisor.h"

namespace strata::hypervisor {

// Fills everything but `state` (the XML does not carry it). Malformed XML →
// Corruption.
Result<DomainInfo> ParseDomainXml(const std::string& xml);

}  // namespace strata::hypervisor
