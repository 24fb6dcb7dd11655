// stratad configuration parsing. See daemon_config.h.
#include "daemon/daemon_config.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "util/ini_config.h"

namespace strata::daemon {
namespace {

// HOST:PORT of `what` (a flag or key name, for messages).
Status ParseHostPort(const std::string& what, const std::string& v,
                     std::string* host, int* port) {
  size_t colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size())
    return Status::InvalidArgument(what + " wants HOST:PORT, got '" + v + "'");
  std::string p = v.substr(colon + 1);
  if (p.find_first_not_of("0123456789") != std::string::npos || p.size() > 5 ||
      std::stoi(p) < 1 || std::stoi(p) > 65535)
    return Status::InvalidArgument("bad port in " + what + " '" + v + "'");
  *host = v.substr(0, colon);
  *port = std::stoi(p);
  return Status::OK();
}

Result<uint64_t> ParseUint(const std::string& key, const std::string& v) {
  if (v.empty() || v.size() > 18 ||
      v.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument(
        key + " must be a non-negative integer, got '" + v + "'");
  return std::stoull(v);
}

// true/false, yes/no, on/off, 1/0, as oslo.config reads booleans.
Result<bool> ParseBool(const std::string& key, const std::string& v) {
  std::string l;
  for (char ch : v)
    l += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (l == "true" || l == "yes" || l == "on" || l == "1") return true;
  if (l == "false" || l == "no" || l == "off" || l == "0") return false;
  return Status::InvalidArgument(key + " must be true or false, got '" + v +
                                 "'");
}

std::vector<std::string> SplitList(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

// Applies one ini section.key (both from the file and from flags).
Status Apply(const std::string& key, const std::string& v, DaemonConfig* c) {
  if (key == "api.listen")
    return ParseHostPort("--listen", v, &c->listen_host, &c->listen_port);
  if (key == "api.plain_listen")
    return ParseHostPort("[api] plain_listen", v, &c->plain_listen_host,
                         &c->plain_listen_port);
  if (key == "api.tls_cert_file") {
    c->tls_cert_file = v;
    return Status::OK();
  }
  if (key == "api.tls_key_file") {
    c->tls_key_file = v;
    return Status::OK();
  }
  if (key == "DEFAULT.state_dir") {
    c->state_dir = v;
  } else if (key == "DEFAULT.use_json") {
    STRATA_ASSIGN_OR_RETURN(c->log_json, ParseBool(key, v));
  } else if (key == "DEFAULT.storage_availability_zone") {
    if (v.empty() || v.size() > 255)
      return Status::InvalidArgument(key + " must be 1 to 255 characters");
    c->storage_availability_zone = v;
  } else if (key == "auth.strategy") {
    if (v != "noauth" && v != "keystone")
      return Status::InvalidArgument("[auth] strategy '" + v +
                                     "' is not supported (noauth, keystone)");
    c->auth_strategy = v;
  } else if (key == "keystone_authtoken.auth_url") {
    c->keystone_auth_url = v;
  } else if (key == "keystone_authtoken.username") {
    c->keystone_username = v;
  } else if (key == "keystone_authtoken.password") {
    c->keystone_password = v;
  } else if (key == "keystone_authtoken.project_name") {
    c->keystone_project_name = v;
  } else if (key == "keystone_authtoken.user_domain_name") {
    c->keystone_user_domain = v;
  } else if (key == "keystone_authtoken.project_domain_name") {
    c->keystone_project_domain = v;
  } else if (key == "keystone_authtoken.token_cache_time") {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, ParseUint(key, v));
    if (n > 86400) return Status::InvalidArgument(key + " must be 0..86400");
    c->keystone_token_cache_time = static_cast<int>(n);
  } else if (key == "keystone_authtoken.http_connect_timeout") {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, ParseUint(key, v));
    if (n < 1 || n > 3600)
      return Status::InvalidArgument(key + " must be 1..3600");
    c->keystone_timeout = static_cast<int>(n);
  } else if (key == "nbd.exports") {
    c->nbd_exports = SplitList(v);
  } else if (key == "nbd.cache") {
    if (v != "on" && v != "off")
      return Status::InvalidArgument(key + " must be on or off, not '" + v +
                                     "'");
    c->nbd_cache = v == "on";
  } else if (key == "nbd.drain_throttle_percent") {
    STRATA_ASSIGN_OR_RETURN(c->nbd_drain_throttle_percent, ParseUint(key, v));
    if (c->nbd_drain_throttle_percent > 100)
      return Status::InvalidArgument(
          "[nbd] drain_throttle_percent must be 0 (off) to 100");
  } else if (key == "nbd.drain_batch_bytes") {
    STRATA_ASSIGN_OR_RETURN(c->nbd_drain_batch_bytes, ParseUint(key, v));
    if (c->nbd_drain_batch_bytes == 0)
      return Status::InvalidArgument(key + " must be more than 0");
  } else if (key == "nbd.block_below_records") {
    STRATA_ASSIGN_OR_RETURN(c->nbd_block_below_records, ParseUint(key, v));
  } else if (key == "nbd.block_below_bytes") {
    STRATA_ASSIGN_OR_RETURN(c->nbd_block_below_bytes, ParseUint(key, v));
  } else if (key == "nbd.block_below_ms") {
    STRATA_ASSIGN_OR_RETURN(c->nbd_block_below_ms, ParseUint(key, v));
  } else if (key == "nbd.forecast_slot_seconds") {
    STRATA_ASSIGN_OR_RETURN(c->nbd_forecast_slot_seconds, ParseUint(key, v));
    if (c->nbd_forecast_slot_seconds < 60 ||
        86400 % c->nbd_forecast_slot_seconds != 0)
      return Status::InvalidArgument(
          key + " must be at least 60 and divide a day (86400), not " + v);
  } else if (key == "nbd.defer_block_above_writes") {
    STRATA_ASSIGN_OR_RETURN(c->nbd_defer_block_above_writes, ParseUint(key, v));
  } else if (key == "nbd.forecast_window_seconds") {
    STRATA_ASSIGN_OR_RETURN(c->nbd_forecast_window_seconds, ParseUint(key, v));
    if (c->nbd_forecast_window_seconds == 0)
      return Status::InvalidArgument(key + " must be more than 0");
  } else if (key == "healthcheck.disable_by_file_path") {
    c->healthcheck_disable_by_file_path = v;
  } else if (key == "nbd.socket_group") {
    c->nbd_socket_group = v;
  } else if (key == "nbd.socket_dir") {
    c->nbd_socket_dir = v;
  } else if (key == "nbd.max_connections") {
    STRATA_ASSIGN_OR_RETURN(c->nbd_max_connections, ParseUint(key, v));
    if (c->nbd_max_connections < 1)
      return Status::InvalidArgument(key + " must be 1 or more");
  } else if (key == "nbd.tcp_listen") {
    return ParseHostPort("[nbd] tcp_listen", v, &c->nbd_tcp_host,
                         &c->nbd_tcp_port);
  } else if (key == "cinder.endpoint_template") {
    c->cinder_endpoint_template = v;
  } else if (key == "cinder.catalog_info") {
    if (std::count(v.begin(), v.end(), ':') != 2)
      return Status::InvalidArgument(
          "[cinder] catalog_info must be service_type:service_name:"
          "endpoint_type, e.g. volumev3::publicURL, not '" +
          v + "'");
    c->cinder_catalog_info = v;
  } else if (key == "cinder.os_region_name") {
    c->cinder_region = v;
  } else if (key == "hypervisor.default_project") {
    c->default_project = v;
  } else if (key == "hypervisor.libvirt_uri") {
    c->libvirt_uri = v;
  } else if (key == "hypervisor.domain_name_glob") {
    c->domain_name_glob = v;
  } else if (key == "hypervisor.keepalive_interval") {
    STRATA_ASSIGN_OR_RETURN(c->libvirt_keepalive_interval, ParseUint(key, v));
    if (c->libvirt_keepalive_interval < 1 ||
        c->libvirt_keepalive_interval > 3600)
      return Status::InvalidArgument(key + " must be 1..3600");
  } else if (key == "hypervisor.keepalive_count") {
    STRATA_ASSIGN_OR_RETURN(c->libvirt_keepalive_count, ParseUint(key, v));
    if (c->libvirt_keepalive_count < 1 || c->libvirt_keepalive_count > 100)
      return Status::InvalidArgument(key + " must be 1..100");
  } else if (key == "hypervisor.connect_timeout") {
    STRATA_ASSIGN_OR_RETURN(c->libvirt_connect_timeout, ParseUint(key, v));
    if (c->libvirt_connect_timeout < 1 || c->libvirt_connect_timeout > 3600)
      return Status::InvalidArgument(key + " must be 1..3600");
  } else if (key == "store.url") {
    c->store_spec = v;
  } else if (key == "store.stall_seconds") {
    STRATA_ASSIGN_OR_RETURN(c->store_stall_seconds, ParseUint(key, v));
    if (c->store_stall_seconds < 1)
      return Status::InvalidArgument(key + " must be 1 or more");
  } else if (key == "store.request_timeout_seconds") {
    STRATA_ASSIGN_OR_RETURN(c->store_request_timeout_seconds,
                            ParseUint(key, v));
    if (c->store_request_timeout_seconds < 1)
      return Status::InvalidArgument(key + " must be 1 or more");
  } else if (key == "store.max_bytes_per_second") {
    STRATA_ASSIGN_OR_RETURN(c->store_max_bytes_per_second, ParseUint(key, v));
  } else if (key == "store.compression") {
    if (v == "none" || v == "zstd") {
      c->store_zstd = v == "zstd";
    } else {
      return Status::InvalidArgument(key + " must be none or zstd, not '" + v +
                                     "'");
    }
  } else if (key == "store.encryption") {
    if (v == "none" || v == "aes-256-gcm") {
      c->store_aes = v == "aes-256-gcm";
    } else {
      return Status::InvalidArgument(
          key + " must be none or aes-256-gcm, not '" + v + "'");
    }
  } else if (key == "store.encryption_key_file") {
    c->store_key_file = v;
  } else if (key == "store.zstd_level") {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, ParseUint(key, v));
    if (n < 1 || n > 19) return Status::InvalidArgument(key + " must be 1..19");
    c->store_zstd_level = static_cast<int>(n);
  } else if (key == "engine.manage_dirs") {
    c->manage_dirs = SplitList(v);
  } else if (key == "engine.volume_dir") {
    c->volume_dir = v;
  } else if (key == "engine.shared_base_dirs") {
    c->shared_base_dirs = SplitList(v);
  } else if (key == "engine.overlay_cluster_size") {
    STRATA_ASSIGN_OR_RETURN(c->overlay_cluster_size, ParseUint(key, v));
  } else if (key == "engine.overlay_subclusters") {
    STRATA_ASSIGN_OR_RETURN(c->overlay_subclusters, ParseBool(key, v));
  } else if (key == "engine.overlay_reserve_mib") {
    STRATA_ASSIGN_OR_RETURN(c->overlay_reserve_mib, ParseUint(key, v));
    if (c->overlay_reserve_mib > (1u << 20))
      return Status::InvalidArgument(key + " must be 0..1048576");
  } else if (key == "memory.dir") {
    c->memory_dir = v;
  } else if (key == "memory.devices") {
    c->memory_devices = SplitList(v);
  } else if (key == "memory.downtime_limit_ms") {
    STRATA_ASSIGN_OR_RETURN(c->memory_downtime_ms, ParseUint(key, v));
    if (c->memory_downtime_ms > 60000)
      return Status::InvalidArgument(key + " must be 0..60000");
  } else if (key == "memory.max_passes") {
    STRATA_ASSIGN_OR_RETURN(c->memory_max_passes, ParseUint(key, v));
    if (c->memory_max_passes < 1 || c->memory_max_passes > 1000)
      return Status::InvalidArgument(key + " must be 1..1000");
  } else if (key == "groups.hosts") {
    c->group_hosts = SplitList(v);
    for (const auto& h : c->group_hosts)
      if (h.rfind("http://", 0) != 0 && h.rfind("https://", 0) != 0)
        return Status::InvalidArgument(key + ": " + h +
                                       " is not an http(s) URL");
  } else if (key == "groups.hold_max_ms") {
    STRATA_ASSIGN_OR_RETURN(c->group_hold_ms, ParseUint(key, v));
    if (c->group_hold_ms < 100 || c->group_hold_ms > 600000)
      return Status::InvalidArgument(key + " must be 100..600000");
  } else if (key == "engine.workers") {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, ParseUint(key, v));
    if (n < 1 || n > 64) return Status::InvalidArgument(key + " must be 1..64");
    c->workers = static_cast<int>(n);
  } else if (key == "engine.worker_nice") {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, ParseUint(key, v));
    if (n > 19) return Status::InvalidArgument(key + " must be 0..19");
    c->worker_nice = static_cast<int>(n);
  } else if (key == "engine.upload_attempts") {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, ParseUint(key, v));
    if (n < 1 || n > 20) return Status::InvalidArgument(key + " must be 1..20");
    c->upload_attempts = static_cast<int>(n);
  } else if (key == "api.policy_file") {
    c->policy_file = v;
  } else if (key == "api.max_body_bytes") {
    STRATA_ASSIGN_OR_RETURN(c->max_body_bytes, ParseUint(key, v));
  } else if (key == "api.max_connections" ||
             key == "api.max_connections_per_client") {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, ParseUint(key, v));
    if (n < 1 || n > 1000000)
      return Status::InvalidArgument(key + " must be 1..1000000");
    (key == "api.max_connections" ? c->api_max_connections
                                  : c->api_max_connections_per_client) = n;
  } else if (key == "api.idle_seconds" || key == "api.request_seconds") {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, ParseUint(key, v));
    if (n < 1 || n > 86400)
      return Status::InvalidArgument(key + " must be 1..86400");
    (key == "api.idle_seconds" ? c->api_idle_seconds : c->api_request_seconds) =
        n;
  } else {
    return Status::InvalidArgument("unknown configuration option " + key);
  }
  return Status::OK();
}

}  // namespace

