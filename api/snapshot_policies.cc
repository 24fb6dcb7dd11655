// Backup policies (issue 19; R1.1, R1.5, R1.6), an extension in Cinder's
// style under /v3/{project_id}/os-snapshot-policies:
//   POST   …                      {"policy": {...}} → 200 {"policy"}
//   GET    …                      → {"policies": [...]} (all_tenants: admin)
//   GET    …/preview?schedule=&timezone=&count= → the next runs of an
//          expression, for a schedule editor (nothing stored)
//   GET    …/{id}                 → the policy, its next runs, its last run
//   PUT    …/{id}                 {"policy": {...}} (any subset) → 200
//   DELETE …/{id}                 → 202 (its snapshots stay)
//   GET    …/{id}/runs?limit=     → its runs, newest first
//   POST   …/{id}/action          {"os-run": {}} → 202 {"run"};
//                                 {"os-prune": {"dry_run": true}} → 200
// Another project's policy is a 404. docs/api.md has the fields.
#include "api/handlers.h"
#include "policy/policy_spec.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

constexpr char kBase[] = "/v3/os-snapshot-policies";
constexpr size_t kPreviewRuns = 5;

std::string Iso(int64_t micros) {
  return micros > 0 ? FormatIsoMicros(micros) : std::string();
}

nlohmann::json Times(const std::vector<int64_t>& runs) {
  nlohmann::json out = nlohmann::json::array();
  for (int64_t t : runs) out.push_back(FormatIsoMicros(t));
  return out;
}

nlohmann::json JsonField(const std::string& text, nlohmann::json fallback) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

nlohmann::json RunView(const db::PolicyRunRecord& r) {
  return {{"id", r.id},
          {"policy_id", r.policy_id},
          {"trigger", r.trigger},
          {"status", r.status},
          {"attempt", r.attempt},
          {"scheduled_at", Iso(r.scheduled_at)},
          {"started_at", Iso(r.started_at)},
          {"finished_at",
           r.finished_at ? nlohmann::json(Iso(r.finished_at)) : nullptr},
          {"snapshots", JsonField(r.snapshots, nlohmann::json::array())},
          {"pruned", JsonField(r.pruned, nlohmann::json::array())},
          {"error", r.error.empty() ? nlohmann::json(nullptr)
                                    : nlohmann::json(r.error)}};
}

// R1.1's identity of a server as a run would resolve it now: the VM's
// type, host name and LAN addresses beside the target that names it.
nlohmann::json ServerTargetsView(policy::PolicyRunner* runner,
                                 const db::PolicyRecord& p) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : runner->ResolveServers(p, /*with_network=*/true)) {
    nlohmann::json target = {{"disks", r.target.disks}};
    if (!r.target.server.empty()) target["server"] = r.target.server;
    if (!r.target.host_name.empty()) target["host_name"] = r.target.host_name;
    if (!r.target.address.empty()) target["address"] = r.target.address;
    nlohmann::json one = {{"target", target}};
    if (!r.server) {
      one["error"] = r.error;
      out.push_back(one);
      continue;
    }
    const auto& dom = r.server->domain;
    const auto& net = r.server->network;
    nlohmann::json addresses = nlohmann::json::array();
    for (const auto& a : net.addresses)
      addresses.push_back({{"interface", a.interface},
                           {"mac_addr", a.mac},
                           {"addr", a.address},
                           {"version", a.type == "ipv6" ? 6 : 4},
                           {"prefix", a.prefix}});
    nlohmann::json disks = nlohmann::json::array();
    for (const auto& d : dom.disks)
      if (d.device == "disk") disks.push_back(d.target);
    one.update(
        {{"id", dom.uuid},
         {"name", dom.name},
         {"status", hypervisor::NovaStatus(dom.state)},
         {"vm_type", dom.virt_type},
         {"host_name", net.host_name.empty() ? nlohmann::json(nullptr)
                                             : nlohmann::json(net.host_name)},
         {"host_name_source", net.host_name_source},
         {"addresses", addresses},
         {"addresses_source", net.addresses_source},
         {"disks", disks}});
    out.push_back(one);
  }
  return out;
}

