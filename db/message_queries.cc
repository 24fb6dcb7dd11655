// Catalog: SQL for the messages table (migration 14). See catalog.h.
// Thread-safety: every method holds mu_ (Catalog's contract).
#include <map>

#include "db/catalog.h"
#include "db/list_paging.h"

namespace strata::db {
namespace {

const char kColumns[] =
    "id, project_id, request_id, resource_type, resource_uuid, event_id, "
    "message_level, user_message, created_at, expires_at";

MessageRecord ReadMessage(const Statement& st) {
  MessageRecord m;
  m.id = st.ColumnText(0);
  m.project_id = st.ColumnText(1);
  m.request_id = st.ColumnText(2);
  m.resource_type = st.ColumnText(3);
  m.resource_uuid = st.ColumnOptText(4);
  m.event_id = st.ColumnText(5);
  m.message_level = st.ColumnText(6);
  m.user_message = st.ColumnText(7);
  m.created_at = st.ColumnInt(8);
  m.expires_at = st.ColumnInt(9);
  return m;
}

}  // namespace

Status Catalog::InsertMessage(const MessageRecord& m) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st,
      Statement::Prepare(db_, std::string("INSERT INTO messages (") + kColumns +
                                  ") VALUES (?,?,?,?,?,?,?,?,?,?)"));
  st.Bind(1, m.id)
      .Bind(2, m.project_id)
      .Bind(3, m.request_id)
      .Bind(4, m.resource_type)
      .BindOpt(5, m.resource_uuid)
      .Bind(6, m.event_id)
      .Bind(7, m.message_level)
      .Bind(8, m.user_message)
      .Bind(9, m.created_at)
      .Bind(10, m.expires_at);
  return st.Run();
}

Result<MessageRecord> Catalog::GetMessage(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st, Statement::Prepare(db_, std::string("SELECT ") + kColumns +
                                                " FROM messages WHERE id=?"));
  st.Bind(1, id);
  STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("Message " + id + " could not be found.");
  return ReadMessage(st);
}

Result<ListResult<MessageRecord>> Catalog::ListMessages(const ListQuery& q,
                                                        int64_t now) {
  static const std::map<std::string, std::string> kFilters = {
      {"event_id", "event_id"},           {"resource_type", "resource_type"},
      {"resource_uuid", "resource_uuid"}, {"message_level", "message_level"},
      {"request_id", "request_id"},       {"project_id", "project_id"}};
  static const std::map<std::string, std::string> kSort = {
      {"created_at", "created_at"},
      {"id", "id"},
      {"event_id", "event_id"},
      {"resource_type", "resource_type"},
      {"message_level", "message_level"}};
  std::lock_guard<std::recursive_mutex> lock(mu_);
  {
    STRATA_ASSIGN_OR_RETURN(
        Statement gone,
        Statement::Prepare(db_, "DELETE FROM messages WHERE expires_at < ?"));
    gone.Bind(1, now);
    STRATA_RETURN_IF_ERROR(gone.Run());
  }
  std::vector<std::string> binds;
  std::string sql =
      std::string("SELECT ") + kColumns + " FROM messages WHERE 1=1";
  if (!q.project_id.empty()) {
    sql += " AND project_id = ?";
    binds.push_back(q.project_id);
  }
  STRATA_ASSIGN_OR_RETURN(std::string where, WhereFilters(q, kFilters, &binds));
  STRATA_ASSIGN_OR_RETURN(std::string order, OrderBy(q, kSort));
  STRATA_ASSIGN_OR_RETURN(Statement st,
                          Statement::Prepare(db_, sql + where + order));
  for (size_t i = 0; i < binds.size(); ++i)
    st.Bind(static_cast<int>(i + 1), binds[i]);
  std::vector<MessageRecord> rows;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    rows.push_back(ReadMessage(st));
  }
  return Paginate(std::move(rows), q);
}

Status Catalog::DeleteMessage(const std::string& id) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  STRATA_ASSIGN_OR_RETURN(
      Statement st, Statement::Prepare(db_, "DELETE FROM messages WHERE id=?"));
  st.Bind(1, id);
  return st.RunUpdate("Message " + id + " could not be found.");
}

}  // namespace strata::db
