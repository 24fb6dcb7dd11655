// Nova-shaped servers on this host: GET /v2.1/servers (+/detail, /{id})
// lists the host's libvirt domains (id = domain UUID; status ACTIVE, PAUSED
// or SHUTOFF), and POST /v2.1/servers/{id}/action {"createImage"} takes an
// incremental snapshot of the server's system disk — where Nova's libvirt
// driver would upload a full flat image every time; {"createBackup"} does
// the same and then rotates the server's backups of that type; {"rebuild"}
// with a snapshot's image id rolls the system disk back to it and starts the
// server again. The image id
// is the snapshot id: Location header below 2.45, {"image_id"} body from
// 2.45.
// A show also gives the guest's addresses and host name as its agent or
// libvirt report them (hypervisor::GuestNetwork). Another project's server
// is a 404.
#include "api/body.h"
#include "api/handlers.h"
#include "api/views.h"
#include "util/time_util.h"

namespace strata::api {
namespace {

using hypervisor::DomainInfo;

std::string OwnerOf(const DomainInfo& d, const std::string& default_project) {
  return d.project_id.empty() ? default_project : d.project_id;
}

bool Visible(const ApiRequest& req, const DomainInfo& d,
             const std::string& default_project, bool all_tenants) {
  if (req.ctx.is_admin && all_tenants) return true;
  return OwnerOf(d, default_project) == req.ctx.project_id ||
         (req.ctx.is_admin && req.params.count("id"));
}

// Nova's "addresses", keyed by the guest's interface name (Strata has no
// Neutron network names): what the guest agent or libvirt reports.
nlohmann::json AddressesView(const hypervisor::GuestNetwork& net) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& a : net.addresses)
    out[a.interface.empty() ? "guest" : a.interface].push_back(
        {{"version", a.type == "ipv6" ? 6 : 4},
         {"addr", a.address},
         {"OS-EXT-IPS:type", "fixed"},
         {"OS-EXT-IPS-MAC:mac_addr", a.mac}});
  return out;
}

// `net`: the guest's network (a single server's show); null in lists, which
// would ask each guest's agent.
nlohmann::json ServerView(const ApiRequest& req, engine::Engine* e,
                          const DomainInfo& d,
                          const std::string& default_project, bool detail,
                          const hypervisor::GuestNetwork* net = nullptr) {
  std::string self = req.base_url + "/v2.1/servers/" + d.uuid;
  nlohmann::json links = nlohmann::json::array(
      {{{"href", self}, {"rel", "self"}},
       {{"href", req.base_url + "/servers/" + d.uuid}, {"rel", "bookmark"}}});
  if (!detail) return {{"id", d.uuid}, {"name", d.name}, {"links", links}};
  nlohmann::json volumes = nlohmann::json::array();
  bool rebuilding = false;  // its system disk is being reverted
  for (const auto& disk : d.disks) {
    if (disk.source.empty()) continue;
    if (!disk.serial.empty()) {  // a Cinder volume: Nova lists its id
      volumes.push_back(
          {{"id", disk.serial}, {"delete_on_termination", false}});
      continue;
    }
    auto v = e->catalog()->GetVolumeByPath(disk.source);
    if (v.ok()) {
      volumes.push_back({{"id", v->id}, {"delete_on_termination", false}});
      if (&disk == d.SystemDisk() && v->status == "reverting")
        rebuilding = true;
    }
  }
  const bool on = d.state == hypervisor::DomainState::kRunning;
  const bool paused = d.state == hypervisor::DomainState::kPaused;
  nlohmann::json j = {
      {"id", d.uuid},
      {"name", d.name},
      {"status", rebuilding ? "REBUILD" : hypervisor::NovaStatus(d.state)},
      {"tenant_id", OwnerOf(d, default_project)},
      {"user_id", d.user_id.empty() ? "nova" : d.user_id},
      {"metadata", nlohmann::json::object()},
      {"hostId", ""},
      {"image", ""},
      {"created", FormatIsoMicros(0).substr(0, 19) + "Z"},
      {"updated", FormatIsoMicros(NowMicros()).substr(0, 19) + "Z"},
      {"addresses",
       net ? AddressesView(*net) : nlohmann::json(nlohmann::json::object())},
      {"accessIPv4", ""},
      {"accessIPv6", ""},
      {"progress", 0},
      {"links", links},
      {"key_name", nullptr},
      {"config_drive", ""},
      {"OS-DCF:diskConfig", "MANUAL"},
      {"OS-EXT-AZ:availability_zone", "nova"},
      {"OS-EXT-STS:power_state", on       ? 1
                                 : paused ? 3
                                          : 4},
      {"OS-EXT-STS:vm_state", on       ? "active"
                              : paused ? "paused"
                                       : "stopped"},
      {"OS-EXT-STS:task_state",
       rebuilding ? nlohmann::json("rebuilding") : nlohmann::json(nullptr)},
      {"OS-EXT-SRV-ATTR:host",
       BackendHost().substr(0, BackendHost().find('@'))},
      {"OS-EXT-SRV-ATTR:instance_name", d.name},
      {"OS-EXT-SRV-ATTR:hypervisor_hostname",
       BackendHost().substr(0, BackendHost().find('@'))},
      {"os-extended-volumes:volumes_attached", volumes},
      {"security_groups", nlohmann::json::array()},
  };
  std::string flavor_name = std::to_string(d.vcpus) + "vcpu-" +
                            std::to_string(d.memory_kib / 1024) + "mb";
  if (req.version.AtLeast(2, 47))
    j["flavor"] = {{"original_name", flavor_name},
                   {"vcpus", d.vcpus},
                   {"ram", d.memory_kib / 1024},
                   {"disk", 0},
                   {"ephemeral", 0},
                   {"swap", 0},
                   {"extra_specs", nlohmann::json::object()}};
  else
    j["flavor"] = {{"id", flavor_name}, {"links", nlohmann::json::array()}};
  if (req.version.AtLeast(2, 3) && net)
    j["OS-EXT-SRV-ATTR:hostname"] = net->host_name;
  if (req.version.AtLeast(2, 9)) j["locked"] = false;
  if (req.version.AtLeast(2, 19)) j["description"] = nullptr;
  if (req.version.AtLeast(2, 26)) j["tags"] = nlohmann::json::array();
  if (req.version.AtLeast(2, 63)) j["trusted_image_certificates"] = nullptr;
  return j;
}

}  // namespace