nlohmann::json PolicyView(engine::Engine* e, policy::PolicyRunner* runner,
                          const db::PolicyRecord& p, bool detail) {
  nlohmann::json j = {
      {"id", p.id},
      {"project_id", p.project_id},
      {"user_id", p.user_id},
      {"name", p.name},
      {"description", p.description},
      {"enabled", p.enabled},
      {"targets", JsonField(p.targets, nlohmann::json::object())},
      {"schedule", p.schedule},
      {"timezone", p.timezone.empty() ? nlohmann::json(nullptr)
                                      : nlohmann::json(p.timezone)},
      {"run_missed", p.run_missed},
      {"retention", JsonField(p.retention, nlohmann::json::object())},
      {"retry",
       {{"attempts", p.retry_attempts},
        {"delay_seconds", p.retry_delay_seconds}}},
      {"created_at", Iso(p.created_at)},
      {"updated_at", Iso(p.updated_at)}};
  if (auto s = policy::ReadSchedule(p); s.ok())
    j["schedule_normalized"] = s->Normalized();
  if (!detail) return j;
  auto next = runner->NextRuns(p, kPreviewRuns);
  j["next_runs"] =
      p.enabled && next.ok() ? Times(*next) : nlohmann::json::array();
  auto runs = e->catalog()->ListPolicyRuns(p.id, 1);
  j["last_run"] = runs.ok() && !runs->empty() ? RunView(runs->front())
                                              : nlohmann::json(nullptr);
  j["servers"] = ServerTargetsView(runner, p);
  return j;
}

// Query parameter `name`: a whole number from 1 to `max`, or `fallback`
// when absent.
Result<int64_t> QueryWhole(const ApiRequest& q, const std::string& name,
                           int64_t fallback, int64_t max) {
  auto v = q.Query(name);
  if (!v) return fallback;
  char* end = nullptr;
  const int64_t n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n < 1 || n > max)
    return Status::InvalidArgument("Invalid input for field/attribute " + name +
                                   ": a whole number from 1 to " +
                                   std::to_string(max) + ".");
  return n;
}

Result<db::PolicyRecord> Load(engine::Engine* e, const ApiRequest& q) {
  const std::string& id = q.params.at("id");
  return VisibleRow(q.ctx, e->catalog()->GetPolicy(id),
                    "Policy " + id + " could not be found.");
}

Result<nlohmann::json> Body(const ApiRequest& q) {
  if (!q.body.is_object() || !q.body.contains("policy"))
    return Status::InvalidArgument(
        "Malformed request body: a 'policy' object is expected.");
  return q.body.at("policy");
}

// Every volume a policy names must be one the caller may see.
Status CheckVolumes(engine::Engine* e, const ApiRequest& q,
                    const db::PolicyRecord& p) {
  STRATA_ASSIGN_OR_RETURN(policy::PolicyTargets t, policy::ReadTargets(p));
  for (const std::string& id : t.volumes) {
    auto v = e->catalog()->GetVolume(id);
    if (!v.ok() || v->status == "deleted" ||
        (v->project_id != q.ctx.project_id && !q.ctx.is_admin) ||
        v->project_id != p.project_id)
      return Status::NotFound("Volume " + id + " could not be found.");
  }
  return Status::OK();
}

HandlerResult Create(engine::Engine* e, policy::PolicyRunner* runner,
                     ApiRequest& q) {
  STRATA_ASSIGN_OR_RETURN(nlohmann::json body, Body(q));
  db::PolicyRecord p;
  p.id = NewUuid();
  p.project_id = q.ctx.project_id;
  p.user_id = q.ctx.user_id;
  p.created_at = p.updated_at = NowMicros();
  STRATA_RETURN_IF_ERROR(policy::ApplyPolicyBody(body, true, &p));
  STRATA_RETURN_IF_ERROR(CheckVolumes(e, q, p));
  STRATA_RETURN_IF_ERROR(e->catalog()->InsertPolicy(p));
  runner->Changed();
  return ApiResponse::Json(200, {{"policy", PolicyView(e, runner, p, true)}});
}

HandlerResult Update(engine::Engine* e, policy::PolicyRunner* runner,
                     ApiRequest& q) {
  STRATA_ASSIGN_OR_RETURN(db::PolicyRecord p, Load(e, q));
  STRATA_ASSIGN_OR_RETURN(nlohmann::json body, Body(q));
  db::PolicyRecord edited = p;
  STRATA_RETURN_IF_ERROR(policy::ApplyPolicyBody(body, false, &edited));
  STRATA_RETURN_IF_ERROR(CheckVolumes(e, q, edited));
  // A new schedule, zone or an enabling counts from now: times of the new
  // schedule before it are not "missed".
  const bool restart = edited.schedule != p.schedule ||
                       edited.timezone != p.timezone ||
                       (edited.enabled && !p.enabled);
  const int64_t now = NowMicros();
  STRATA_RETURN_IF_ERROR(
      e->catalog()->ModifyPolicy(p.id, [&](db::PolicyRecord& r) {
        const int64_t last = r.last_scheduled_at;
        r = edited;
        r.last_scheduled_at = restart ? now : last;
        return Status::OK();
      }));
  runner->Changed();
  STRATA_ASSIGN_OR_RETURN(db::PolicyRecord now_p,
                          e->catalog()->GetPolicy(p.id));
  return ApiResponse::Json(200,
                           {{"policy", PolicyView(e, runner, now_p, true)}});
}

