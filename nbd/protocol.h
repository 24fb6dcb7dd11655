// The NBD protocol's wire constants (NetworkBlockDevice/nbd doc/proto.md),
// the subset Strata speaks: fixed newstyle handshake, simple replies, and
// big-endian helpers to put and get them.
// Thread-safety: constants and pure functions only.
#pragma once

#include <cstdint>
#include <string>

namespace strata::nbd {

// ---- handshake ----
inline constexpr uint64_t kNbdMagic = 0x4e42444d41474943;    // "NBDMAGIC"
inline constexpr uint64_t kIHaveOpt = 0x49484156454F5054;    // "IHAVEOPT"
inline constexpr uint64_t kOptReplyMagic = 0x3e889045565a9;  // server reply
inline constexpr uint16_t kFlagFixedNewstyle = 1 << 0;       // handshake
inline constexpr uint16_t kFlagNoZeroes = 1 << 1;
inline constexpr uint32_t kClientFlagFixedNewstyle = 1 << 0;
inline constexpr uint32_t kClientFlagNoZeroes = 1 << 1;

// ---- options ----
inline constexpr uint32_t kOptExportName = 1;
inline constexpr uint32_t kOptAbort = 2;
inline constexpr uint32_t kOptList = 3;
inline constexpr uint32_t kOptStartTls = 5;
inline constexpr uint32_t kOptInfo = 6;
inline constexpr uint32_t kOptGo = 7;
inline constexpr uint32_t kOptStructuredReply = 8;

inline constexpr uint32_t kRepAck = 1;
inline constexpr uint32_t kRepServer = 2;
inline constexpr uint32_t kRepInfo = 3;
inline constexpr uint32_t kRepErrUnsup = 0x80000001;
inline constexpr uint32_t kRepErrPolicy = 0x80000002;
inline constexpr uint32_t kRepErrInvalid = 0x80000003;
inline constexpr uint32_t kRepErrUnknown = 0x80000006;
inline constexpr uint32_t kRepErrTooBig = 0x80000009;

inline constexpr uint16_t kInfoExport = 0;
inline constexpr uint16_t kInfoName = 1;
inline constexpr uint16_t kInfoDescription = 2;
inline constexpr uint16_t kInfoBlockSize = 3;

// ---- transmission flags (per export) ----
inline constexpr uint16_t kFlagHasFlags = 1 << 0;
inline constexpr uint16_t kFlagReadOnly = 1 << 1;
inline constexpr uint16_t kFlagSendFlush = 1 << 2;
inline constexpr uint16_t kFlagSendFua = 1 << 3;
inline constexpr uint16_t kFlagSendTrim = 1 << 5;
inline constexpr uint16_t kFlagSendWriteZeroes = 1 << 6;
inline constexpr uint16_t kFlagCanMultiConn = 1 << 8;

// ---- requests and replies ----
inline constexpr uint32_t kRequestMagic = 0x25609513;
inline constexpr uint32_t kSimpleReplyMagic = 0x67446698;
inline constexpr size_t kRequestSize = 28;  // magic flags type cookie off len
inline constexpr size_t kSimpleReplySize = 16;

inline constexpr uint16_t kCmdRead = 0;
inline constexpr uint16_t kCmdWrite = 1;
inline constexpr uint16_t kCmdDisc = 2;
inline constexpr uint16_t kCmdFlush = 3;
inline constexpr uint16_t kCmdTrim = 4;
inline constexpr uint16_t kCmdCache = 5;
inline constexpr uint16_t kCmdWriteZeroes = 6;

inline constexpr uint16_t kCmdFlagFua = 1 << 0;
inline constexpr uint16_t kCmdFlagNoHole = 1 << 1;
inline constexpr uint16_t kCmdFlagFastZero = 1 << 4;

inline constexpr uint32_t kEPerm = 1;
inline constexpr uint32_t kEIo = 5;
inline constexpr uint32_t kENoMem = 12;
inline constexpr uint32_t kEInval = 22;
inline constexpr uint32_t kENoSpc = 28;
inline constexpr uint32_t kEOverflow = 75;
inline constexpr uint32_t kENotSup = 95;
inline constexpr uint32_t kEShutdown = 108;

// The largest READ or WRITE payload Strata serves (advertised as the maximum
// block size; the protocol's customary 32 MiB).
inline constexpr uint32_t kMaxPayload = 32u << 20;
// The largest option payload a client may send (names, info requests).
inline constexpr uint32_t kMaxOptionLength = 64u << 10;

// ---- big-endian helpers ----
inline void PutBe16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
inline void PutBe32(std::string& out, uint32_t v) {
  PutBe16(out, static_cast<uint16_t>(v >> 16));
  PutBe16(out, static_cast<uint16_t>(v));
}
inline void PutBe64(std::string& out, uint64_t v) {
  PutBe32(out, static_cast<uint32_t>(v >> 32));
  PutBe32(out, static_cast<uint32_t>(v));
}
inline uint16_t GetBe16(const unsigned char* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t GetBe32(const unsigned char* p) {
  return static_cast<uint32_t>(GetBe16(p)) << 16 | GetBe16(p + 2);
}
inline uint64_t GetBe64(const unsigned char* p) {
  return static_cast<uint64_t>(GetBe32(p)) << 32 | GetBe32(p + 4);
}

}  // namespace strata::nbd