Result<DomainInfo> VisibleServer(engine::Engine* e, const RequestContext& ctx,
                                 const std::string& id,
                                 const std::string& default_project) {
  if (!e->hypervisor())
    return Status::NotFound("Instance " + id + " could not be found.");
  auto d = e->hypervisor()->GetDomain(id);
  if (!d.ok()) {
    if (d.status().IsNotFound())
      return Status::NotFound("Instance " + id + " could not be found.");
    return d.status();
  }
  if (OwnerOf(*d, default_project) != ctx.project_id && !ctx.is_admin)
    return Status::NotFound("Instance " + id + " could not be found.");
  return d;
}

namespace {

Result<DomainInfo> LoadServer(engine::Engine* e, const ApiRequest& req,
                              const std::string& default_project) {
  return VisibleServer(e, req.ctx, req.params.at("id"), default_project);
}

HandlerResult List(engine::Engine* e, ApiRequest& req,
                   const std::string& default_project, bool detail) {
  nlohmann::json items = nlohmann::json::array();
  if (e->hypervisor()) {
    STRATA_ASSIGN_OR_RETURN(auto doms, e->hypervisor()->ListDomains());
    bool all = req.Query("all_tenants").has_value() &&
               *req.Query("all_tenants") != "0" &&
               *req.Query("all_tenants") != "false";
    if (all && !req.ctx.is_admin)
      return Status::PermissionDenied("Policy doesn't allow all_tenants.");
    for (const auto& d : doms)
      if (Visible(req, d, default_project, all))
        items.push_back(ServerView(req, e, d, default_project, detail));
  }
  return ApiResponse::Json(200, {{"servers", items}});
}

// createImage and createBackup: an incremental snapshot of the server's
// system disk, answered as Nova does (202; Location below 2.45, image_id
// from 2.45). `rotation` set: createBackup's rotation (R1.6).
HandlerResult SnapshotServer(engine::Engine* e, ApiRequest& req,
                             const DomainInfo& dom, const std::string& action,
                             const std::string& name, db::Metadata md,
                             std::optional<engine::Rotation> rotation,
                             const std::string& default_project,
                             bool with_memory = false) {
  const hypervisor::DomainDisk* disk = dom.SystemDisk();
  // A qcow2 file, or one of Strata's NBD exports (ServerDiskVolume checks).
  if (!disk || (disk->nbd_socket.empty() &&
                (disk->source.empty() || disk->format != "qcow2")))
    return Status::Conflict("Cannot '" + action + "' instance " + dom.uuid +
                            ": its system disk is not a qcow2 file.");
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          e->ServerDiskVolume(dom, *disk, default_project));
  md["instance_uuid"] = dom.uuid;
  engine::CreateSnapshotRequest cr{vol.project_id,
                                   req.ctx.user_id,
                                   vol.id,
                                   name,
                                   action + " of " + dom.name,
                                   md,
                                   std::move(rotation)};
  cr.with_memory = with_memory;
  STRATA_ASSIGN_OR_RETURN(db::SnapshotRecord s, e->CreateSnapshot(cr));
  if (req.version.AtLeast(2, 45))
    return ApiResponse::Json(202, {{"image_id", s.id}});
  ApiResponse r = ApiResponse::Empty(202);
  r.headers["Location"] = req.base_url + "/v2/images/" + s.id;
  return r;
}

