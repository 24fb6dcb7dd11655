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
uint32_t Get32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = v << 8 | static_cast<unsigned char>(s[at + i]);
  return v;
}

// Appends exactly `n` bytes of `in` to `out`.
Status ReadExactly(ByteSource& in, size_t n, std::string* out,
                   const std::string& what) {
  const size_t start = out->size();
  out->resize(start + n);
  size_t got = 0;
  while (got < n) {
    STRATA_ASSIGN_OR_RETURN(size_t r,
                            in.Read(out->data() + start + got, n - got));
    if (r == 0)
      return Status::Corruption(what + ": the save image's header breaks off");
    got += r;
  }
  return Status::OK();
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

Result<std::string> ReadLibvirtSaveHeader(ByteSource& in,
                                          const std::string& what) {
  std::string h;
  STRATA_RETURN_IF_ERROR(ReadExactly(in, kLibvirtHeaderBytes, &h, what));
  if (h.compare(0, 16, kMagic) != 0)
    return Status::InvalidArgument(what + " is no libvirt save image");
  if (Get32(h, 16) != kVersion)
    return Status::InvalidArgument(what + ": save image version " +
                                   std::to_string(Get32(h, 16)) +
                                   ", only version 2 is read");
  if (Get32(h, 28) != 0)
    return Status::InvalidArgument(what + ": a compressed save image (format " +
                                   std::to_string(Get32(h, 28)) + ")");
  const uint32_t data = Get32(h, 20);
  if (data == 0 || data > kMaxLibvirtDataBytes)
    return Status::InvalidArgument(what + ": save image data of " +
                                   std::to_string(data) + " bytes");
  STRATA_RETURN_IF_ERROR(ReadExactly(in, data, &h, what));
  return h;
}

}  // namespace strata::memsnap
