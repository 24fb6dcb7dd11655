// One NBD client connection. See connection.h. In the transmission phase
// one thread reads requests and up to kWorkers threads run them, each
// replying as soon as its request is done (the NBD protocol lets replies
// come in any order; the cookie matches them): a client that pipelines
// (qemu, fio with iodepth > 1) gets the backend's parallelism, an upstream
// NBD server's included. A FLUSH still covers every write replied to before
// it, as the protocol asks: a write is replied to only once the backend
// has it.
#include "nbd/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "nbd/protocol.h"
#include "nbd/socket_io.h"
#include "util/guarded.h"
#include "util/log.h"

namespace strata::nbd {
namespace {

// Options a client may send before the server hangs up on it.
constexpr int kMaxOptions = 64;
// Requests of one connection run at once, and the data they may hold
// (write payloads and read buffers): the reader waits beyond either.
constexpr int kWorkers = 8;
constexpr uint64_t kMaxBytesInFlight = 64u << 20;

// A request read off the wire, waiting for or in the hands of a worker.
struct Job {
  uint16_t type = 0, flags = 0;
  uint64_t cookie = 0, offset = 0;
  uint32_t length = 0;
  std::string payload;  // a WRITE's data
  // Bytes it holds while in flight. A READ over the maximum is refused
  // by Execute before it allocates anything.
  uint64_t cost() const {
    if (type == kCmdRead) return length > kMaxPayload ? 0 : length;
    return type == kCmdWrite ? length : 0;
  }
};

uint32_t ErrnoOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return kEInval;
    case StatusCode::kNotSupported:
      return kENotSup;
    case StatusCode::kPermissionDenied:
      return kEPerm;
    case StatusCode::kTooLarge:
      return kENoSpc;
    case StatusCode::kUnavailable:
      return kEShutdown;
    default:
      return kEIo;
  }
}

}  // namespace

NbdConnection::NbdConnection(UniqueFd fd, ExportResolver* exports,
                             std::string peer)
    : fd_(std::move(fd)), exports_(exports), peer_(std::move(peer)) {}

void NbdConnection::Shutdown() { ::shutdown(fd_.get(), SHUT_RDWR); }

bool NbdConnection::ReadExact(void* buf, size_t n) {
  return nbd::ReadExact(fd_.get(), buf, n);
}

bool NbdConnection::WriteAll(const std::string& data) {
  return nbd::WriteAll(fd_.get(), data.data(), data.size());
}

bool NbdConnection::Skip(uint64_t n) {
  char buf[65536];
  while (n > 0) {
    size_t chunk = n < sizeof buf ? static_cast<size_t>(n) : sizeof buf;
    if (!ReadExact(buf, chunk)) return false;
    n -= chunk;
  }
  return true;
}

bool NbdConnection::SendOptionReply(uint32_t option, uint32_t type,
                                    const std::string& data) {
  std::string r;
  PutBe64(r, kOptReplyMagic);
  PutBe32(r, option);
  PutBe32(r, type);
  PutBe32(r, static_cast<uint32_t>(data.size()));
  r += data;
  return WriteAll(r);
}

uint16_t NbdConnection::TransmissionFlags(const BlockBackend& b) const {
  uint16_t f = kFlagHasFlags;
  if (!b.CanWrite()) f |= kFlagReadOnly;
  if (b.CanFlush()) f |= kFlagSendFlush;
  if (b.CanWrite() && b.CanFua()) f |= kFlagSendFua;
  if (b.CanWrite() && b.CanTrim()) f |= kFlagSendTrim;
  if (b.CanWrite() && b.CanZero()) f |= kFlagSendWriteZeroes;
  if (b.CanMultiConn()) f |= kFlagCanMultiConn;
  return f;
}

void NbdConnection::Serve() {
  ServeClient();
  // The client sees the end at once (a client that sent DISC waits for it);
  // the descriptor itself stays until the connection is destroyed, so a
  // concurrent Shutdown() never touches a reused one.
  ::shutdown(fd_.get(), SHUT_RDWR);
}

