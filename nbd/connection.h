// One NBD client, from the handshake to its disconnect: the fixed newstyle
// handshake, option haggling (EXPORT_NAME, GO, INFO, LIST, ABORT; anything
// else answered "unsupported"), then transmission with simple replies:
// READ, WRITE, FLUSH, TRIM, WRITE_ZEROES (FUA and NO_HOLE honoured), DISC.
//
// A request the server can answer without losing its place in the stream
// (out of range, unknown command or flag, a write to a read-only export) gets
// an error reply and the connection goes on; a request that breaks the
// framing (bad magic, a write payload over the 32 MiB maximum) or a client
// that stops mid-message ends the connection — only that one: a connection
// owns nothing but its socket. A write is acknowledged only after the
// backend has it (and, with FUA, has it durably).
//
// Requests run concurrently (up to 8 at a time, 64 MiB of data in flight)
// and are replied to as each completes, so the backend must be thread-safe
// (every BlockBackend is).
//
// Thread-safety: Serve runs on the connection's own thread (and its
// workers); Shutdown may be called from any thread to end it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nbd/block_backend.h"
#include "util/fs.h"

namespace strata::nbd {

// What a client can open: by name ("" is the listener's default export).
class ExportResolver {
 public:
  virtual ~ExportResolver() = default;
  // The backend of export `name`, or nullptr when there is none.
  virtual std::shared_ptr<BlockBackend> Find(const std::string& name) = 0;
  virtual std::vector<std::string> List() = 0;
  // A client negotiated export `name` / ended its session on it.
  virtual void Opened(const std::string& name) { (void)name; }
  virtual void Closed(const std::string& name) { (void)name; }
};

class NbdConnection {
 public:
  NbdConnection(UniqueFd fd, ExportResolver* exports, std::string peer);
  // Serves the client until it disconnects, misbehaves, or Shutdown().
  void Serve();
  // Makes Serve return soon (the socket is shut down under it).
  void Shutdown();
  const std::string& peer() const { return peer_; }

 private:
  void ServeClient();
  // Handshake and options; the export to serve, or nullptr to hang up.
  std::shared_ptr<BlockBackend> Negotiate(std::string* name);
  // NBD_OPT_INFO / NBD_OPT_GO; true with *chosen set when GO succeeded.
  bool InfoOrGo(uint32_t option, const std::string& data,
                std::shared_ptr<BlockBackend>* chosen, std::string* name);
  bool SendOptionReply(uint32_t option, uint32_t type,
                       const std::string& data = "");
  void Transmission(BlockBackend* backend);
  // One request's work; returns the NBD error (0 for success). `payload`
  // holds a WRITE's data, `out` receives a READ's.
  uint32_t Execute(BlockBackend* b, uint16_t type, uint16_t flags,
                   uint64_t offset, uint32_t length, const std::string& payload,
                   std::string* out);
  uint16_t TransmissionFlags(const BlockBackend& b) const;

  bool ReadExact(void* buf, size_t n);
  bool WriteAll(const std::string& data);
  bool Skip(uint64_t n);

  UniqueFd fd_;
  ExportResolver* exports_;
  const std::string peer_;
  bool no_zeroes_ = false;
};

}  // namespace strata::nbd
