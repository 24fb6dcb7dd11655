// libvirt's default event loop on a thread of its own. See
// libvirt_event_loop.h.
#include "hypervisor/libvirt_event_loop.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "util/guarded.h"
#include "util/log.h"

namespace strata::hypervisor {

Status StartLibvirtEventLoop() {
  static std::once_flag once;
  static Status started;
  std::call_once(once, [] {
    if (virEventRegisterDefaultImpl() != 0) {
      virErrorPtr e = virGetLastError();
      started = Status::Internal(
          std::string("virEventRegisterDefaultImpl: ") +
          (e && e->message ? e->message : "unknown libvirt error"));
      return;
    }
    // Runs for the life of the process (libvirt has no way to unregister
    // the loop): detached, so that exit does not wait for it.
    std::thread([] {
      for (;;) {
        RunLogged("libvirt event loop", [] {
          if (virEventRunDefaultImpl() != 0) {
            LogWarning("libvirt event loop: an iteration failed");
            std::this_thread::sleep_for(std::chrono::seconds(1));
          }
        });
      }
    }).detach();
  });
  return started;
}

}  // namespace strata::hypervisor
