// The Cinder side of os-assisted-volume-snapshots (openstack-integration/):
// Nova's endpoint_template expansion, and os-update_snapshot_status as it
// goes over the wire, against a local one-shot HTTP listener that records
// the request and answers what Cinder would (202), then an error (400) and a
// listener that is gone (refused, retried, then reported). The exchange
// with the real cinder-api is in tests/integration/test-assisted-snapshots.sh.
#include "openstack-integration/cinder_snapshot_status.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

using namespace strata;
using namespace strata::openstack;

TEST_CASE("endpoint_template: the project id filled in, as Nova does") {
  CHECK(ExpandEndpointTemplate("http://c:8776/v3/%(project_id)s", "p1") ==
        "http://c:8776/v3/p1");
  CHECK(ExpandEndpointTemplate("http://c:8776/v3/%(tenant)s/", "p1") ==
        "http://c:8776/v3/p1");
  CHECK(ExpandEndpointTemplate("http://c:8776/v3", "p1") == "http://c:8776/v3");
}

namespace {

// Accepts one connection on a loopback port, reads the request (headers and
// a Content-Length body), answers `reply`, and keeps what it read.
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    REQUIRE(listen(fd_, 1) == 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  const std::string& request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  void Serve() {
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    size_t want = std::string::npos;
    while (request_.size() < want) {
      ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
      size_t end = request_.find("\r\n\r\n");
      size_t cl = request_.find("Content-Length: ");
      if (end != std::string::npos && cl != std::string::npos)
        want = end + 4 + std::stoul(request_.substr(cl + 16));
    }
    (void)!write(c, reply_.data(), reply_.size());
    close(c);
  }
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
};

}  // namespace

TEST_CASE("os-update_snapshot_status: the request Cinder gets") {
  OneShotServer cinder("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
  CinderEndpoint ep{
      "http://127.0.0.1:" + std::to_string(cinder.port()) + "/v3/p1", "tok-123",
      "req-1"};
  Status s = UpdateSnapshotStatus(ep, "snap-9", "creating", "90%");
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  const std::string& r = cinder.request();
  CHECK(r.rfind("POST /v3/p1/snapshots/snap-9/action HTTP/1.1\r\n", 0) == 0);
  CHECK(r.find("X-Auth-Token: tok-123\r\n") != std::string::npos);
  CHECK(r.find("Content-Type: application/json\r\n") != std::string::npos);
  CHECK(
      r.find(
          R"({"os-update_snapshot_status":{"progress":"90%","status":"creating"}})") !=
      std::string::npos);
}

TEST_CASE("os-update_snapshot_status: Cinder's refusal is an error") {
  const std::string body = R"({"badRequest": {"message": "no way"}})";
  OneShotServer cinder("HTTP/1.1 400 Bad Request\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body);
  CinderEndpoint ep{
      "http://127.0.0.1:" + std::to_string(cinder.port()) + "/v3/p1", "", ""};
  Status s = UpdateSnapshotStatus(ep, "snap-9", "deleting", "90%");
  INFO(s.ToString());
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("400") != std::string::npos);
  CHECK(s.message().find("no way") != std::string::npos);
}

TEST_CASE("os-update_snapshot_status: Cinder down is retried, then reported") {
  int port;
  {
    OneShotServer gone("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
    port = gone.port();
    // Served once (by a throw-away call), then the listener closes.
    CHECK(UpdateSnapshotStatus(
              {"http://127.0.0.1:" + std::to_string(port), "", ""}, "s",
              "creating", "90%")
              .ok());
  }
  auto start = std::chrono::steady_clock::now();
  Status s =
      UpdateSnapshotStatus({"http://127.0.0.1:" + std::to_string(port), "", ""},
                           "s", "creating", "90%");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::kUnavailable);
  // Three tries, 1 s and 2 s apart.
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::seconds(3));
}
