// The Store contract: one suite, written against Store&, run for every
// driver that can run here (each driver has a fixture below and is listed in
// STRATA_STORE_FIXTURES). A fixture builds its store through the registry
// from a spec string and may offer hooks (CorruptObject) for checks that
// need to reach behind the interface; without a hook the check is skipped.
//
// To add a driver: write a fixture (spec, optional hooks, `available` false
// with a reason when its server is missing) and append it to the list.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/keystone_client.h"
#include "skip.h"
#include "storage-drivers/deadline_store.h"
#include "storage-drivers/local/local_store.h"
#include "storage-drivers/rate_limited_store.h"
#include "storage-drivers/store.h"
#include "storage-drivers/store_registry.h"
#include "storage-drivers/store_wrapper.h"
#include "temp_dir.h"
#include "util/sha256.h"

using strata::testing::TempDir;

namespace {

using namespace strata;
using namespace strata::store;
namespace fs = std::filesystem;

constexpr char kEmptySha[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// ---- fixtures, one per driver ----

// Flips byte 7 of `path` in place.
bool FlipByte(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(7);
  char c = 0;
  f.read(&c, 1);
  f.seekp(7);
  c = static_cast<char>(c ^ 0x20);
  f.write(&c, 1);
  return static_cast<bool>(f);
}

// What every fixture has: a temp dir, the store, and whether it can run.
struct FixtureBase {
  // True when the store itself detects a corrupted copy on read (swift).
  static constexpr bool kChecksOwnCopies = false;
  // True when the store keeps a Put's labels with the object and gives them
  // back from Stat and List (swift, glance): what a catalog rebuild reads.
  static constexpr bool kKeepsLabels = false;
  TempDir tmp;
  std::unique_ptr<Store> store;
  bool available = true;
  std::string skip_reason;
};

struct LocalFixture : FixtureBase {
  static constexpr char kScheme[] = "local";

  LocalFixture() {
    RegisterBuiltinStores();
    auto s = StoreRegistry::Global().Create("local:" + tmp.path + "/store");
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    store = std::move(*s);
  }
  LocalStore& local() { return dynamic_cast<LocalStore&>(*store); }
  // Flips one byte of the stored object behind the store's back.
  bool CorruptObject(const std::string& key) {
    return FlipByte(local().ObjectPath(key));
  }
};

// The same local store behind the bandwidth cap decorator (1 GiB/s, so the
// suite stays fast): the decorator must keep every promise of the contract.
struct RateLimitedLocalFixture : LocalFixture {
  static constexpr char kScheme[] = "local+rate-limited";
  LocalStore* raw;
  RateLimitedLocalFixture() : raw(&LocalFixture::local()) {
    store = MakeRateLimitedStore(std::move(store), 1ull << 30);
  }
  LocalStore& local() { return *raw; }
  bool CorruptObject(const std::string& key) {
    return FlipByte(raw->ObjectPath(key));
  }
};

// The dav driver against a real nginx (Debian's nginx-light: its DAV module
// for PUT/DELETE, autoindex in JSON for listing), started per fixture on a
// free loopback port with a config of its own.
struct DavFixture : FixtureBase {
  static constexpr char kScheme[] = "dav";
  pid_t nginx = -1;

  DavFixture() {
    available = false;
    if (access("/usr/sbin/nginx", X_OK) != 0) {
      skip_reason = "/usr/sbin/nginx missing (apt-get install nginx-light)";
      return;
    }
    const int port = FreePort();
    fs::create_directories(tmp.path + "/root");
    fs::create_directories(tmp.path + "/body");
    std::ofstream(tmp.path + "/nginx.conf")
        << ("daemon off; master_process off; worker_processes 1;\n"
            "pid " +
            tmp.path +
            "/nginx.pid;\n"
            "error_log " +
            tmp.path +
            "/error.log;\n"
            "events { worker_connections 256; }\n"
            "http { access_log off;\n"
            "  client_body_temp_path " +
            tmp.path +
            "/body;\n"
            "  server { listen 127.0.0.1:" +
            std::to_string(port) +
            ";\n"
            "    root " +
            tmp.path +
            "/root; client_max_body_size 0;\n"
            "    location / { dav_methods PUT DELETE MKCOL;\n"
            "      create_full_put_path on; autoindex on;\n"
            "      autoindex_format json; } } }\n");
    nginx = fork();
    if (nginx == 0) {
      execl("/usr/sbin/nginx", "nginx", "-q", "-c",
            (tmp.path + "/nginx.conf").c_str(), nullptr);
      _exit(127);
    }
    REQUIRE(nginx > 0);
    RegisterBuiltinStores();
    auto s = StoreRegistry::Global().Create(
        "dav:http://127.0.0.1:" + std::to_string(port) + "/strata/");
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    store = std::move(*s);
    for (int i = 0; i < 100 && !available; ++i) {  // up to 5 s
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      auto st = store->Stat("probe", RequestOptions{});
      available = st.ok() || st.status().IsNotFound();
    }
    REQUIRE_MESSAGE(available, "nginx did not answer on port " << port);
  }
  ~DavFixture() {
    if (nginx > 0) {
      kill(nginx, SIGTERM);
      waitpid(nginx, nullptr, 0);
    }
  }
  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
  }
  // Flips a byte of the file nginx serves for `key`.
  bool CorruptObject(const std::string& key) {
    return FlipByte(tmp.path + "/root/strata/" + key);
  }
};

// A server started once for the whole binary (it takes seconds) by a
// scripts/start-test-*.sh script, which takes DIR PORT and prints the PID
// of the server's process group; stopped and removed at exit. `binary`
// missing: not ok(), with the package to install as error().
class SharedServer {
 public:
  SharedServer(const std::string& binary, const std::string& package,
               const std::string& script, const std::string& env = "") {
    if (access(binary.c_str(), X_OK) != 0) {
      error_ = binary + " missing (apt-get install " + package + ")";
      return;
    }
    std::string t = (fs::temp_directory_path() / "strata-server-XXXXXX");
    REQUIRE(mkdtemp(t.data()) != nullptr);
    dir_ = t;
    port_ = DavFixture::FreePort();
    const std::string cmd = env + std::string(STRATA_SOURCE_DIR) + "/scripts/" +
                            script + " " + dir_ + " " + std::to_string(port_);
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[32] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    int rc = pclose(p);
    REQUIRE_MESSAGE(rc == 0, script << " failed (see " << dir_ << ")");
    pid_ = std::atoi(std::string(buf, n).c_str());
  }
  ~SharedServer() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGTERM);
    for (int i = 0; i < 100 && kill(pid_, 0) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fs::remove_all(dir_);
  }
  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

