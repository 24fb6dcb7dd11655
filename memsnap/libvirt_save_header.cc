// libvirt's save image header: see libvirt_save_header.h.
#include "memsnap/libvirt_save_header.h"

#include <cstring>

namespace strata::memsnap {
namespace {

constexpr char kMagic[] = "LibvirtQemudSave";
constexpr uint32_t kVersion = 2;

void Put32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

}  // namespace

std::string LibvirtSaveHeader(const std::string& domain_xml, bool was_running) {
  std::string s(kLibvirtHeaderBytes, '\0');
  std::memcpy(s.data(), kMagic, 16);
  Put32(s, 16, kVersion);
  Put32(s, 20, static_cast<uint32_t>(domain_xml.size() + 1));
  Put32(s, 24, was_running ? 1 : 0);
  Put32(s, 28, 0);  // raw
  Put32(s, 32, 0);  // no cookie
  s += domain_xml;
  s.push_back('\0');
  return s;
}

}  // namespace strata::memsnap
