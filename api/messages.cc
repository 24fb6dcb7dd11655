// Cinder v3 user messages (≥ 3.3; issue 18): list (filters, sort,
// paging), show and delete (204) of the messages that tell a project why a
// resource of its failed, e.g. a volume no backend here can hold
// ("schedule allocate volume: Could not find any available weighted
// backend."). Another project's message is a 404. Messages expire after
// Cinder's message_ttl, 30 days (guaranteed_until).
#include "api/handlers.h"
#include "api/list_params.h"
#include "util/log.h"
#include "util/time_util.h"
#include "util/uuid.h"

namespace strata::api {
namespace {

constexpr int64_t kMessageTtlMicros = int64_t{30} * 24 * 3600 * 1000000;

nlohmann::json MessageView(const ApiRequest& req, const db::MessageRecord& m) {
  const std::string path = "/messages/" + m.id;
  return {{"id", m.id},
          {"request_id", m.request_id},
          {"message_level", m.message_level},
          {"event_id", m.event_id},
          {"resource_type", m.resource_type},
          {"resource_uuid", m.resource_uuid ? nlohmann::json(*m.resource_uuid)
                                            : nlohmann::json(nullptr)},
          {"user_message", m.user_message},
          {"created_at", FormatIsoMicros(m.created_at)},
          {"guaranteed_until", FormatIsoMicros(m.expires_at)},
          {"links", nlohmann::json::array(
                        {{{"href", req.base_url + "/v3/" + m.project_id + path},
                          {"rel", "self"}},
                         {{"href", req.base_url + "/" + m.project_id + path},
                          {"rel", "bookmark"}}})}};
}

Status NeedVersion(const ApiRequest& req) {
  if (req.version.AtLeast(3, 3)) return Status::OK();
  return Status::NotFound("Messages need microversion 3.3.");
}

Result<db::MessageRecord> LoadMessage(engine::Engine* e, ApiRequest& req) {
  STRATA_RETURN_IF_ERROR(NeedVersion(req));
  const std::string& id = req.params.at("id");
  auto m = e->catalog()->GetMessage(id);
  if (!m.ok() || (m->project_id != req.ctx.project_id && !req.ctx.is_admin))
    return Status::NotFound("Message " + id + " could not be found.");
  return m;
}

}  // namespace

void RecordMessage(engine::Engine* e, const ApiRequest& req,
                   const std::string& project_id,
                   const std::string& resource_type,
                   const std::string& resource_uuid,
                   const std::string& event_id,
                   const std::string& user_message) {
  db::MessageRecord m;
  m.id = NewUuid();
  m.project_id = project_id;
  m.request_id = req.request_id;
  m.resource_type = resource_type;
  m.resource_uuid = resource_uuid;
  m.event_id = event_id;
  m.message_level = "ERROR";
  m.user_message = user_message;
  m.created_at = NowMicros();
  m.expires_at = m.created_at + kMessageTtlMicros;
  LogIfError(e->catalog()->InsertMessage(m),
             "recording the message \"" + user_message + "\"");
}

void AddMessageRoutes(Router& r, engine::Engine* e) {
  r.Add("GET", "/v3/messages", [e](ApiRequest& q) -> HandlerResult {
    STRATA_RETURN_IF_ERROR(NeedVersion(q));
    STRATA_ASSIGN_OR_RETURN(
        db::ListQuery lq,
        ParseListQuery(q, {"event_id", "resource_type", "resource_uuid",
                           "message_level", "request_id", "project_id"}));
    STRATA_ASSIGN_OR_RETURN(auto page,
                            e->catalog()->ListMessages(lq, NowMicros()));
    nlohmann::json items = nlohmann::json::array();
    for (const auto& m : page.rows) items.push_back(MessageView(q, m));
    nlohmann::json body = {{"messages", items}};
    if (page.more && !page.rows.empty())
      body["messages_links"] = NextLink(q, "messages", page.rows.back().id);
    return ApiResponse::Json(200, body);
  });
  r.Add("GET", "/v3/messages/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::MessageRecord m, LoadMessage(e, q));
    return ApiResponse::Json(200, {{"message", MessageView(q, m)}});
  });
  r.Add("DELETE", "/v3/messages/{id}", [e](ApiRequest& q) -> HandlerResult {
    STRATA_ASSIGN_OR_RETURN(db::MessageRecord m, LoadMessage(e, q));
    STRATA_RETURN_IF_ERROR(e->catalog()->DeleteMessage(m.id));
    return ApiResponse::Empty(204);
  });
}

}  // namespace strata::api
