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

#include "util/byte_stream.h"
#include "util/status.h"

namespace strata::memsnap {

inline constexpr size_t kLibvirtHeaderBytes = 92;
// The longest data a header read back may carry (libvirt pads the XML to
// ~64 KiB; Strata's own carries the XML alone).
inline constexpr size_t kMaxLibvirtDataBytes = 16 << 20;

// The header and data for `domain_xml` (libvirt's migratable, secure XML).
std::string LibvirtSaveHeader(const std::string& domain_xml, bool was_running);

// Reads the header and its data from the start of a save image (Strata's
// restore image or a `virsh save` file), leaving `in` at QEMU's stream.
// InvalidArgument for anything but an uncompressed version 2 image (a
// compressed one holds no stream Strata can read); Corruption when it
// breaks off.
Result<std::string> ReadLibvirtSaveHeader(ByteSource& in,
                                          const std::string& what);

}  // namespace strata::memsnap