std::string DaemonUsage() {
  return "usage: stratad [--listen HOST:PORT] [--state-dir DIR] [--config "
         "FILE]\n"
         "               [--store URL] [--manage-dir DIR]... "
         "[--tls-cert PEM --tls-key PEM]\n"
         "  --listen HOST:PORT  API address (default 127.0.0.1:8786)\n"
         "  --state-dir DIR     catalog, local store and default disk dir "
         "(default ./var)\n"
         "  --config FILE       ini file ([DEFAULT] [api] [auth] "
         "[keystone_authtoken] [cinder] [nbd] [store] [engine] "
         "[healthcheck]);\n"
         "                      flags win\n"
         "  --store URL         store spec, e.g. local:/srv/strata/store\n"
         "  --manage-dir DIR    a directory whose disks may be adopted "
         "(repeatable)\n"
         "  --libvirt-uri URI   hypervisor connection (default qemu:///system; "
         "none = quiet disks only)\n"
         "  --tls-cert PEM      certificate chain: the API speaks HTTPS only\n"
         "  --tls-key PEM       its private key\n"
         "  --nbd-export NAME=BACKEND  serve BACKEND (file:/path, "
         "nbd+unix:///X?socket=/s,\n"
         "                      nbd://host:port/X) over NBD on "
         "<state>/nbd/NAME.sock (repeatable)\n"
         "  --nbd-listen HOST:PORT  also serve every export over TCP\n"
         "  --nbd-cache on|off  put each export behind a redirect cache "
         "(default off)\n"
         "  --nbd-forecast-slot-seconds N  write-history slot length "
         "(default 900)\n"
         "  --nbd-defer-block-above-writes N  put off a drain's final "
         "stretch while\n"
         "                      more writes are forecast (R0.11; default 0: "
         "off)\n"
         "  --rebuild-catalog   add to the catalog the volumes and snapshots "
         "the store's\n"
         "                      layers name (a lost catalog rebuilt), then "
         "exit\n";
}