void NbdConnection::ServeClient() {
  std::string name;
  std::shared_ptr<BlockBackend> backend = Negotiate(&name);
  if (!backend) return;
  // "" is a per-export socket's own export (only there does it resolve).
  if (name.empty()) name = exports_->List().front();
  LogInfo("nbd: " + peer_ + " opened export '" + name + "' (" +
          backend->Describe() + ")");
  exports_->Opened(name);
  Transmission(backend.get());
  exports_->Closed(name);
  LogInfo("nbd: " + peer_ + " closed export '" + name + "'");
}

std::shared_ptr<BlockBackend> NbdConnection::Negotiate(std::string* name) {
  std::string hello;
  PutBe64(hello, kNbdMagic);
  PutBe64(hello, kIHaveOpt);
  PutBe16(hello, kFlagFixedNewstyle | kFlagNoZeroes);
  if (!WriteAll(hello)) return nullptr;
  unsigned char cf[4];
  if (!ReadExact(cf, 4)) return nullptr;
  const uint32_t client_flags = GetBe32(cf);
  if (client_flags & ~(kClientFlagFixedNewstyle | kClientFlagNoZeroes)) {
    LogWarning("nbd: " + peer_ + " sent unknown client flags; hanging up");
    return nullptr;
  }
  no_zeroes_ = client_flags & kClientFlagNoZeroes;
  for (int n = 0; n < kMaxOptions; ++n) {
    unsigned char head[16];
    if (!ReadExact(head, sizeof head)) return nullptr;
    if (GetBe64(head) != kIHaveOpt) {
      LogWarning("nbd: " + peer_ + " sent a bad option magic; hanging up");
      return nullptr;
    }
    const uint32_t option = GetBe32(head + 8);
    const uint32_t length = GetBe32(head + 12);
    if (length > kMaxOptionLength) {
      if (!Skip(length) || !SendOptionReply(option, kRepErrTooBig))
        return nullptr;
      continue;
    }
    std::string data(length, '\0');
    if (length > 0 && !ReadExact(data.data(), length)) return nullptr;
    switch (option) {
      case kOptExportName: {
        auto b = exports_->Find(data);
        // No way to refuse politely here: the protocol says hang up.
        if (!b) return nullptr;
        std::string r;
        PutBe64(r, b->Size());
        PutBe16(r, TransmissionFlags(*b));
        if (!no_zeroes_) r.append(124, '\0');
        if (!WriteAll(r)) return nullptr;
        *name = data;
        return b;
      }
      case kOptAbort:
        SendOptionReply(option, kRepAck);
        return nullptr;
      case kOptList: {
        if (length != 0) {
          if (!SendOptionReply(option, kRepErrInvalid)) return nullptr;
          break;
        }
        for (const std::string& e : exports_->List()) {
          std::string d;
          PutBe32(d, static_cast<uint32_t>(e.size()));
          d += e;
          if (!SendOptionReply(option, kRepServer, d)) return nullptr;
        }
        if (!SendOptionReply(option, kRepAck)) return nullptr;
        break;
      }
      case kOptInfo:
      case kOptGo: {
        std::shared_ptr<BlockBackend> chosen;
        if (!InfoOrGo(option, data, &chosen, name)) return nullptr;
        if (chosen) return chosen;
        break;
      }
      default:  // STARTTLS, STRUCTURED_REPLY, meta contexts, …
        if (!SendOptionReply(option, kRepErrUnsup)) return nullptr;
    }
  }
  LogWarning("nbd: " + peer_ + " sent too many options; hanging up");
  return nullptr;
}

