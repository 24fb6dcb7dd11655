// Fuzz target: the NBD server's option haggling and request parsing
// (nbd/connection.h). Input: every byte a client sends, from the flags
// after the greeting to the last request. The server answers over a
// socketpair into a 1 MiB memory-backed export, as it would a real client.
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <thread>

#include "nbd/connection.h"
#include "nbd/file_backend.h"

namespace {

class OneExport : public strata::nbd::ExportResolver {
 public:
  OneExport() {
    const int fd = memfd_create("strata-fuzz-export", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 1 << 20) != 0) abort();
    auto b = strata::nbd::FileBackend::Open(
        "/proc/self/fd/" + std::to_string(fd), false);
    if (!b.ok()) abort();
    backend_ = std::move(*b);
    close(fd);
  }
  std::shared_ptr<strata::nbd::BlockBackend> Find(
      const std::string& name) override {
    return name.empty() || name == "e" ? backend_ : nullptr;
  }
  std::vector<std::string> List() override { return {"e"}; }

 private:
  std::shared_ptr<strata::nbd::BlockBackend> backend_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static OneExport* exports = [] {
    signal(SIGPIPE, SIG_IGN);
    return new OneExport();
  }();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) abort();
  std::thread server([&] {
    strata::nbd::NbdConnection conn(strata::UniqueFd(fds[0]), exports, "fuzz");
    conn.Serve();
  });
  // The input fits the socket's buffer (libFuzzer's inputs are small); the
  // server's answers are read until it hangs up.
  size_t sent = 0;
  while (sent < size) {
    ssize_t n = send(fds[1], data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  shutdown(fds[1], SHUT_WR);
  char sink[65536];
  while (read(fds[1], sink, sizeof sink) > 0) {
  }
  server.join();
  close(fds[1]);
  return 0;
}
