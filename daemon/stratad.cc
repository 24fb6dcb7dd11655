// stratad: Strata's daemon. Wires the catalog, the store, the engine and the
// REST API together, recovers interrupted operations, serves until SIGTERM
// or SIGINT, then lets running operations finish.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "api/handlers.h"
#include "api/server.h"
#include "daemon/daemon_config.h"
#include "daemon/metrics_gauges.h"
#include "daemon/nbd_exports.h"
#include "db/catalog.h"
#include "engine/engine.h"
#include "engine/group_hold.h"
#include "engine/memory_regions.h"
#include "hypervisor/libvirt_hypervisor.h"
#include "nbd/server.h"
#include "policy/policy_runner.h"
#include "storage-drivers/deadline_store.h"
#include "storage-drivers/metered_store.h"
#include "storage-drivers/rate_limited_store.h"
#include "storage-drivers/relay/aes_gcm_store.h"
#include "storage-drivers/relay/zstd_store.h"
#include "storage-drivers/store_registry.h"
#include "util/fs.h"
#include "util/log.h"

using namespace strata;

namespace {

int Fail(const std::string& msg, int code = 1) {
  std::cerr << "stratad: " << msg << "\n";
  return code;
}

// `stratad --hold-guard URI DEADLINE_NS UUID...`: a group cut's hold guard
// (engine/group_hold.h), started by a stratad that holds domains.
int HoldGuardMain(int argc, char** argv) {
  if (argc < 5) return Fail("--hold-guard URI DEADLINE_NS UUID...", 2);
  hypervisor::LibvirtConnectionOptions lo;
  lo.uri = argv[2];
  const auto deadline = engine::HoldClock::time_point(
      std::chrono::nanoseconds(std::strtoll(argv[3], nullptr, 10)));
  std::vector<std::string> domains(argv + 4, argv + argc);
  auto hv = hypervisor::LibvirtHypervisor::ConnectLazily(std::move(lo));
  return engine::RunHoldGuard(hv.get(), deadline, domains, STDIN_FILENO);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--hold-guard")
    return HoldGuardMain(argc, argv);
  auto cfg = daemon::ParseDaemonConfig(argc, argv);
  if (!cfg.ok()) {
    std::cerr << "stratad: " << cfg.status().message() << "\n"
              << daemon::DaemonUsage();
    return 2;
  }
  if (cfg->show_help) {
    std::cout << daemon::DaemonUsage();
    return 0;
  }
  if (cfg->log_json) SetLogFormat(LogFormat::kJson);
  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // o+x (no listing): qemu, running as libvirt-qemu, reaches disks below.
  if (Status s = MakeDirs(cfg->state_dir, 0751); !s.ok())
    return Fail(s.message());
  auto state = CanonicalPath(cfg->state_dir);
  if (!state.ok()) return Fail(state.status().message());
  // One daemon per state directory.
  UniqueFd lock_fd(open(JoinPath(*state, "stratad.lock").c_str(),
                        O_RDWR | O_CREAT | O_CLOEXEC, 0640));
  if (!lock_fd.valid() || flock(lock_fd.get(), LOCK_EX | LOCK_NB) != 0)
    return Fail("another stratad is using " + *state);

  // A bad policy file stops the start, before anything is served.
  auto policy = api::Policy::Load(cfg->policy_file);
  if (!policy.ok()) return Fail(policy.status().message());

  auto catalog = db::Catalog::Open(JoinPath(*state, "catalog.db"));
  if (!catalog.ok()) return Fail(catalog.status().message());
  store::RegisterBuiltinStores();
  std::string spec = cfg->store_spec.empty()
                         ? "local:" + JoinPath(*state, "store")
                         : cfg->store_spec;
  auto store = store::StoreRegistry::Global().Create(spec);
  if (!store.ok())
    return Fail("store " + spec + ": " + store.status().message());
  // Relay stages sit outside the bandwidth cap, which paces the bytes that
  // really travel to the store (compressed, encrypted ones). Compression
  // comes first: encrypted bytes do not compress.
  std::unique_ptr<store::Store> paced = store::MakeRateLimitedStore(
      std::move(*store), cfg->store_max_bytes_per_second);
  if (cfg->store_aes) {
    if (cfg->store_key_file.empty())
      return Fail(
          "[store] encryption = aes-256-gcm needs [store] "
          "encryption_key_file");
    auto key = store::LoadAesKey(cfg->store_key_file);
    if (!key.ok()) return Fail(key.status().message());
    paced = store::MakeAesGcmStore(std::move(paced), *key);
  }
  if (cfg->store_zstd)
    paced = store::MakeZstdStore(std::move(paced), cfg->store_zstd_level);
  // Outermost: every call, stages included, is bounded.
  store::StoreLimits limits;
  limits.stall_timeout = std::chrono::seconds(cfg->store_stall_seconds);
  limits.metadata_timeout =
      std::chrono::seconds(cfg->store_request_timeout_seconds);
  paced = store::MakeDeadlineStore(std::move(paced), limits);
  // Counted for /metrics as the engine sees the store.
  paced = store::MakeMeteredStore(std::move(paced));

  engine::EngineOptions eo;
  std::vector<std::string> dirs = cfg->manage_dirs;
  if (dirs.empty()) dirs.push_back(JoinPath(*state, "disks"));
  for (const auto& d : dirs) {
    if (Status made = MakeDirs(d, 0751); !made.ok())
      return Fail("manage dir " + d + ": " + made.message());
    auto canon = CanonicalPath(d);
    if (!canon.ok())
      return Fail("manage dir " + d + ": " + canon.status().message());
    eo.allowed_dirs.push_back(*canon);
  }
  // Created volumes' disks (Cinder's volume create), a managed directory
  // too: their chains are confined like every other.
  {
    const std::string d =
        cfg->volume_dir.empty() ? JoinPath(*state, "volumes") : cfg->volume_dir;
    if (Status made = MakeDirs(d, 0751); !made.ok())
      return Fail("volume dir " + d + ": " + made.message());
    auto canon = CanonicalPath(d);
    if (!canon.ok())
      return Fail("volume dir " + d + ": " + canon.status().message());
    eo.volume_dir = *canon;
    if (std::find(eo.allowed_dirs.begin(), eo.allowed_dirs.end(), *canon) ==
        eo.allowed_dirs.end())
      eo.allowed_dirs.push_back(*canon);
  }
  // Backing files outside the disk's own directory (confinement.h): Nova's
  // image cache by default, where there is one.
  const std::string nova_base = "/var/lib/nova/instances/_base";
  std::vector<std::string> bases = cfg->shared_base_dirs.value_or(
      PathExists(nova_base) ? std::vector<std::string>{nova_base}
                            : std::vector<std::string>{});
  for (const auto& d : bases) {
    auto canon = CanonicalPath(d);
    if (!canon.ok())
      return Fail("shared base dir " + d + ": " + canon.status().message());
    eo.shared_base_dirs.push_back(*canon);
  }
  eo.overlay = {cfg->overlay_cluster_size, cfg->overlay_subclusters,
                cfg->overlay_reserve_mib << 20};
  eo.workers = cfg->workers;
  eo.upload_attempts = cfg->upload_attempts;
  eo.worker_nice = cfg->worker_nice;
  eo.layer_socket_dir = JoinPath(*state, "layer-nbd");
  // Memory snapshots' regions (issue 21): readable by stratad alone.
  eo.memory_dir =
      cfg->memory_dir.empty() ? JoinPath(*state, "memory") : cfg->memory_dir;
  if (Status made = MakeDirs(eo.memory_dir, 0700); !made.ok())
    return Fail("memory dir " + eo.memory_dir + ": " + made.message());
  for (const std::string& d : cfg->memory_devices)
    if (d.empty() || d[0] != '/' || !engine::IsBlockDevice(d))
      return Fail("[memory] devices: " + d + " is not a block device");
  eo.memory_devices = cfg->memory_devices;
  eo.memory_downtime_ms = static_cast<int64_t>(cfg->memory_downtime_ms);
  eo.memory_max_passes = static_cast<int64_t>(cfg->memory_max_passes);
  eo.group_hold_ms = static_cast<int64_t>(cfg->group_hold_ms);
  eo.layer_socket_group = cfg->nbd_socket_group.value_or(
      ::getgrnam("libvirt-qemu") ? "libvirt-qemu" : "");
  std::unique_ptr<hypervisor::Hypervisor> hv;
  if (cfg->libvirt_uri != "none") {
    // The child's /proc/self/exe is this program, even once replaced on
    // disk by an upgrade.
    eo.hold_guard_argv = {"/proc/self/exe", "--hold-guard", cfg->libvirt_uri};
    hypervisor::LibvirtConnectionOptions lo;
    lo.uri = cfg->libvirt_uri;
    lo.domain_name_glob = cfg->domain_name_glob;
    lo.keepalive_interval =
        std::chrono::seconds(cfg->libvirt_keepalive_interval);
    lo.keepalive_count = static_cast<unsigned>(cfg->libvirt_keepalive_count);
    lo.connect_timeout = std::chrono::seconds(cfg->libvirt_connect_timeout);
    hv = hypervisor::LibvirtHypervisor::ConnectLazily(std::move(lo));
  }
  engine::Engine engine(catalog->get(), paced.get(), eo, hv.get());
  if (cfg->rebuild_catalog) {
    auto report = engine.RebuildCatalog();
    if (!report.ok())
      return Fail("rebuilding the catalog from " + spec + ": " +
                  report.status().ToString());
    std::cout << "rebuilt from " << spec << ": " << report->volumes_added
              << " volume(s) and " << report->snapshots_added
              << " snapshot(s) added (" << report->memory_added
              << " with their memory), " << report->snapshots_known
              << " snapshot(s) known already, " << report->skipped
              << " object(s) skipped\n";
    return 0;
  }
  if (Status s = engine.Recover(); !s.ok())
    return Fail("recovery failed: " + s.ToString());

  api::Router router;
  api::AddVersionRoutes(router);
  api::AddHealthcheckRoutes(router, cfg->healthcheck_disable_by_file_path);
  api::AddMetricsRoute(router);
  api::DashboardOptions dash;
  dash.auth_strategy = cfg->auth_strategy;
  dash.keystone_auth_url = cfg->keystone_auth_url;
  api::AddDashboardRoutes(router, dash);
  api::ServiceInfoOptions si;
  si.availability_zone = cfg->storage_availability_zone;
  si.capacity_dir =
      eo.volume_dir.empty() ? eo.allowed_dirs.front() : eo.volume_dir;
  api::AddVolumeRoutes(router, &engine, cfg->default_project, si);
  api::AddSnapshotRoutes(router, &engine);
  api::AddServerRoutes(router, &engine, cfg->default_project);
  api::AddInstantRollbackRoutes(router, &engine, cfg->default_project);
  api::AddImageRoutes(router, &engine);
  api::AddCinderInfoRoutes(router, &engine, si);
  api::AddVolumeTransferRoutes(router, &engine);
  api::AddBackupRoutes(router, &engine, cfg->storage_availability_zone);
  coordinator::CoordinatorOptions group_opts;
  group_opts.hosts = cfg->group_hosts;
  group_opts.hold_ms = static_cast<int64_t>(cfg->group_hold_ms);
  coordinator::LocalParts local_parts;
  local_parts.discard_members = [&engine](const std::string& id) {
    return engine.groups().DiscardMembers(id);
  };
  local_parts.delete_group_snapshot = [&engine](const std::string& id) {
    return engine.groups().DeleteGroupSnapshot(id);
  };
  coordinator::GroupCoordinator group_coordinator(catalog->get(), group_opts,
                                                  std::move(local_parts));
  group_coordinator.RecoverInterrupted();
  api::AddGroupRoutes(router, &engine, cfg->storage_availability_zone,
                      &group_coordinator);
  api::AddGroupCutRoutes(router, &engine, cfg->default_project);
  api::AddMessageRoutes(router, &engine);
  api::AddTaskRoutes(router, &engine);
  policy::PolicyRunner::Options po;
  po.default_project = cfg->default_project;
  policy::PolicyRunner policies(&engine, po);
  api::AddPolicyRoutes(router, &engine, &policies);
  openstack::AssistedSnapshots assisted(hv.get());
  api::CinderOptions co;
  co.endpoint_template = cfg->cinder_endpoint_template;
  co.catalog_info = cfg->cinder_catalog_info;
  co.region = cfg->cinder_region;
  api::AddAssistedSnapshotRoutes(router, &assisted, co);
  api::ServerOptions so;
  so.host = cfg->listen_host;
  so.port = cfg->listen_port;
  so.max_body = cfg->max_body_bytes;
  so.max_connections = cfg->api_max_connections;
  so.max_connections_per_client = cfg->api_max_connections_per_client;
  so.idle_timeout = std::chrono::seconds(cfg->api_idle_seconds);
  so.request_timeout = std::chrono::seconds(cfg->api_request_seconds);
  so.policy = *policy;
  so.v3_collections = api::V3Collections();
  so.compute_collections = api::ComputeCollections();
  so.tls_cert_file = cfg->tls_cert_file;
  so.tls_key_file = cfg->tls_key_file;
  so.plain_host = cfg->plain_listen_host;
  so.plain_port = cfg->plain_listen_port;
  std::unique_ptr<api::Authenticator> auth;
  if (cfg->auth_strategy == "keystone") {
    api::KeystoneAuthOptions ko;
    ko.auth_url = cfg->keystone_auth_url;
    ko.username = cfg->keystone_username;
    ko.password = cfg->keystone_password;
    ko.project_name = cfg->keystone_project_name;
    ko.user_domain_name = cfg->keystone_user_domain;
    ko.project_domain_name = cfg->keystone_project_domain;
    ko.token_cache_seconds = cfg->keystone_token_cache_time;
    ko.timeout_seconds = cfg->keystone_timeout;
    auth = api::MakeKeystoneAuth(ko);
  } else {
    auth = api::MakeNoAuth(cfg->default_project);
  }
  // NBD exports (issue 6): each backend opened (and, with [nbd] cache, a
  // crash's cache records replayed into it) after recovery, which works on
  // quiet files, and before the API answers, so a bad one stops the start
  // with its reason.
  const std::string nbd_dir = cfg->nbd_socket_dir.empty()
                                  ? JoinPath(*state, "nbd")
                                  : cfg->nbd_socket_dir;
  std::string nbd_group = cfg->nbd_socket_group.value_or(
      ::getgrnam("libvirt-qemu") ? "libvirt-qemu" : "");
  nbd::NbdServer nbd_server(nbd_dir, nbd_group);
  nbd_server.SetMaxClients(cfg->nbd_max_connections);
  std::vector<api::NbdExportInfo> nbd_exports;
  engine::ExportedChains exported_chains;
  if (Status s = daemon::SetUpNbdExports(*cfg, nbd_dir, &engine, &nbd_server,
                                         &exported_chains, &nbd_exports);
      !s.ok())
    return Fail(s.message(), s.code() == StatusCode::kInvalidArgument ? 2 : 1);
  engine.AttachChainHolder(&exported_chains);
  engine.ResumeInterrupted();
  // Scheduled runs start after recovery and resumed uploads (a missed time
  // runs at once).
  policies.Start();
  if (cfg->nbd_tcp_port > 0)
    if (Status s = nbd_server.ListenTcp(cfg->nbd_tcp_host, cfg->nbd_tcp_port);
        !s.ok())
      return Fail(s.message(),
                  s.code() == StatusCode::kInvalidArgument ? 2 : 1);
  // Read at each scrape; they go before the engine and caches they read.
  const auto gauges = daemon::RegisterGauges(&engine, nbd_exports);
  api::AddNbdExportRoutes(router, std::move(nbd_exports));
  api::ApiServer server(so, std::move(auth), std::move(router));
  if (Status s = server.Start(); !s.ok())
    return Fail(s.message(), s.code() == StatusCode::kInvalidArgument ? 2 : 1);
  const std::string scheme = so.tls_cert_file.empty() ? "http" : "https";
  LogInfo("listening on " + scheme + "://" + so.host + ":" +
          std::to_string(so.port) +
          (so.plain_port > 0 ? " and http://" + so.plain_host + ":" +
                                   std::to_string(so.plain_port)
                             : "") +
          " (state " + *state + ", store " + spec + ", auth " +
          cfg->auth_strategy + ")");
  std::fprintf(stdout, "stratad ready on %s://%s:%d\n", scheme.c_str(),
               so.host.c_str(), so.port);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  LogInfo(std::string("stopping on ") + strsignal(sig));
  server.Stop();
  policies.Stop();
  nbd_server.Stop();
  engine.Stop();
  return 0;
}
