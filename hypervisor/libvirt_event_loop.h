// The process's libvirt event loop, which libvirt's keepalive needs: without
// a registered and running event loop, virConnectSetKeepAlive is refused and
// a libvirtd that stops answering (SIGSTOPped, hung) leaves every call on
// its connection blocked forever. With it, the client pings an idle
// connection and closes it after a bounded silence, failing every call in
// flight (LibvirtConnection).
//
// Thread-safety: StartLibvirtEventLoop may be called from any thread, any
// number of times; the first call registers libvirt's default event
// implementation and starts one thread running it until the process ends.
#pragma once

#include "util/status.h"

namespace strata::hypervisor {

// Registers libvirt's default event loop and starts its thread, once per
// process. Must run before the first connection is opened (a connection
// opened earlier gets no keepalive). Internal when libvirt refuses.
[[nodiscard]] Status StartLibvirtEventLoop();

}  // namespace strata::hypervisor
