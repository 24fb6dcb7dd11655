// Helpers shared by the fuzz targets: a scratch file the input is written
// to (for readers that take a path), made once per process.
// Thread-safety: one fuzzing thread (libFuzzer's, or the replay driver's).
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace strata::fuzz {

// A path in a directory of this process's own; WriteScratch replaces the
// file's content with `data`.
inline const std::string& ScratchPath() {
  static const std::string path = [] {
    char dir[] = "/tmp/strata-fuzz.XXXXXX";
    if (!mkdtemp(dir)) abort();
    return std::string(dir) + "/input";
  }();
  return path;
}

inline void WriteScratch(const uint8_t* data, size_t size) {
  int fd = open(ScratchPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) abort();
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) abort();
    done += static_cast<size_t>(n);
  }
  close(fd);
}

}  // namespace strata::fuzz