HandlerResult CreateImage(engine::Engine* e, ApiRequest& req,
                          const DomainInfo& dom, const nlohmann::json& arg,
                          const std::string& default_project) {
  if (!arg.is_object())
    return Status::InvalidArgument(
        "Invalid input for field/attribute createImage.");
  STRATA_ASSIGN_OR_RETURN(std::string name, RequireString(arg, "name"));
  STRATA_ASSIGN_OR_RETURN(db::Metadata md, OptMetadata(arg, "metadata"));
  // Strata's extension (issue 21): the running server's memory too, taken
  // at the disk's cut instant; restored with os-strata:restoreMemory.
  bool with_memory = false;
  if (arg.contains("os-strata:memory")) {
    if (!arg["os-strata:memory"].is_boolean())
      return Status::InvalidArgument(
          "Invalid input for field/attribute os-strata:memory. Value: " +
          arg["os-strata:memory"].dump() + " is not a boolean.");
    with_memory = arg["os-strata:memory"].get<bool>();
  }
  md["image_type"] = "snapshot";
  return SnapshotServer(e, req, dom, "createImage", name, std::move(md),
                        std::nullopt, default_project, with_memory);
}

// Nova's createBackup: {"name", "backup_type", "rotation", "metadata"}; after
// the backup, the server's backups of that type beyond `rotation` are
// deleted, oldest first.
HandlerResult CreateBackup(engine::Engine* e, ApiRequest& req,
                           const DomainInfo& dom, const nlohmann::json& arg,
                           const std::string& default_project) {
  if (!arg.is_object())
    return Status::InvalidArgument(
        "Invalid input for field/attribute createBackup.");
  STRATA_ASSIGN_OR_RETURN(std::string name, RequireString(arg, "name"));
  STRATA_ASSIGN_OR_RETURN(std::string type, RequireString(arg, "backup_type"));
  auto rot = arg.find("rotation");
  if (rot == arg.end())
    return Status::InvalidArgument(
        "Invalid input for field/attribute createBackup. Value: "
        "'rotation' is a required property");
  int64_t rotation = -1;
  if (rot->is_number_integer())
    rotation = rot->get<int64_t>();
  else if (rot->is_string() && !rot->get<std::string>().empty() &&
           rot->get<std::string>().find_first_not_of("0123456789") ==
               std::string::npos &&
           rot->get<std::string>().size() < 10)
    rotation = std::stoll(rot->get<std::string>());
  if (rotation < 0 || rotation > 1000000)
    return Status::InvalidArgument(
        "Invalid input for field/attribute rotation: it must be an integer "
        "of 0 or more.");
  STRATA_ASSIGN_OR_RETURN(db::Metadata md, OptMetadata(arg, "metadata"));
  md["image_type"] = "backup";
  md["backup_type"] = type;
  engine::Rotation r;
  r.match = {{"instance_uuid", dom.uuid},
             {"image_type", "backup"},
             {"backup_type", type}};
  r.keep = static_cast<int>(rotation);
  return SnapshotServer(e, req, dom, "createBackup", name, std::move(md), r,
                        default_project);
}