bool NbdConnection::InfoOrGo(uint32_t option, const std::string& data,
                             std::shared_ptr<BlockBackend>* chosen,
                             std::string* name) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  // name length (4), name, number of requests (2), requests (2 each)
  if (data.size() < 6) return SendOptionReply(option, kRepErrInvalid);
  const uint32_t name_len = GetBe32(p);
  if (name_len > data.size() - 6)
    return SendOptionReply(option, kRepErrInvalid);
  const uint16_t n_info = GetBe16(p + 4 + name_len);
  if (data.size() != 6 + name_len + 2u * n_info)
    return SendOptionReply(option, kRepErrInvalid);
  const std::string wanted = data.substr(4, name_len);
  bool want_block_size = false, want_name = false;
  for (uint16_t i = 0; i < n_info; ++i) {
    uint16_t t = GetBe16(p + 6 + name_len + 2 * i);
    want_block_size |= t == kInfoBlockSize;
    want_name |= t == kInfoName;
  }
  auto b = exports_->Find(wanted);
  if (!b) return SendOptionReply(option, kRepErrUnknown);
  std::string info;
  PutBe16(info, kInfoExport);
  PutBe64(info, b->Size());
  PutBe16(info, TransmissionFlags(*b));
  if (!SendOptionReply(option, kRepInfo, info)) return false;
  if (want_name) {
    std::string n;
    PutBe16(n, kInfoName);
    n += wanted;
    if (!SendOptionReply(option, kRepInfo, n)) return false;
  }
  if (want_block_size) {
    std::string bs;
    PutBe16(bs, kInfoBlockSize);
    PutBe32(bs, 1);            // minimum
    PutBe32(bs, 4096);         // preferred
    PutBe32(bs, kMaxPayload);  // maximum
    if (!SendOptionReply(option, kRepInfo, bs)) return false;
  }
  if (!SendOptionReply(option, kRepAck)) return false;
  if (option == kOptGo) {
    *chosen = b;
    *name = wanted;
  }
  return true;
}

void NbdConnection::Transmission(BlockBackend* backend) {
  std::mutex mu;
  std::condition_variable work_cv;   // a job queued, or the reader is done
  std::condition_variable space_cv;  // a job finished
  std::deque<Job> queue;             // GUARDED_BY(mu)
  int in_flight = 0;                 // GUARDED_BY(mu): queued or running
  uint64_t bytes_in_flight = 0;      // GUARDED_BY(mu)
  bool reading_done = false;         // GUARDED_BY(mu)
  std::mutex send_mu;                // one reply on the wire at a time

  auto worker = [&] {
    std::string out, reply;
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mu);
        work_cv.wait(lock, [&] { return !queue.empty() || reading_done; });
        if (queue.empty()) return;
        job = std::move(queue.front());
        queue.pop_front();
      }
      out.clear();
      uint32_t error = 0;
      // An exception in a request (a backend's, an allocation) fails that
      // request with EIO; the connection and stratad go on.
      Status thrown = CatchAll("nbd.request", [&] {
        error = Execute(backend, job.type, job.flags, job.offset, job.length,
                        job.payload, &out);
        return Status::OK();
      });
      if (!thrown.ok()) {
        LogWarning("nbd: " + peer_ + ": " + thrown.ToString());
        error = kEIo;
      }
      reply.clear();
      PutBe32(reply, kSimpleReplyMagic);
      PutBe32(reply, error);
      PutBe64(reply, job.cookie);
      {
        std::lock_guard send(send_mu);
        // A failed send ends the connection: the reader sees the shutdown.
        bool sent = WriteAll(reply);
        if (sent && error == 0 && job.type == kCmdRead) sent = WriteAll(out);
        if (!sent) ::shutdown(fd_.get(), SHUT_RDWR);
      }
      {
        std::lock_guard lock(mu);
        --in_flight;
        bytes_in_flight -= job.cost();
      }
      space_cv.notify_one();
    }
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i) workers.emplace_back(worker);

  // The reader, guarded: whatever ends it (EOF, a bad request, an
  // exception), the workers are told and joined below.
  Status reader = CatchAll("nbd.connection", [&] {
    for (;;) {
      unsigned char req[kRequestSize];
      if (!ReadExact(req, sizeof req)) break;  // EOF or shut down
      if (GetBe32(req) != kRequestMagic) {
        LogWarning("nbd: " + peer_ + " sent a bad request magic; hanging up");
        break;
      }
      Job job;
      job.flags = GetBe16(req + 4);
      job.type = GetBe16(req + 6);
      job.cookie = GetBe64(req + 8);
      job.offset = GetBe64(req + 16);
      job.length = GetBe32(req + 24);
      if (job.type == kCmdDisc) break;
      if (job.type == kCmdWrite) {
        if (job.length > kMaxPayload) {
          LogWarning("nbd: " + peer_ + " sent a write of " +
                     std::to_string(job.length) +
                     " bytes (over the maximum); hanging up");
          break;
        }
        job.payload.resize(job.length);
        if (!ReadExact(job.payload.data(), job.length)) {
          LogWarning("nbd: " + peer_ +
                     " disconnected in the middle of a write");
          break;
        }
      }
      const uint64_t cost = job.cost();
      std::unique_lock lock(mu);
      space_cv.wait(lock, [&] {
        return in_flight == 0 || (in_flight < kWorkers &&
                                  bytes_in_flight + cost <= kMaxBytesInFlight);
      });
      ++in_flight;
      bytes_in_flight += cost;
      queue.push_back(std::move(job));
      lock.unlock();
      work_cv.notify_one();
    }
    return Status::OK();
  });
  if (!reader.ok()) {
    LogWarning("nbd: " + peer_ + ": " + reader.ToString() + "; hanging up");
    ::shutdown(fd_.get(), SHUT_RDWR);
  }
  // Requests already read are run and answered (a client that sent DISC
  // still gets them), then the workers end.
  {
    std::lock_guard lock(mu);
    reading_done = true;
  }
  work_cv.notify_all();
  for (auto& t : workers) t.join();
}