 private:
  std::string dir_, error_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// The glance driver against Debian's glance-api (no Keystone, sqlite, file
// backend; scripts/start-test-glance.sh), one server for the whole binary
// and a namespace of its own per fixture, so every test starts with an
// empty store. Glance hashes with SHA-256 here, so the driver's
// os_hash_value check runs too.
SharedServer& SharedGlance() {
  static SharedServer g("/usr/bin/glance-api", "glance-api",
                        "start-test-glance.sh",
                        "GLANCE_HASHING_ALGORITHM=sha256 ");
  return g;
}

struct GlanceFixture : FixtureBase {
  static constexpr char kScheme[] = "glance";
  static constexpr bool kKeepsLabels = true;

  GlanceFixture() {
    SharedServer& g = SharedGlance();
    available = g.ok();
    if (!available) {
      skip_reason = g.error();
      return;
    }
    static std::atomic<int> next{0};
    ns = "t" + std::to_string(getpid()) + "-" + std::to_string(++next);
    RegisterBuiltinStores();
    auto s = StoreRegistry::Global().Create(
        "glance:http://127.0.0.1:" + std::to_string(g.port()) +
        "?namespace=" + ns);
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    store = std::move(*s);
  }
  // Flips a byte of the file Glance's file backend keeps for `key`'s image.
  bool CorruptObject(const std::string& key) {
    auto st = store->Stat(key, RequestOptions{});
    if (!st.ok()) return false;
    const std::string id = st->location.substr(st->location.rfind('/') + 1);
    return FlipByte(SharedGlance().dir() + "/images/" + id);
  }
  std::string ns;
};

// The swift driver against Debian's Swift (scripts/start-test-swift.sh:
// proxy, account, container and object servers, one replica, tempauth), one
// cluster for the whole binary and a container of its own per fixture, with
// 1 MiB segments so that objects of a few MiB are large objects.
SharedServer& SharedSwift() {
  static SharedServer s("/usr/bin/swift-proxy-server", "swift-proxy",
                        "start-test-swift.sh");
  if (s.ok()) std::ofstream(s.dir() + "/key") << "testing\n";
  return s;
}

struct SwiftFixture : FixtureBase {
  static constexpr char kScheme[] = "swift";
  static constexpr bool kChecksOwnCopies = true;
  static constexpr bool kKeepsLabels = true;

  SwiftFixture() : SwiftFixture(SharedSwift(), TempauthSpec()) {}
  static std::string TempauthSpec() {
    return "swift:http://127.0.0.1:" + std::to_string(SharedSwift().port()) +
           "/auth/v1.0?user=test:tester&key_file=" + SharedSwift().dir() +
           "/key";
  }
  explicit SwiftFixture(SharedServer& sw, const std::string& auth) {
    available = sw.ok();
    if (!available) {
      skip_reason = sw.error();
      return;
    }
    static std::atomic<int> next{0};
    container = "t" + std::to_string(getpid()) + "-" + std::to_string(++next);
    segment_containers = {container + "_segments"};
    swift_dir = sw.dir();
    RegisterBuiltinStores();
    auto s = StoreRegistry::Global().Create(
        auth + "&segment_mib=1&container=" + container);
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    store = std::move(*s);
  }
  // Flips a byte of the object server's file of `key`'s first segment: the
  // one whose Swift metadata (an xattr) names its path.
  bool CorruptObject(const std::string& key) {
    // (keys outside volumes/, so in the base container also with
    // container_per=volume)
    std::vector<std::string> hits;
    for (const auto& e :
         fs::recursive_directory_iterator(swift_dir + "/node")) {
      if (e.path().extension() != ".data") continue;
      char meta[8192];
      ssize_t n =
          getxattr(e.path().c_str(), "user.swift.metadata", meta, sizeof meta);
      if (n <= 0) continue;
      const std::string m(meta, static_cast<size_t>(n));
      for (const std::string& c : segment_containers) {
        const std::string path = "/" + c + "/" + key + "/";
        if (m.find(path) != std::string::npos)
          hits.push_back(m.substr(m.find(path), path.size() + 40) + "\t" +
                         e.path().string());
      }
    }
    if (hits.empty()) return false;
    std::sort(hits.begin(), hits.end());  // the lowest segment index first
    return FlipByte(hits.front().substr(hits.front().find('\t') + 1));
  }
  std::string container, swift_dir;
  std::vector<std::string> segment_containers;  // where a key's may be
};

// Adds a project_id label to every Put that has none: one of two projects,
// by the key's length, as the engine labels a layer with its snapshot's
// project.
class ProjectLabelingStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  static std::string ProjectOf(const std::string& key) {
    return key.size() % 2 ? "pa" : "pb";
  }
  Result<ObjectInfo> Put(const std::string& key, ByteSource& src,
                         const RequestOptions& opts) override {
    RequestOptions labelled = opts;
    labelled.labels.emplace("project_id", ProjectOf(key));
    return next().Put(key, src, labelled);
  }
};

