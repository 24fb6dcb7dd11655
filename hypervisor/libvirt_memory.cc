// LibvirtHypervisor's part for memory snapshots (issue 21): QEMU's migration
// stream sent to a descriptor of Strata's while the domain runs.
//
// Why QMP passthrough: libvirt has no public call that sends a running
// domain's migration to a caller's descriptor and leaves it running.
// virDomainSave pauses the domain first and ends it; a live external
// snapshot with a memory file writes its own file, which grows with the
// guest's dirty rate (the very thing R3 avoids). So Strata hands QEMU the
// descriptor with QMP getfd (virDomainQemuMonitorCommandWithFiles, libvirt
// >= 8.2), then migrate "fd:". QEMU's exec: targets are not an option:
// libvirt runs QEMU with -sandbox spawn=deny, and the fork kills it.
// libvirt marks the domain tainted (custom-monitor) for the passthrough.
#include <libvirt/libvirt-qemu.h>

#include <nlohmann/json.hpp>

#include "hypervisor/libvirt_hypervisor.h"

namespace strata::hypervisor {
namespace {

constexpr char kFdName[] = "strata-memsnap";

}  // namespace

Result<std::string> LibvirtHypervisor::Qmp(virDomainPtr d,
                                           const std::string& command, int fd) {
  char* result = nullptr;
  unsigned int nfds = fd >= 0 ? 1 : 0;
  int fds[1] = {fd};
  int r = virDomainQemuMonitorCommandWithFiles(d, command.c_str(), nfds,
                                               fd >= 0 ? fds : nullptr, nullptr,
                                               nullptr, &result, 0);
  if (r != 0) return LibvirtError("QMP " + command, d);
  std::string out = result ? result : "";
  free(result);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::IoError("QMP " + command + ": unreadable answer " + out);
  if (j.contains("error"))
    return Status::Conflict("QMP " + command + ": " +
                            j["error"].value("desc", out));
  return j.contains("return") ? j["return"].dump() : std::string("{}");
}

Status LibvirtHypervisor::StartMigrationToFd(const std::string& uuid, int fd,
                                             const MigrationTuning& tuning) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  int state = 0, reason = 0;
  if (virDomainGetState(d.get(), &state, &reason, 0) != 0)
    return LibvirtError("state of " + uuid, d.get());
  if (state != VIR_DOMAIN_RUNNING)
    return Status::Conflict("domain " + uuid + " is not running");
  // A job of libvirt's or Nova's own on the domain (a migration, a save, a
  // block job's pivot) would clash with ours.
  virDomainJobInfo job;
  if (virDomainGetJobInfo(d.get(), &job) == 0 &&
      job.type != VIR_DOMAIN_JOB_NONE)
    return Status::Conflict("domain " + uuid + " runs a libvirt job");
  // The stream's layout must be the one memsnap reads: every capability
  // that changes it off (they are off by default; another tool may have
  // set them).
  nlohmann::json caps = nlohmann::json::array();
  for (const char* c :
       {"xbzrle", "compress", "multifd", "postcopy-ram", "x-ignore-shared",
        "rdma-pin-all", "block", "dirty-bitmaps", "background-snapshot"})
    caps.push_back({{"capability", c}, {"state", false}});
  STRATA_RETURN_IF_ERROR(
      Qmp(d.get(), nlohmann::json{{"execute", "migrate-set-capabilities"},
                                  {"arguments", {{"capabilities", caps}}}}
                       .dump())
          .status());
  STRATA_RETURN_IF_ERROR(
      Qmp(d.get(),
          nlohmann::json{{"execute", "migrate-set-parameters"},
                         {"arguments",
                          {{"downtime-limit", tuning.downtime_limit_ms},
                           {"max-bandwidth", tuning.max_bandwidth}}}}
              .dump())
          .status());
  STRATA_RETURN_IF_ERROR(
      Qmp(d.get(),
          nlohmann::json{{"execute", "getfd"},
                         {"arguments", {{"fdname", kFdName}}}}
              .dump(),
          fd)
          .status());
  return Qmp(d.get(), nlohmann::json{{"execute", "migrate"},
                                     {"arguments",
                                      {{"uri", std::string("fd:") + kFdName}}}}
                          .dump())
      .status();
}

Result<std::string> LibvirtHypervisor::GetSaveXml(const std::string& uuid) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  char* xml = virDomainGetXMLDesc(
      d.get(), VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_MIGRATABLE);
  if (!xml) return LibvirtError("the save XML of " + uuid, d.get());
  std::string out(xml);
  free(xml);
  return out;
}

Result<MigrationProgress> LibvirtHypervisor::QueryMigration(
    const std::string& uuid) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  STRATA_ASSIGN_OR_RETURN(std::string out,
                          Qmp(d.get(), R"({"execute":"query-migrate"})"));
  auto j = nlohmann::json::parse(out, nullptr, false);
  MigrationProgress p;
  if (!j.is_object()) return p;
  p.status = j.value("status", "");
  p.error = j.value("error-desc", "");
  p.downtime_ms = j.value("downtime", int64_t{0});
  p.total_time_ms = j.value("total-time", int64_t{0});
  if (j.contains("ram") && j["ram"].is_object()) {
    const auto& ram = j["ram"];
    p.transferred = ram.value("transferred", int64_t{0});
    p.remaining = ram.value("remaining", int64_t{0});
    p.total = ram.value("total", int64_t{0});
    p.dirty_syncs = ram.value("dirty-sync-count", int64_t{0});
  }
  return p;
}

Result<std::string> LibvirtHypervisor::QueryRunState(const std::string& uuid) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  STRATA_ASSIGN_OR_RETURN(std::string out,
                          Qmp(d.get(), R"({"execute":"query-status"})"));
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (!j.is_object()) return Status::IoError("query-status: " + out);
  return j.value("status", "");
}

Status LibvirtHypervisor::CancelMigration(const std::string& uuid) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  STRATA_ASSIGN_OR_RETURN(DomainHandle d, Lookup(turn, uuid));
  return Qmp(d.get(), R"({"execute":"migrate_cancel"})").status();
}

Status LibvirtHypervisor::RestoreFromImage(const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(LibvirtConnection::Turn turn, conn_.Take());
  if (virDomainRestoreFlags(turn.get(), path.c_str(), nullptr,
                            VIR_DOMAIN_SAVE_RUNNING) != 0)
    return LibvirtError("restoring a domain from " + path, turn.get());
  return Status::OK();
}

}  // namespace strata::hypervisor