// The snapshot `imageRef` of `arg` names, when it is one of Strata's
// snapshot images of the server's system disk (a qcow2 file; else 409, or
// 400 for another image).
Result<db::SnapshotRecord> SystemDiskImage(engine::Engine* e,
                                           const DomainInfo& dom,
                                           const nlohmann::json& arg,
                                           const std::string& action,
                                           const std::string& default_project) {
  STRATA_ASSIGN_OR_RETURN(std::string image, RequireString(arg, "imageRef"));
  const hypervisor::DomainDisk* disk = dom.SystemDisk();
  if (!disk || disk->source.empty() || disk->format != "qcow2")
    return Status::Conflict("Cannot '" + action + "' instance " + dom.uuid +
                            ": its system disk is not a qcow2 file.");
  STRATA_ASSIGN_OR_RETURN(db::VolumeRecord vol,
                          e->ServerDiskVolume(dom, *disk, default_project));
  auto snap = e->catalog()->GetSnapshot(image);
  if (!snap.ok() || snap->hidden || snap->volume_id != vol.id)
    return Status::InvalidArgument("Invalid imageRef " + image +
                                   ": not a snapshot image of instance " +
                                   dom.uuid + "'s system disk.");
  return *snap;
}

// Nova's rebuild with `imageRef` naming one of Strata's snapshots of the
// server's system disk: the disk rolls back to that point in time (R2.11)
// and the server comes back as it was (ACTIVE when it ran). The image's
// other options (name, metadata, key_name, user_data, …) change nothing
// here: the disk's content is the snapshot's.
HandlerResult Rebuild(engine::Engine* e, ApiRequest& req, const DomainInfo& dom,
                      const nlohmann::json& arg,
                      const std::string& default_project) {
  if (!arg.is_object())
    return Status::InvalidArgument(
        "Invalid input for field/attribute rebuild.");
  STRATA_ASSIGN_OR_RETURN(
      db::SnapshotRecord snap,
      SystemDiskImage(e, dom, arg, "rebuild", default_project));
  STRATA_RETURN_IF_ERROR(e->RebuildServer(dom.uuid, snap.volume_id, snap.id));
  return ApiResponse::Json(
      202, {{"server", ServerView(req, e, dom, default_project, true)}});
}

// Strata's extension (issue 21): {"os-strata:restoreMemory": {"imageRef"}}
// with a snapshot taken with the server's memory: the server is powered
// off, its system disk reverted to the snapshot, and it starts again from
// the memory, carrying on where it was (ACTIVE).
HandlerResult RestoreMemory(engine::Engine* e, const DomainInfo& dom,
                            const nlohmann::json& arg,
                            const std::string& default_project) {
  if (!arg.is_object())
    return Status::InvalidArgument(
        "Invalid input for field/attribute os-strata:restoreMemory.");
  STRATA_ASSIGN_OR_RETURN(
      db::SnapshotRecord snap,
      SystemDiskImage(e, dom, arg, "os-strata:restoreMemory", default_project));
  STRATA_RETURN_IF_ERROR(
      e->RestoreServerMemory(dom.uuid, snap.volume_id, snap.id));
  return ApiResponse::Empty(202);
}

}  // namespace

void AddServerRoutes(Router& r, engine::Engine* e,
                     std::string default_project) {
  r.Add("GET", "/v2.1/servers", [e, default_project](ApiRequest& q) {
    return List(e, q, default_project, false);
  });
  r.Add("GET", "/v2.1/servers/detail", [e, default_project](ApiRequest& q) {
    return List(e, q, default_project, true);
  });
  r.Add("GET", "/v2.1/servers/{id}",
        [e, default_project](ApiRequest& q) -> HandlerResult {
          STRATA_ASSIGN_OR_RETURN(DomainInfo d,
                                  LoadServer(e, q, default_project));
          // A guest that says nothing of its network is no error.
          auto net = e->hypervisor()->GetGuestNetwork(d.uuid);
          return ApiResponse::Json(
              200, {{"server", ServerView(q, e, d, default_project, true,
                                          net.ok() ? &*net : nullptr)}});
        });
  r.Add(
      "POST", "/v2.1/servers/{id}/action",
      [e, default_project](ApiRequest& q) -> HandlerResult {
        STRATA_ASSIGN_OR_RETURN(DomainInfo d,
                                LoadServer(e, q, default_project));
        if (!q.body.is_object() || q.body.size() != 1)
          return Status::InvalidArgument(
              "Malformed request body: one action expected.");
        const std::string action = q.body.begin().key();
        if (action == "createImage")
          return CreateImage(e, q, d, q.body.begin().value(), default_project);
        if (action == "createBackup")
          return CreateBackup(e, q, d, q.body.begin().value(), default_project);
        if (action == "rebuild")
          return Rebuild(e, q, d, q.body.begin().value(), default_project);
        if (action == "os-strata:restoreMemory")
          return RestoreMemory(e, d, q.body.begin().value(), default_project);
        return Status::InvalidArgument("There is no such action: " + action);
      });
}

}  // namespace strata::api