Result<DaemonConfig> ParseDaemonConfig(int argc, char** argv) {
  DaemonConfig c;
  // Flags are collected first so the config file can be applied under them.
  std::vector<std::pair<std::string, std::string>> flags;
  std::vector<std::string> manage_dirs, nbd_exports;
  std::string config_file;
  static const std::map<std::string, std::string> kFlagKeys = {
      {"--listen", "api.listen"},
      {"--state-dir", "DEFAULT.state_dir"},
      {"--store", "store.url"},
      {"--libvirt-uri", "hypervisor.libvirt_uri"},
      {"--tls-cert", "api.tls_cert_file"},
      {"--tls-key", "api.tls_key_file"},
      {"--nbd-listen", "nbd.tcp_listen"},
      {"--nbd-cache", "nbd.cache"},
      {"--nbd-forecast-slot-seconds", "nbd.forecast_slot_seconds"},
      {"--nbd-defer-block-above-writes", "nbd.defer_block_above_writes"},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      c.show_help = true;
      return c;
    }
    if (arg == "--rebuild-catalog") {
      c.rebuild_catalog = true;
      continue;
    }
    std::string value;
    size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    if (name != "--config" && name != "--manage-dir" &&
        name != "--nbd-export" && !kFlagKeys.count(name))
      return Status::InvalidArgument("unknown option " + name);
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Status::InvalidArgument("option " + arg + " needs a value");
    }
    if (arg == "--config") {
      config_file = value;
    } else if (arg == "--manage-dir") {
      manage_dirs.push_back(value);
    } else if (arg == "--nbd-export") {
      nbd_exports.push_back(value);
    } else if (kFlagKeys.count(arg)) {
      flags.push_back({kFlagKeys.at(arg), value});
    } else {
      return Status::InvalidArgument("unknown option " + arg);
    }
  }
  if (!config_file.empty()) {
    STRATA_ASSIGN_OR_RETURN(IniConfig ini, IniConfig::ParseFile(config_file));
    for (const auto& [section, keys] : ini.sections())
      for (const auto& [k, v] : keys) {
        Status s = Apply(section + "." + k, v, &c);
        if (!s.ok()) return s.WithContext(config_file);
      }
  }
  for (const auto& [k, v] : flags) STRATA_RETURN_IF_ERROR(Apply(k, v, &c));
  if (!manage_dirs.empty()) c.manage_dirs = manage_dirs;
  if (!nbd_exports.empty()) c.nbd_exports = nbd_exports;
  if (c.tls_cert_file.empty() != c.tls_key_file.empty())
    return Status::InvalidArgument(
        "TLS needs both --tls-cert and --tls-key ([api] tls_cert_file, "
        "tls_key_file)");
  if (c.plain_listen_port > 0 && c.tls_cert_file.empty())
    return Status::InvalidArgument(
        "[api] plain_listen is for a plain listener besides TLS; without "
        "TLS, --listen is plain already");
  if (c.auth_strategy == "keystone") {
    for (const auto& [name, value] :
         {std::pair<const char*, const std::string*>{"auth_url",
                                                     &c.keystone_auth_url},
          {"username", &c.keystone_username},
          {"password", &c.keystone_password},
          {"project_name", &c.keystone_project_name}})
      if (value->empty())
        return Status::InvalidArgument(
            std::string(
                "[auth] strategy = keystone needs [keystone_authtoken] ") +
            name);
    if (c.keystone_auth_url.rfind("http://", 0) != 0 &&
        c.keystone_auth_url.rfind("https://", 0) != 0)
      return Status::InvalidArgument(
          "[keystone_authtoken] auth_url must be an http(s) URL, not '" +
          c.keystone_auth_url + "'");
  }
  return c;
}

}  // namespace strata::daemon