uint32_t NbdConnection::Execute(BlockBackend* b, uint16_t type, uint16_t flags,
                                uint64_t offset, uint32_t length,
                                const std::string& payload, std::string* out) {
  const uint16_t known = kCmdFlagFua | kCmdFlagNoHole | kCmdFlagFastZero;
  if (flags & ~known) return kEInval;
  const bool fua = flags & kCmdFlagFua;
  const bool in_range = offset <= b->Size() && length <= b->Size() - offset;
  const bool writes =
      type == kCmdWrite || type == kCmdTrim || type == kCmdWriteZeroes;
  if (writes && !b->CanWrite()) return kEPerm;
  if (fua && !b->CanFua()) return kEInval;
  Status s;
  switch (type) {
    case kCmdRead:
      if (length == 0 || length > kMaxPayload) return kEInval;
      if (!in_range) return kEInval;
      out->resize(length);
      s = b->Pread(out->data(), length, offset);
      break;
    case kCmdWrite:
      if (!in_range) return kENoSpc;
      s = b->Pwrite(payload.data(), length, offset, fua);
      break;
    case kCmdFlush:
      if (!b->CanFlush()) return kEInval;
      s = b->Flush();
      break;
    case kCmdTrim:
      if (!b->CanTrim()) return kEInval;
      if (!in_range) return kENoSpc;
      s = b->Trim(length, offset, fua);
      break;
    case kCmdWriteZeroes:
      if (!b->CanZero()) return kEInval;
      if (!in_range) return kENoSpc;
      if (flags & kCmdFlagFastZero) return kENotSup;  // not advertised
      s = b->Zero(length, offset, !(flags & kCmdFlagNoHole), fua);
      break;
    default:  // CACHE, BLOCK_STATUS, … are not advertised
      return kEInval;
  }
  if (!s.ok()) {
    LogWarning("nbd: " + peer_ + ": " + s.ToString());
    return ErrnoOf(s);
  }
  return 0;
}

}  // namespace strata::nbd
