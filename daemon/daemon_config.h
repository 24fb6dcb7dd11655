// stratad's configuration: command-line flags over an oslo.config-style ini
// file over built-in defaults. See docs/configuration.md for every key.
// Thread-safety: built once at start-up, then read-only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace strata::daemon {

struct DaemonConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8786;
  std::string tls_cert_file, tls_key_file;  // both: HTTPS on listen
  std::string plain_listen_host;            // [api] plain_listen, if asked
  int plain_listen_port = 0;
  std::string state_dir = "./var";
  // [DEFAULT] storage_availability_zone: the one zone the API reports,
  // Cinder's option of the same name and default.
  std::string storage_availability_zone = "nova";
  // [DEFAULT] use_json, as oslo.log names it: log lines as JSON objects.
  bool log_json = false;
  std::string auth_strategy = "noauth";  // or "keystone"
  // [keystone_authtoken], as keystonemiddleware names it: the service user
  // tokens are validated with.
  std::string keystone_auth_url, keystone_username, keystone_password,
      keystone_project_name;
  std::string keystone_user_domain = "Default",
              keystone_project_domain = "Default";
  int keystone_token_cache_time = 300;
  int keystone_timeout = 10;  // http_connect_timeout: seconds per request
  std::string store_spec;     // default: local:<state_dir>/store
  uint64_t store_max_bytes_per_second = 0;  // 0: no cap
  // Bounds of every store call (storage-drivers/deadline_store.h).
  uint64_t store_stall_seconds = 30;
  uint64_t store_request_timeout_seconds = 60;
  bool store_zstd = false;  // [store] compression = zstd
  int store_zstd_level = 3;
  bool store_aes = false;                // [store] encryption = aes-256-gcm
  std::string store_key_file;            // [store] encryption_key_file
  std::vector<std::string> manage_dirs;  // default: <state_dir>/disks
  // Where created volumes get their disks; default <state_dir>/volumes.
  std::string volume_dir;
  // Read-only directories of backing files (default: Nova's image cache,
  // when it exists).
  std::optional<std::vector<std::string>> shared_base_dirs;
  uint64_t overlay_cluster_size = 0;
  bool overlay_subclusters = true;     // [engine] overlay_subclusters
  uint64_t overlay_reserve_mib = 256;  // [engine] overlay_reserve_mib
  // [memory] dir, downtime_limit_ms, max_passes: memory snapshots (issue
  // 21); the directory defaults to <state_dir>/memory.
  std::string memory_dir;
  std::vector<std::string> memory_devices;
  uint64_t memory_downtime_ms = 300;
  uint64_t memory_max_passes = 3;
  // [groups] hold_max_ms: how long a group cut holds this host's writers
  // at most (issue 22, engine/group_hold.h).
  uint64_t group_hold_ms = 10000;
  // [hypervisor] domain_name_glob: only the domains whose names match
  // (several stratads sharing one libvirtd, as tests of several hosts do).
  std::string domain_name_glob;
  // [groups] hosts: every compute host's stratad API root, this one's
  // included; a group snapshot of servers is coordinated across them.
  std::vector<std::string> group_hosts;
  int workers = 2;
  int upload_attempts = 3;
  int worker_nice = 10;
  size_t max_body_bytes = 1 << 20;
  // [api] max_connections, max_connections_per_client, idle_seconds,
  // request_seconds: the API's connection gate (api/connection_gate.h).
  uint64_t api_max_connections = 1024;
  uint64_t api_max_connections_per_client = 256;
  uint64_t api_idle_seconds = 60;
  uint64_t api_request_seconds = 60;
  std::string policy_file;  // [api] policy_file: overrides of the defaults
  std::string libvirt_uri = "qemu:///system";  // "none": no hypervisor
  // Bounds of every wait on libvirtd (hypervisor/libvirt_connection.h):
  // keepalive pings after this much silence, the connection given up after
  // that many unanswered; a connection attempt waited for this long.
  uint64_t libvirt_keepalive_interval = 5;
  uint64_t libvirt_keepalive_count = 2;
  uint64_t libvirt_connect_timeout = 10;
  // Owner of domains without Nova's owner metadata.
  std::string default_project = "admin";
  // [cinder]: where os-assisted-volume-snapshots reports to Cinder (Nova's
  // options of the same names).
  std::string cinder_endpoint_template;
  std::string cinder_catalog_info = "volumev3::publicURL";
  std::string cinder_region;
  // [nbd]: exports served over NBD ("NAME=BACKEND", nbd/backend_spec.h),
  // each on <nbd_socket_dir>/NAME.sock, and optionally on TCP.
  std::vector<std::string> nbd_exports;
  std::string nbd_socket_dir;         // default: <state_dir>/nbd
  uint64_t nbd_max_connections = 64;  // [nbd] max_connections
  // Group of the export sockets: libvirt's qemu must be able to connect.
  // Default: libvirt-qemu when that group exists.
  std::optional<std::string> nbd_socket_group;
  // [healthcheck] disable_by_file_path, as oslo.middleware names it: while
  // this file exists /healthcheck answers 503 (an operator drains the host).
  std::string healthcheck_disable_by_file_path;
  std::string nbd_tcp_host;  // [nbd] tcp_listen, if asked
  int nbd_tcp_port = 0;
  // [nbd] cache = on: each export behind a redirect cache (R0), its log at
  // <nbd_socket_dir>/NAME.cache; the drain policy's thresholds (R0.10).
  bool nbd_cache = false;
  uint64_t nbd_drain_batch_bytes = 8 << 20;
  // A drain that does not shrink holds the VM's writes to this percentage
  // of the write-back rate (0: off).
  uint64_t nbd_drain_throttle_percent = 50;
  uint64_t nbd_block_below_records = 0;
  uint64_t nbd_block_below_bytes = 1 << 20;
  uint64_t nbd_block_below_ms = 20;
  // R0.11/R0.3: each cached export's writes per time-of-day slot of this
  // many seconds (must divide a day), kept in the catalog; the drain puts
  // off its final stretch while more than nbd_defer_block_above_writes
  // writes are forecast for the next nbd_forecast_window_seconds (0: off).
  uint64_t nbd_forecast_slot_seconds = 900;
  uint64_t nbd_defer_block_above_writes = 0;
  uint64_t nbd_forecast_window_seconds = 60;
  bool show_help = false;
  // --rebuild-catalog: rebuild the catalog from the store, then exit.
  bool rebuild_catalog = false;
};

// Parses argv (flags win over the --config file). InvalidArgument with a
// message fit for stderr on a bad flag, value or unreadable config.
Result<DaemonConfig> ParseDaemonConfig(int argc, char** argv);
std::string DaemonUsage();

}  // namespace strata::daemon