// container_per=project (tempauth): each key's object in its project's
// container, found there by reads that are told only the key.
struct SwiftProjectFixture : SwiftFixture {
  SwiftProjectFixture()
      : SwiftFixture(SharedSwift(), TempauthSpec() + "&container_per=project") {
    if (!available) return;
    segment_containers = {container + "-pa_segments",
                          container + "-pb_segments"};
    store = std::make_unique<ProjectLabelingStore>(std::move(store));
  }
};

// The swift driver behind Keystone: Debian's keystone
// (scripts/start-test-keystone.sh) and a Swift that authenticates with it
// (KEYSTONE_URL=… scripts/start-test-swift.sh); the store authenticates
// with the service's password, finds Swift in the catalog, and keeps one
// container per volume.
SharedServer& SharedKeystone() {
  static SharedServer s("/usr/bin/keystone-wsgi-public", "keystone",
                        "start-test-keystone.sh");
  if (s.ok()) std::ofstream(s.dir() + "/strata.pw") << "strata-secret\n";
  return s;
}
SharedServer& SharedKeystoneSwift() {
  // Without Keystone, the binary it lacks is named as the reason to skip.
  const bool keystone = SharedKeystone().ok();
  static SharedServer s(
      keystone ? "/usr/bin/swift-proxy-server"
               : "/usr/bin/keystone-wsgi-public",
      keystone ? "swift-proxy" : "keystone", "start-test-swift.sh",
      SharedKeystone().ok()
          ? "KEYSTONE_URL=http://127.0.0.1:" +
                std::to_string(SharedKeystone().port()) + "/v3 "
          : "");
  return s;
}

struct SwiftKeystoneFixture : SwiftFixture {
  SwiftKeystoneFixture()
      : SwiftFixture(SharedKeystoneSwift(),
                     "swift:http://127.0.0.1:" +
                         std::to_string(SharedKeystone().port()) +
                         "/v3?user=strata&project=service&password_file=" +
                         SharedKeystone().dir() +
                         "/strata.pw&container_per=volume") {}
};

// The same, authenticated with a per-project token from a file (alice's,
// member of project alpha): the store works in alpha's own account, found
// in the token's catalog.
struct SwiftTokenFixture : SwiftFixture {
  SwiftTokenFixture()
      : SwiftFixture(SharedKeystoneSwift(),
                     "swift:http://127.0.0.1:" +
                         std::to_string(SharedKeystone().port()) +
                         "/v3?token_file=" + AliceTokenFile()) {}
  static std::string AliceTokenFile() {
    static const std::string path = [] {
      const std::string file = SharedKeystone().dir() + "/alice.token";
      if (!SharedKeystone().ok()) return file;
      auto token = http::IssuePasswordToken(
          {"http://127.0.0.1:" + std::to_string(SharedKeystone().port()) +
               "/v3",
           "alice", "alice-secret", "alpha"},
          Deadline(std::chrono::seconds(30), std::chrono::seconds(0)));
      REQUIRE_MESSAGE(token.ok(), token.status().ToString());
      std::ofstream(file) << token->id << "\n";
      return file;
    }();
    return path;
  }
};

#define STRATA_STORE_FIXTURES                                       \
  LocalFixture, RateLimitedLocalFixture, DavFixture, GlanceFixture, \
      SwiftFixture, SwiftKeystoneFixture, SwiftTokenFixture,        \
      SwiftProjectFixture

// Every registered scheme must have a fixture above.
const std::set<std::string> kSchemesWithFixtures = {
    LocalFixture::kScheme, DavFixture::kScheme, GlanceFixture::kScheme,
    SwiftFixture::kScheme};

#define SKIP_IF_UNAVAILABLE(fx) \
  if (!(fx).available) STRATA_SKIP(F::kScheme << ": " << (fx).skip_reason)

// ---- helpers ----

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string ShaOf(const std::string& s) {
  Sha256 h;
  h.Update(s);
  return h.HexDigest();
}

// `sha256sum` of the file, via popen.
std::string Sha256sum(const std::string& path) {
  FILE* p = popen(("sha256sum '" + path + "'").c_str(), "r");
  if (!p) return "";
  char buf[64];
  size_t n = fread(buf, 1, sizeof buf, p);
  int rc = pclose(p);
  return (n == 64 && rc == 0) ? std::string(buf, 64) : "";
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary).write(data.data(), data.size());
}

// Serves a string in uneven reads (short reads are legal).
class JitterSource : public ByteSource {
 public:
  explicit JitterSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t want = std::min(n, 1 + static_cast<size_t>(rng_() % 300000));
    size_t take = std::min(want, data_.size() - pos_);
    std::copy_n(data_.data() + pos_, take, buf);
    pos_ += take;
    return take;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
  std::mt19937 rng_{7};
};

