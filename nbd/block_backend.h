// BlockBackend: what an NBD export serves and what a layer (the redirect
// cache) wraps — a fixed-size array of bytes with reads, writes, flush,
// trim and zeroing, in the manner of nbdkit's plugin/filter `next`.
// Capabilities are explicit; the server advertises only what the backend
// can do and never calls the rest.
//
// Errors are Status values: InvalidArgument for a range outside the disk
// (the server checks first), NotSupported for a capability it lacks, IoError
// (with errno's text) otherwise; Unavailable when an upstream server is gone.
//
// Thread-safety: implementations are safe to call from several threads
// (several NBD connections, the write-back path of a layer).
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace strata::nbd {

class BlockBackend {
 public:
  virtual ~BlockBackend() = default;
  // What it is, for logs ("file:/var/lib/x.raw").
  virtual std::string Describe() const = 0;
  virtual uint64_t Size() const = 0;
  virtual bool CanWrite() const = 0;
  virtual bool CanFlush() const = 0;
  // Writes with `fua` are durable when they return.
  virtual bool CanFua() const = 0;
  virtual bool CanTrim() const = 0;
  virtual bool CanZero() const = 0;
  // Several connections see each other's completed writes and one's flush
  // covers all (NBD_FLAG_CAN_MULTI_CONN).
  virtual bool CanMultiConn() const = 0;

  virtual Status Pread(void* buf, uint32_t count, uint64_t offset) = 0;
  virtual Status Pwrite(const void* buf, uint32_t count, uint64_t offset,
                        bool fua) = 0;
  virtual Status Flush() = 0;
  // Discards the range (reads may then return anything); advisory.
  virtual Status Trim(uint32_t count, uint64_t offset, bool fua) = 0;
  // Makes the range read as zeroes; `may_trim` lets it deallocate.
  virtual Status Zero(uint32_t count, uint64_t offset, bool may_trim,
                      bool fua) = 0;
};

}  // namespace strata::nbd
