// Upstream NBD export as a backend. See nbd_client_backend.h.
#include "nbd/nbd_client_backend.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nbd/protocol.h"
#include "nbd/socket_io.h"
#include "util/guarded.h"

namespace strata::nbd {
namespace {

Status NbdErrorStatus(uint32_t e, const std::string& what) {
  switch (e) {
    case kEInval:
      return Status::InvalidArgument(what + ": EINVAL from upstream");
    case kENotSup:
      return Status::NotSupported(what + ": ENOTSUP from upstream");
    case kEPerm:
      return Status::PermissionDenied(what + ": EPERM from upstream");
    case kENoSpc:
      return Status::TooLarge(what + ": ENOSPC from upstream");
    case kEShutdown:
      return Status::Unavailable(what + ": upstream is shutting down");
    default:
      return Status::IoError(what + ": error " + std::to_string(e) +
                             " from upstream");
  }
}

}  // namespace

Result<std::unique_ptr<NbdClientBackend>> NbdClientBackend::ConnectUnix(
    const std::string& socket_path, const std::string& name) {
  STRATA_ASSIGN_OR_RETURN(sockaddr_un addr, UnixSocketAddress(socket_path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Status::Unavailable("cannot connect to NBD socket " + socket_path +
                               ": " + std::strerror(errno));
  std::unique_ptr<NbdClientBackend> b(new NbdClientBackend(
      std::move(fd), "nbd+unix:///" + name + "?socket=" + socket_path));
  STRATA_RETURN_IF_ERROR(b->Handshake(name));
  b->reader_ = std::thread([p = b.get()] { p->ReadReplies(); });
  return b;
}

Result<std::unique_ptr<NbdClientBackend>> NbdClientBackend::ConnectTcp(
    const std::string& host, int port, const std::string& name) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  const std::string port_s = std::to_string(port);
  if (int r = ::getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res); r)
    return Status::InvalidArgument("NBD host " + host + ": " + gai_strerror(r));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> ai(res, freeaddrinfo);
  UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("socket", errno);
  if (::connect(fd.get(), res->ai_addr, res->ai_addrlen) != 0)
    return Status::Unavailable("cannot connect to NBD server " + host + ":" +
                               port_s + ": " + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::unique_ptr<NbdClientBackend> b(new NbdClientBackend(
      std::move(fd), "nbd://" + host + ":" + port_s + "/" + name));
  STRATA_RETURN_IF_ERROR(b->Handshake(name));
  b->reader_ = std::thread([p = b.get()] { p->ReadReplies(); });
  return b;
}

NbdClientBackend::~NbdClientBackend() {
  bool broken;
  {
    std::lock_guard lock(mu_);
    broken = broken_;
  }
  if (!broken && fd_.valid()) {
    std::string req;
    PutBe32(req, kRequestMagic);
    PutBe16(req, 0);
    PutBe16(req, kCmdDisc);
    PutBe64(req, 0);
    PutBe64(req, 0);
    PutBe32(req, 0);
    std::lock_guard send(send_mu_);
    WriteAll(fd_.get(), req.data(), req.size());
  }
  // Nothing is pending (the owner is done with it): the reader may stop.
  ::shutdown(fd_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
}

Status NbdClientBackend::Handshake(const std::string& name) {
  const int fd = fd_.get();
  auto broken = [&](const std::string& why) {
    return Status::Unavailable("NBD handshake with " + where_ + ": " + why);
  };
  unsigned char hello[18];
  if (!ReadExact(fd, hello, sizeof hello)) return broken("no greeting");
  if (GetBe64(hello) != kNbdMagic || GetBe64(hello + 8) != kIHaveOpt)
    return broken("not a newstyle NBD server");
  const uint16_t server_flags = GetBe16(hello + 16);
  if (!(server_flags & kFlagFixedNewstyle))
    return broken("the server does not speak fixed newstyle");
  std::string out;
  PutBe32(out, kClientFlagFixedNewstyle |
                   (server_flags & kFlagNoZeroes ? kClientFlagNoZeroes : 0));
  // NBD_OPT_GO: name, no info requests.
  std::string data;
  PutBe32(data, static_cast<uint32_t>(name.size()));
  data += name;
  PutBe16(data, 0);
  PutBe64(out, kIHaveOpt);
  PutBe32(out, kOptGo);
  PutBe32(out, static_cast<uint32_t>(data.size()));
  out += data;
  if (!WriteAll(fd, out.data(), out.size())) return broken("send failed");
  bool have_export = false;
  for (int i = 0; i < 32; ++i) {
    unsigned char head[20];
    if (!ReadExact(fd, head, sizeof head)) return broken("reply cut short");
    if (GetBe64(head) != kOptReplyMagic) return broken("bad reply magic");
    const uint32_t type = GetBe32(head + 12);
    const uint32_t len = GetBe32(head + 16);
    if (len > kMaxOptionLength) return broken("oversized option reply");
    std::string body(len, '\0');
    if (len && !ReadExact(fd, body.data(), len))
      return broken("reply cut short");
    const auto* b = reinterpret_cast<const unsigned char*>(body.data());
    if (type == kRepInfo && len >= 12 && GetBe16(b) == kInfoExport) {
      size_ = GetBe64(b + 2);
      flags_ = GetBe16(b + 10);
      have_export = true;
    } else if (type == kRepAck) {
      if (!have_export) return broken("no export information");
      return Status::OK();
    } else if (type & 0x80000000u) {
      if (type == kRepErrUnknown)
        return Status::NotFound("NBD server " + where_ + " has no export '" +
                                name + "'");
      return broken("option refused (" + std::to_string(type & 0x7fffffff) +
                    ")" + (body.empty() ? "" : ": " + body));
    }
  }
  return broken("too many option replies");
}

bool NbdClientBackend::CanWrite() const { return !(flags_ & kFlagReadOnly); }
bool NbdClientBackend::CanFlush() const { return flags_ & kFlagSendFlush; }
bool NbdClientBackend::CanFua() const { return flags_ & kFlagSendFua; }
bool NbdClientBackend::CanTrim() const { return flags_ & kFlagSendTrim; }
bool NbdClientBackend::CanZero() const { return flags_ & kFlagSendWriteZeroes; }
bool NbdClientBackend::CanMultiConn() const {
  return flags_ & kFlagCanMultiConn;
}

Status NbdClientBackend::Request(uint16_t type, uint16_t flags, uint64_t offset,
                                 uint32_t length, const void* payload,
                                 void* read_buf) {
  Pending p;
  p.read_buf = read_buf;
  p.length = length;
  uint64_t cookie;
  {
    std::lock_guard lock(mu_);
    if (broken_)
      return Status::Unavailable("NBD connection to " + where_ + ": " +
                                 broken_why_);
    cookie = next_cookie_++;
    pending_[cookie] = &p;
  }
  std::string req;
  PutBe32(req, kRequestMagic);
  PutBe16(req, flags);
  PutBe16(req, type);
  PutBe64(req, cookie);
  PutBe64(req, offset);
  PutBe32(req, length);
  bool sent;
  {
    std::lock_guard send(send_mu_);
    sent = WriteAll(fd_.get(), req.data(), req.size()) &&
           (!payload || WriteAll(fd_.get(), payload, length));
  }
  // A request cut short breaks the stream: the reader fails everything.
  if (!sent) ::shutdown(fd_.get(), SHUT_RDWR);
  std::unique_lock lock(mu_);
  p.done_cv.wait(lock, [&] { return p.done; });
  if (!p.status.ok()) return p.status;
  if (p.error != 0)
    return NbdErrorStatus(p.error,
                          "request at offset " + std::to_string(offset));
  return Status::OK();
}

void NbdClientBackend::ReadReplies() {
  const int fd = fd_.get();
  std::string why;
  // An exception breaks the connection as a bad reply would: every
  // waiting request fails instead of waiting for ever.
  Status thrown = CatchAll("nbd.upstream_reader", [&] {
    for (;;) {
      unsigned char reply[kSimpleReplySize];
      if (!ReadExact(fd, reply, sizeof reply)) {
        why = "no reply";
        break;
      }
      if (GetBe32(reply) != kSimpleReplyMagic) {
        why = "bad reply magic";
        break;
      }
      const uint32_t error = GetBe32(reply + 4);
      const uint64_t cookie = GetBe64(reply + 8);
      Pending* p;
      {
        std::lock_guard lock(mu_);
        auto it = pending_.find(cookie);
        p = it == pending_.end() ? nullptr : it->second;
      }
      if (!p) {
        why = "reply to no request";
        break;
      }
      // Only this thread completes requests, so `p` stays valid until then.
      if (error == 0 && p->read_buf && !ReadExact(fd, p->read_buf, p->length)) {
        why = "read data cut short";
        break;
      }
      {
        std::lock_guard lock(mu_);
        p->error = error;
        p->done = true;
        pending_.erase(cookie);
        // Under mu_: once `done` is seen, the caller may destroy `p`.
        p->done_cv.notify_one();
      }
    }
    return Status::OK();
  });
  if (!thrown.ok()) why = thrown.message();
  ::shutdown(fd, SHUT_RDWR);
  std::lock_guard lock(mu_);
  BreakLocked(why);
}

void NbdClientBackend::BreakLocked(const std::string& why) {
  broken_ = true;
  broken_why_ = why;
  const Status s =
      Status::Unavailable("NBD connection to " + where_ + ": " + why);
  for (auto& [cookie, p] : pending_) {
    p->status = s;
    p->done = true;
    p->done_cv.notify_one();
  }
  pending_.clear();
}

Status NbdClientBackend::Pread(void* buf, uint32_t count, uint64_t offset) {
  return Request(kCmdRead, 0, offset, count, nullptr, buf);
}

Status NbdClientBackend::Pwrite(const void* buf, uint32_t count,
                                uint64_t offset, bool fua) {
  return Request(kCmdWrite, fua ? kCmdFlagFua : 0, offset, count, buf, nullptr);
}

Status NbdClientBackend::Flush() {
  return Request(kCmdFlush, 0, 0, 0, nullptr, nullptr);
}

Status NbdClientBackend::Trim(uint32_t count, uint64_t offset, bool fua) {
  return Request(kCmdTrim, fua ? kCmdFlagFua : 0, offset, count, nullptr,
                 nullptr);
}

Status NbdClientBackend::Zero(uint32_t count, uint64_t offset, bool may_trim,
                              bool fua) {
  uint16_t f = (fua ? kCmdFlagFua : 0) | (may_trim ? 0 : kCmdFlagNoHole);
  return Request(kCmdWriteZeroes, f, offset, count, nullptr, nullptr);
}

}  // namespace strata::nbd