// Gives `ok_bytes` bytes, then fails (or sleeps `delay` per read).
class FaultySource : public ByteSource {
 public:
  FaultySource(size_t ok_bytes, std::chrono::milliseconds delay)
      : left_(ok_bytes), delay_(delay) {}
  Result<size_t> Read(char* buf, size_t n) override {
    std::this_thread::sleep_for(delay_);
    if (left_ == 0) return Status::IoError("source broke");
    size_t take = std::min(n, left_);
    std::fill_n(buf, take, 'x');
    left_ -= take;
    return take;
  }

 private:
  size_t left_;
  std::chrono::milliseconds delay_;
};

RequestOptions TestOptions() {
  RequestOptions o;
  o.request_id = "test-req";
  return o;
}
const RequestOptions kOpts = TestOptions();

Result<ObjectInfo> PutString(Store& s, const std::string& key,
                             const std::string& data) {
  StringSource src(data);
  return s.Put(key, src, kOpts);
}

// The bytes of `key`, or the failure.
Result<std::string> GetString(Store& s, const std::string& key,
                              const std::string& expected = "") {
  StringSink sink;
  Status st = s.Get(key, sink, expected, kOpts);
  if (!st.ok()) return st;
  return sink.data();
}

// Keeps what it is given; after the first `pause_after` bytes it waits, in
// Write, until Release(): a reader held mid-object.
class PausingSink : public ByteSink {
 public:
  explicit PausingSink(size_t pause_after) : pause_after_(pause_after) {}
  Status Write(const char* buf, size_t n) override {
    data_.append(buf, n);
    std::unique_lock<std::mutex> lock(mu_);
    if (data_.size() >= pause_after_ && !released_) {
      paused_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    return Status::OK();
  }
  void AwaitPaused() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return paused_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  const std::string& data() const { return data_; }

 private:
  const size_t pause_after_;
  std::string data_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false, released_ = false;  // GUARDED_BY(mu_)
};

std::vector<std::string> Keys(const std::vector<ObjectInfo>& v) {
  std::vector<std::string> out;
  for (const auto& o : v) out.push_back(o.key);
  return out;
}

}  // namespace

// ---- the contract ----

TEST_CASE_TEMPLATE("contract: streamed round trip matches sha256sum", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  const std::string data = RandomBytes(5 * (1 << 20) + 12345, 1);
  TempDir tmp;
  WriteFile(tmp.path + "/payload", data);
  const std::string want = Sha256sum(tmp.path + "/payload");
  REQUIRE(want.size() == 64);

  JitterSource src(data);
  auto put = s.Put("volumes/v1/s1.qcow2", src, kOpts);
  REQUIRE_MESSAGE(put.ok(), put.status().ToString());
  CHECK(put->key == "volumes/v1/s1.qcow2");
  CHECK(put->size == data.size());
  CHECK(put->sha256 == want);
  CHECK_FALSE(put->location.empty());
  auto got = GetString(s, "volumes/v1/s1.qcow2", want);
  REQUIRE(got.ok());
  CHECK(*got == data);
  CHECK(*GetString(s, "volumes/v1/s1.qcow2") == data);  // unverified
  std::string upper = want;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  CHECK(GetString(s, "volumes/v1/s1.qcow2", upper).ok());

  auto st = s.Stat("volumes/v1/s1.qcow2", kOpts);
  REQUIRE(st.ok());
  CHECK(st->size == data.size());
  CHECK(st->sha256 == want);
  CHECK(st->location == put->location);
}

