// Whole-message reads and writes on a stream socket, for both ends of NBD
// (the server's connections and the upstream client backend): short reads
// and writes are resumed, EINTR retried, SIGPIPE never raised.
// Thread-safety: reentrant; one reader and one writer per socket at a time.
#pragma once

#include <sys/un.h>

#include <cstddef>
#include <string>

#include "util/status.h"

namespace strata::nbd {

// False when the peer closed or the socket failed before `n` bytes came.
bool ReadExact(int fd, void* buf, size_t n);
// False when the socket failed before all `n` bytes went out.
bool WriteAll(int fd, const void* buf, size_t n);
// The address of unix socket `path` (to bind or connect); InvalidArgument
// when the path does not fit.
Result<sockaddr_un> UnixSocketAddress(const std::string& path);

}  // namespace strata::nbd
