// libvirt's save image header (issue 21, R3.4, R3.9): what `virsh restore`
// reads before QEMU's migration stream, so that a memory snapshot's stream
// restores through libvirt like a `virsh save` file (libvirt 9.0,
// src/qemu/qemu_saveimage.h): the magic "LibvirtQemudSave", then in host
// (little-endian) order version 2, the data's length, was_running,
// compressed (0: raw), the cookie's offset in the data (0: none) and 14
// unused words; then the data: the domain XML and its NUL. QEMU's stream
// follows at once.
#pragma once

#include <string>

namespace strata::memsnap {

inline constexpr size_t kLibvirtHeaderBytes = 92;

// The header and data for `domain_xml` (libvirt's migratable, secure XML).
std::string LibvirtSaveHeader(const std::string& domain_xml, bool was_running);

}  // namespace strata::memsnap