TEST_CASE_TEMPLATE("contract: verification and missing objects", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  REQUIRE(PutString(s, "a/b", "hello").ok());
  CHECK(GetString(s, "a/b", kEmptySha).status().code() ==
        StatusCode::kCorruption);
  CHECK(GetString(s, "a/b", "xyz").status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(GetString(s, "a/missing").status().IsNotFound());
  CHECK(GetString(s, "a").status().IsNotFound());  // a prefix, not an object
  CHECK(GetString(s, "nope/x", kEmptySha).status().IsNotFound());
  CHECK(s.Stat("a/missing", kOpts).status().IsNotFound());
  CHECK(s.Stat("a", kOpts).status().IsNotFound());
}

TEST_CASE_TEMPLATE("contract: overwrite, empty object, delete", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  const std::string a = RandomBytes(300000, 2), b = RandomBytes(1000, 3);
  REQUIRE(PutString(s, "k/obj", a).ok());
  auto put = PutString(s, "k/obj", b);
  REQUIRE(put.ok());
  CHECK(put->sha256 == ShaOf(b));
  CHECK(*GetString(s, "k/obj", ShaOf(b)) == b);
  auto st = s.Stat("k/obj", kOpts);
  REQUIRE(st.ok());
  CHECK(st->size == b.size());
  CHECK(st->sha256 == ShaOf(b));

  auto empty = PutString(s, "k/empty", "");
  REQUIRE(empty.ok());
  CHECK(empty->size == 0);
  CHECK(empty->sha256 == kEmptySha);
  CHECK(*GetString(s, "k/empty", kEmptySha) == "");
  CHECK(s.Stat("k/empty", kOpts)->sha256 == kEmptySha);

  CHECK(s.Delete("k/obj", kOpts).ok());
  CHECK(s.Stat("k/obj", kOpts).status().IsNotFound());
  CHECK(GetString(s, "k/obj").status().IsNotFound());
  CHECK(s.Delete("k/obj", kOpts).ok());        // again
  CHECK(s.Delete("never/there", kOpts).ok());  // never existed
  CHECK(Keys(*s.List("k/", kOpts)) == std::vector<std::string>{"k/empty"});
}

TEST_CASE_TEMPLATE("contract: labels come back from stat and list", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  RequestOptions o = kOpts;
  o.labels = {{"volume_id", "9aadabf4-8c37-4f6a-b111-d8f8db753666"},
              {"snapshot_name", "nightly 100% / \"ok\" \u00e9t\u00e9\nline"},
              {"volume_path", "/var/lib/strata/disks/a b.qcow2"}};
  StringSource src(std::string(3 << 20, 'l'));
  REQUIRE(s.Put("volumes/v/labelled.qcow2", src, o).ok());
  auto st = s.Stat("volumes/v/labelled.qcow2", kOpts);
  REQUIRE(st.ok());
  auto listed = s.List("volumes/v/", kOpts);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  if constexpr (F::kKeepsLabels) {
    for (const auto& [name, value] : o.labels) {
      CHECK(st->labels[name] == value);
      CHECK(listed->front().labels[name] == value);
    }
  } else {
    CHECK(st->labels.empty());
  }
}

TEST_CASE_TEMPLATE("contract: list by prefix, sorted", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  for (const char* k : {"volumes/v1/s2.qcow2", "volumes/v10/a.qcow2", "other/y",
                        "volumes/v1/s1.qcow2", "volumes/v2/x"})
    REQUIRE(PutString(s, k, k).ok());
  using V = std::vector<std::string>;
  CHECK(Keys(*s.List("volumes/v1/", kOpts)) ==
        V{"volumes/v1/s1.qcow2", "volumes/v1/s2.qcow2"});
  CHECK(Keys(*s.List("volumes/v1", kOpts)) ==
        V{"volumes/v1/s1.qcow2", "volumes/v1/s2.qcow2", "volumes/v10/a.qcow2"});
  CHECK(Keys(*s.List("", kOpts)) == V{"other/y", "volumes/v1/s1.qcow2",
                                      "volumes/v1/s2.qcow2",
                                      "volumes/v10/a.qcow2", "volumes/v2/x"});
  CHECK(s.List("volumes/v3/", kOpts)->empty());
  CHECK(s.List("zzz", kOpts)->empty());
  auto all = s.List("volumes/v2/", kOpts);
  REQUIRE(all->size() == 1);
  CHECK(all->front().size == std::string("volumes/v2/x").size());
  CHECK(all->front().sha256 == ShaOf("volumes/v2/x"));
  CHECK(s.List("../", kOpts).status().code() == StatusCode::kInvalidArgument);
  CHECK(s.List("a//", kOpts).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE_TEMPLATE("contract: bad keys are refused", F, STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  const std::vector<std::string> bad = {"",
                                        "/a",
                                        "a/",
                                        "a//b",
                                        "..",
                                        "../a",
                                        "a/../b",
                                        "a/./b",
                                        ".",
                                        "a b",
                                        "a\\b",
                                        "a#b",
                                        "a\nb",
                                        "caf\xc3\xa9",
                                        std::string("a\0b", 3),
                                        std::string(201, 'x'),
                                        std::string(1025, 'x')};
  for (const std::string& k : bad) {
    CAPTURE(k);
    CHECK(PutString(s, k, "x").status().code() == StatusCode::kInvalidArgument);
    CHECK(GetString(s, k).status().code() == StatusCode::kInvalidArgument);
    CHECK(s.Stat(k, kOpts).status().code() == StatusCode::kInvalidArgument);
    CHECK(s.Delete(k, kOpts).code() == StatusCode::kInvalidArgument);
  }
  for (const char* k : {"a", ".hidden", "A-b_c.d/e", "volumes/0b9e/s.qcow2"})
    CHECK_MESSAGE(PutString(s, k, "x").ok(), k);
}

TEST_CASE_TEMPLATE("contract: concurrent puts from 4 threads", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  constexpr int kThreads = 4, kPerThread = 6;
  std::vector<Status> results(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int n = t * kPerThread + i;
        JitterSource src(RandomBytes(100000 * n + 17, n));
        auto r = s.Put("c/t" + std::to_string(t) + "/o" + std::to_string(i),
                       src, kOpts);
        results[n] = r.status();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const Status& r : results) CHECK_MESSAGE(r.ok(), r.ToString());
  for (int n = 0; n < kThreads * kPerThread; ++n) {
    std::string key = "c/t" + std::to_string(n / kPerThread) + "/o" +
                      std::to_string(n % kPerThread);
    std::string data = RandomBytes(100000 * n + 17, n);
    CHECK(GetString(s, key, ShaOf(data)).ok());
  }
  CHECK(s.List("c/", kOpts)->size() == kThreads * kPerThread);
}

TEST_CASE_TEMPLATE("contract: readers see the old or the new object, whole", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  const std::string a = RandomBytes(2 << 20, 4), b = RandomBytes(1 << 20, 5);
  REQUIRE(PutString(s, "swap", a).ok());
  std::atomic<bool> done{false};
  int torn = 0, reads = 0;
  std::string first_torn;  // what the first torn read was
  std::thread reader([&] {
    while (!done) {
      auto got = GetString(s, "swap");
      ++reads;
      if (got.ok() && (*got == a || *got == b)) continue;
      if (++torn == 1)
        first_torn = got.ok() ? std::to_string(got->size()) + " other bytes"
                              : got.status().ToString();
    }
  });
  for (int i = 0; i < 8; ++i) REQUIRE(PutString(s, "swap", i % 2 ? a : b).ok());
  done = true;
  reader.join();
  CHECK(reads > 0);
  CHECK_MESSAGE(torn == 0, first_torn);
}

// A reader mid-way through an object when a Put replaces it gets the old
// object whole (swift: the replaced version's segments are not deleted
// under it).
TEST_CASE_TEMPLATE(
    "contract: a read under way when the object is replaced ends whole", F,
    STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  const std::string a = RandomBytes(16 << 20, 11),
                    b = RandomBytes(16 << 20, 12);
  REQUIRE(PutString(s, "held/read", a).ok());
  PausingSink sink(64 << 10);
  Status got = Status::Internal("the reader did not run");
  std::thread reader([&] { got = s.Get("held/read", sink, ShaOf(a), kOpts); });
  sink.AwaitPaused();
  Status put = PutString(s, "held/read", b).status();
  sink.Release();
  reader.join();
  REQUIRE_MESSAGE(put.ok(), put.ToString());
  CHECK_MESSAGE(got.ok(), got.ToString());
  CHECK(sink.data() == a);
  CHECK(*GetString(s, "held/read", ShaOf(b)) == b);
}

TEST_CASE_TEMPLATE("contract: a failed or late put leaves no trace", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  FaultySource broken(3 << 20, std::chrono::milliseconds(0));
  CHECK(s.Put("f/new", broken, kOpts).status().code() == StatusCode::kIoError);
  CHECK(s.Stat("f/new", kOpts).status().IsNotFound());

  REQUIRE(PutString(s, "f/old", "old bytes").ok());
  FaultySource broken2(1 << 20, std::chrono::milliseconds(0));
  CHECK_FALSE(s.Put("f/old", broken2, kOpts).ok());
  CHECK(*GetString(s, "f/old", ShaOf("old bytes")) == "old bytes");

  FaultySource slow(20 << 20, std::chrono::milliseconds(20));  // ~0.4 s
  RequestOptions late;
  late.timeout = std::chrono::milliseconds(50);
  late.request_id = "late-req";
  auto r = s.Put("f/late", slow, late);
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(r.status().retryable());
  CHECK(r.status().message().find("late-req") != std::string::npos);
  CHECK(s.Stat("f/late", kOpts).status().IsNotFound());
  CHECK(Keys(*s.List("f/", kOpts)) == std::vector<std::string>{"f/old"});
}

TEST_CASE_TEMPLATE("contract: corrupted object fails verification", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  const std::string data = RandomBytes(70000, 6);
  auto put = PutString(s, "x/victim", data);
  REQUIRE(put.ok());
  REQUIRE(fx.CorruptObject("x/victim"));
  CHECK(GetString(s, "x/victim", put->sha256).status().code() ==
        StatusCode::kCorruption);
  auto raw = GetString(s, "x/victim");
  if constexpr (F::kChecksOwnCopies) {
    // A store that checks its own copies (Swift's object server
    // quarantines a segment whose MD5 no longer matches, here its only
    // replica) must not hand out other bytes, verified or not.
    CHECK((!raw.ok() || *raw == data));
  } else {
    REQUIRE(raw.ok());  // unverified reads still work
    CHECK(*raw != data);
  }
}

TEST_CASE_TEMPLATE("contract: PutFile and GetToFile", F,
                   STRATA_STORE_FIXTURES) {
  F fx;
  SKIP_IF_UNAVAILABLE(fx);
  Store& s = *fx.store;
  TempDir tmp;
  const std::string src = tmp.path + "/src.qcow2";
  const std::string data = RandomBytes(3 * (1 << 20) + 5, 8);
  WriteFile(src, data);
  auto put = PutFile(s, "files/one", src, kOpts);
  REQUIRE(put.ok());
  CHECK(put->sha256 == Sha256sum(src));
  CHECK(PutFile(s, "files/two", tmp.path + "/absent", kOpts)
            .status()
            .IsNotFound());

  const std::string dst = tmp.path + "/dl/out.qcow2";
  fs::create_directory(tmp.path + "/dl");
  REQUIRE(GetToFile(s, "files/one", dst, put->sha256, kOpts).ok());
  CHECK(Sha256sum(dst) == put->sha256);

  const std::string bad = tmp.path + "/dl/bad.qcow2";
  CHECK(GetToFile(s, "files/one", bad, kEmptySha, kOpts).code() ==
        StatusCode::kCorruption);
  CHECK(GetToFile(s, "files/missing", bad, "", kOpts).IsNotFound());
  CHECK_FALSE(fs::exists(bad));
  // A failed download leaves an existing file alone.
  CHECK_FALSE(GetToFile(s, "files/one", dst, kEmptySha, kOpts).ok());
  CHECK(Sha256sum(dst) == put->sha256);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(tmp.path + "/dl"))
    left.push_back(e.path().filename());
  CHECK(left == std::vector<std::string>{"out.qcow2"});  // no temp files
}

// ---- registry and local-only checks ----

TEST_CASE("registry: every registered scheme has a contract fixture") {
  RegisterBuiltinStores();
  RegisterBuiltinStores();  // idempotent
  for (const std::string& scheme : StoreRegistry::Global().Schemes())
    CHECK_MESSAGE(kSchemesWithFixtures.count(scheme) == 1, scheme);
  auto unknown = StoreRegistry::Global().Create("swiftish:container");
  CHECK(unknown.status().code() == StatusCode::kInvalidArgument);
  CHECK(unknown.status().message().find("local") != std::string::npos);
  CHECK(StoreRegistry::Global().Create("no-colon").status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(StoreRegistry::Global().Create("local:relative/dir").status().code() ==
        StatusCode::kInvalidArgument);
}

// Style's "capabilities, not probes": CanLink says whether LocalFile gives
// the object's own file; a decorator that must see every transfer hides it,
// and the deadline decorator (outermost, no transfer of its own) keeps it.
TEST_CASE("local: CanLink, hidden by a pacing decorator, kept by deadlines") {
  LocalFixture plain;
  REQUIRE(PutString(*plain.store, "volumes/v/s.qcow2", "layer bytes").ok());
  CHECK(plain.store->CanLink());
  auto file = plain.store->LocalFile("volumes/v/s.qcow2");
  REQUIRE(file.ok());
  std::ifstream in(*file, std::ios::binary);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "layer bytes");

  RateLimitedLocalFixture paced;
  REQUIRE(PutString(*paced.store, "volumes/v/s.qcow2", "layer bytes").ok());
  CHECK_FALSE(paced.store->CanLink());
  CHECK_FALSE(paced.store->LocalFile("volumes/v/s.qcow2").ok());

  auto bounded = MakeDeadlineStore(std::move(plain.store), StoreLimits{});
  CHECK(bounded->CanLink());
  auto paced_bounded = MakeDeadlineStore(std::move(paced.store), StoreLimits{});
  CHECK_FALSE(paced_bounded->CanLink());
}

TEST_CASE("local: layout, hidden temp files, stale sidecars") {
  LocalFixture fx;
  LocalStore& s = fx.local();
  CHECK(s.Name() == "local");
  auto put = PutString(s, "v/a", "data");
  REQUIRE(put.ok());
  const std::string path = s.ObjectPath("v/a");
  CHECK(put->location == "file://" + path);
  CHECK(fs::exists(path + "#sha256"));
  CHECK((fs::status(s.root() + "/v").permissions() & fs::perms::all) ==
        fs::perms(0750));
  // Temp files, sidecars and foreign names never show up in List.
  WriteFile(s.root() + "/v/b#part-0123456789abcdef", "partial");
  WriteFile(s.root() + "/v/not a key", "foreign");
  CHECK(Keys(*s.List("", kOpts)) == std::vector<std::string>{"v/a"});
  // Bytes replaced behind the store's back: the digest becomes unknown, not
  // wrong.
  WriteFile(path + ".new", "other");
  fs::rename(path + ".new", path);
  auto st = s.Stat("v/a", kOpts);
  REQUIRE(st.ok());
  CHECK(st->sha256 == "");
  CHECK(s.Delete("v/a", kOpts).ok());
  CHECK_FALSE(fs::exists(path + "#sha256"));
  // An object cannot also be a directory of objects, and vice versa.
  REQUIRE(PutString(s, "p/leaf", "x").ok());
  CHECK(PutString(s, "p/leaf/child", "x").status().IsConflict());
  CHECK(PutString(s, "p", "x").status().IsConflict());
}

TEST_CASE("local: temp files of a process killed mid-Put are swept") {
  TempDir tmp;
  RegisterBuiltinStores();
  const std::string spec = "local:" + tmp.path + "/store";
  // Two children, each killed (_exit) halfway through a Put, as kill -9
  // would: each leaves its temp file.
  for (const char* key : {"v/old", "v/young"}) {
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      auto s = StoreRegistry::Global().Create(spec);
      if (!s.ok()) _exit(2);
      class DyingSource : public ByteSource {
       public:
        Result<size_t> Read(char* buf, size_t n) override {
          if (sent_ >= (3u << 20)) _exit(0);  // dies mid-upload
          std::fill_n(buf, n, 'x');
          sent_ += n;
          return n;
        }
        size_t sent_ = 0;
      } src;
      (void)(*s)->Put(key, src, RequestOptions{});
      _exit(3);
    }
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }
  std::vector<std::string> temps;
  for (const auto& e : fs::directory_iterator(tmp.path + "/store/v"))
    temps.push_back(e.path().filename());
  std::sort(temps.begin(), temps.end());
  REQUIRE(temps.size() == 2);
  CHECK(temps[0].rfind("old#part-", 0) == 0);
  CHECK(temps[1].rfind("young#part-", 0) == 0);
  // The first was left 11 minutes ago (older than kStaleTempAge); the
  // second just now, as a Put still running would be.
  const std::string old_temp = tmp.path + "/store/v/" + temps[0];
  fs::last_write_time(
      old_temp, fs::file_time_type::clock::now() - std::chrono::minutes(11));
  REQUIRE(
      PutString(**StoreRegistry::Global().Create(spec), "v/kept", "k").ok());
  auto again = StoreRegistry::Global().Create(spec);  // a restart
  REQUIRE(again.ok());
  CHECK_FALSE(fs::exists(old_temp));
  CHECK(fs::exists(tmp.path + "/store/v/" + temps[1]));
  CHECK(*GetString(**again, "v/kept") == "k");
  CHECK(Keys(*(*again)->List("", kOpts)) == std::vector<std::string>{"v/kept"});
}

// Swift's own view, through its API as tempauth's test:tester.
struct SwiftView {
  SwiftView() {
    const std::string auth =
        Sh("curl -si -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' "
           "http://127.0.0.1:" +
           std::to_string(SharedSwift().port()) + "/auth/v1.0");
    url = Header(auth, "x-storage-url");
    token = Header(auth, "x-auth-token");
    REQUIRE_FALSE(token.empty());
  }
  static std::string Sh(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    pclose(p);
    return out;
  }
  static std::string Header(const std::string& head, const std::string& name) {
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    size_t at = lower.find("\n" + name + ":");
    if (at == std::string::npos) return "";
    size_t from = at + name.size() + 2;
    size_t end = head.find_first_of("\r\n", from);
    std::string v = head.substr(from, end - from);
    v.erase(0, v.find_first_not_of(' '));
    return v;
  }
  // GET of PATH (under the storage URL), body only.
  std::string Get(const std::string& path) const {
    return Sh("curl -s -H 'X-Auth-Token: " + token + "' '" + url + path + "'");
  }
  // HEAD of PATH: the status line and headers.
  std::string Head(const std::string& path) const {
    return Sh("curl -sI -H 'X-Auth-Token: " + token + "' '" + url + path + "'");
  }
  std::string url, token;
};

// swift: a replaced version's segments expire (X-Delete-After) rather than
// go under a reader; a later Put that reuses one (the newest of its index,
// here the third segment of the 3 MiB version a 2 MiB one replaced) takes
// that expiry off, else the object would break when it fell due.
TEST_CASE("swift: segments a manifest names never expire") {
  SwiftFixture fx;
  if (!fx.available) STRATA_SKIP("swift: " << fx.skip_reason);
  Store& s = *fx.store;
  const std::string x = RandomBytes(3 << 20, 21), y = RandomBytes(2 << 20, 22);
  REQUIRE(PutString(s, "exp/obj", x).ok());
  REQUIRE(PutString(s, "exp/obj", y).ok());
  REQUIRE(PutString(s, "exp/obj", x).ok());
  CHECK(*GetString(s, "exp/obj", ShaOf(x)) == x);
  SwiftView sw;
  const std::string manifest =
      sw.Get("/" + fx.container + "/exp/obj?multipart-manifest=get");
  auto segments = nlohmann::json::parse(manifest, nullptr, false);
  REQUIRE_MESSAGE(segments.is_array(), manifest);
  REQUIRE(segments.size() == 3);
  for (const auto& seg : segments) {
    const std::string head = sw.Head(seg.value("name", ""));
    INFO("segment ", seg.value("name", ""), ":\n", head);
    CHECK(head.find(" 200") != std::string::npos);
    CHECK(SwiftView::Header(head, "x-delete-at").empty());
  }
}

// swift, container_per=project: a Put goes to NAME-<its project_id label>;
// a store that has seen none of it (a restart) still reads, lists and
// deletes each key, and a delete finds the segments a failed Put kept in
// a project's container.
TEST_CASE("swift: container_per=project") {
  SwiftProjectFixture fx;
  if (!fx.available) STRATA_SKIP("swift: " << fx.skip_reason);
  const std::string a = RandomBytes((1 << 20) + 3, 31), b = RandomBytes(99, 32);
  // Keys of 19 bytes are project pa's, of 20 pb's.
  REQUIRE(PutString(*fx.store, "volumes/v1/s1.qcow2", a).ok());
  REQUIRE(PutString(*fx.store, "volumes/v1/s22.qcow2", b).ok());
  SwiftView sw;
  auto names = [&](const std::string& container) {
    return sw.Get("/" + container + "?format=plain");
  };
  CHECK(names(fx.container + "-pa") == "volumes/v1/s1.qcow2\n");
  CHECK(names(fx.container + "-pb") == "volumes/v1/s22.qcow2\n");
  CHECK(names(fx.container + "-pa_segments").find("volumes/v1/s1.qcow2/") == 0);
  // A Put cut short by an outage after 2 of its 1 MiB segments keeps them
  // for the next to resume from.
  class OutageSource : public ByteSource {
   public:
    Result<size_t> Read(char* buf, size_t n) override {
      if (left_ == 0) return Status::Unavailable("the way to Swift broke");
      size_t take = std::min(n, left_);
      std::fill_n(buf, take, 'o');
      left_ -= take;
      return take;
    }
    size_t left_ = 2 << 20;
  } broken;
  CHECK_FALSE(fx.store->Put("volumes/v2/s3.qcow2", broken, kOpts).ok());
  CHECK(names(fx.container + "-pa_segments").find("volumes/v2/s3.qcow2/") !=
        std::string::npos);

  auto fresh = StoreRegistry::Global().Create(
      SwiftFixture::TempauthSpec() + "&segment_mib=1&container_per=project&" +
      "container=" + fx.container);
  REQUIRE(fresh.ok());
  Store& s = **fresh;
  CHECK(*GetString(s, "volumes/v1/s1.qcow2", ShaOf(a)) == a);
  CHECK(s.Stat("volumes/v1/s22.qcow2", kOpts)->sha256 == ShaOf(b));
  CHECK(
      Keys(*s.List("volumes/v1/", kOpts)) ==
      std::vector<std::string>{"volumes/v1/s1.qcow2", "volumes/v1/s22.qcow2"});
  CHECK(s.Stat("volumes/v1/none.qcow2", kOpts).status().IsNotFound());
  REQUIRE(s.Delete("volumes/v1/s1.qcow2", kOpts).ok());
  REQUIRE(s.Delete("volumes/v2/s3.qcow2", kOpts).ok());
  CHECK(names(fx.container + "-pa").empty());
  CHECK(names(fx.container + "-pa_segments").empty());
  CHECK(GetString(s, "volumes/v1/s1.qcow2").status().IsNotFound());
}