HandlerResult Preview(ApiRequest& q) {
  auto text = q.Query("schedule");
  if (!text)
    return Status::InvalidArgument(
        "Invalid input for field/attribute schedule: a schedule is "
        "required.");
  db::PolicyRecord p;
  nlohmann::json body = {{"schedule", *text}};
  if (auto tz = q.Query("timezone"); tz && !tz->empty()) body["timezone"] = *tz;
  STRATA_RETURN_IF_ERROR(policy::ApplyPolicyBody(body, false, &p));
  STRATA_ASSIGN_OR_RETURN(int64_t count, QueryWhole(q, "count", 10, 100));
  STRATA_ASSIGN_OR_RETURN(schedule::Schedule s, policy::ReadSchedule(p));
  STRATA_ASSIGN_OR_RETURN(schedule::ZoneClock zone,
                          policy::ReadZone(p, schedule::ZoneClock::Host()));
  return ApiResponse::Json(
      200, {{"schedule", p.schedule},
            {"schedule_normalized", s.Normalized()},
            {"timezone", zone.name()},
            {"next_runs", Times(s.NextRuns(NowMicros(), zone,
                                           static_cast<size_t>(count)))}});
}

HandlerResult Action(engine::Engine* e, policy::PolicyRunner* runner,
                     ApiRequest& q) {
  STRATA_ASSIGN_OR_RETURN(db::PolicyRecord p, Load(e, q));
  if (!q.body.is_object() || q.body.size() != 1)
    return Status::InvalidArgument(
        "Malformed request body: one action expected.");
  const std::string action = q.body.begin().key();
  const nlohmann::json& arg = q.body.begin().value();
  if (action == "os-run") {
    STRATA_ASSIGN_OR_RETURN(db::PolicyRunRecord run, runner->RunNow(p));
    return ApiResponse::Json(202, {{"run", RunView(run)}});
  }
  if (action == "os-prune") {
    const bool dry = arg.is_object() && arg.value("dry_run", false) == true;
    if (!dry)
      return Status::InvalidArgument(
          "Invalid input for field/attribute os-prune: only {\"dry_run\": "
          "true}; each run prunes.");
    STRATA_ASSIGN_OR_RETURN(nlohmann::json items, runner->PruneDryRun(p));
    for (auto& item : items)
      item["created_at"] = FormatIsoMicros(item["created_at"].get<int64_t>());
    return ApiResponse::Json(200, {{"prune", items}});
  }
  return Status::InvalidArgument("Unknown action " + action + ".");
}

}  // namespace

void AddPolicyRoutes(Router& r, engine::Engine* e,
                     policy::PolicyRunner* runner) {
  const std::string base = kBase;
  r.Add("POST", base,
        [e, runner](ApiRequest& q) { return Create(e, runner, q); });
  r.Add("GET", base, [e, runner](ApiRequest& q) -> HandlerResult {
    const bool all =
        q.ctx.is_admin && q.Query("all_tenants").value_or("0") != "0";
    STRATA_ASSIGN_OR_RETURN(
        auto rows, e->catalog()->ListPolicies(all ? "" : q.ctx.project_id));
    nlohmann::json items = nlohmann::json::array();
    for (const auto& p : rows) items.push_back(PolicyView(e, runner, p, true));
    return ApiResponse::Json(200, {{"policies", items}});
  });
  r.Add("GET", base + "/preview", [](ApiRequest& q) { return Preview(q); });
  r.Add("GET", base + "/{id}", [e, runner](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::PolicyRecord p, Load(e, q));
    return ApiResponse::Json(200, {{"policy", PolicyView(e, runner, p, true)}});
  });
  r.Add("PUT", base + "/{id}",
        [e, runner](ApiRequest& q) { return Update(e, runner, q); });
  r.Add("DELETE", base + "/{id}", [e, runner](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::PolicyRecord p, Load(e, q));
    STRATA_RETURN_IF_ERROR(e->catalog()->DeletePolicy(p.id));
    runner->Changed();
    return ApiResponse::Empty(202);
  });
  r.Add("GET", base + "/{id}/runs", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::PolicyRecord p, Load(e, q));
    STRATA_ASSIGN_OR_RETURN(int64_t limit, QueryWhole(q, "limit", 100, 1000));
    STRATA_ASSIGN_OR_RETURN(auto runs,
                            e->catalog()->ListPolicyRuns(p.id, limit));
    nlohmann::json items = nlohmann::json::array();
    for (const auto& run : runs) items.push_back(RunView(run));
    return ApiResponse::Json(200, {{"runs", items}});
  });
  r.Add("POST", base + "/{id}/action",
        [e, runner](ApiRequest& q) { return Action(e, runner, q); });
}

}  // namespace strata::api
