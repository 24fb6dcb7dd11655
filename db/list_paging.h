// Shared pieces of list queries: ORDER BY from whitelisted sort keys, the
// WHERE clause from whitelisted filters, and marker/offset/limit paging over
// the sorted rows. Cinder semantics: the marker is the id of the last row of
// the previous page; an unknown marker is a 400.
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "db/catalog.h"
#include "db/records.h"

namespace strata::db {

// Builds " AND col = ?" clauses for filters; `allowed` maps API filter names
// to columns. Unknown filters are an InvalidArgument. Appends bind values.
Result<std::string> WhereFilters(
    const ListQuery& q, const std::map<std::string, std::string>& allowed,
    std::vector<std::string>* binds);
// " ORDER BY …, id <dir>" from q.sort (default created_at desc).
Result<std::string> OrderBy(const ListQuery& q,
                            const std::map<std::string, std::string>& allowed);

std::string MetadataToJson(const Metadata& m);
Metadata MetadataFromJson(const std::string& json);
bool MetadataMatches(const Metadata& have, const Metadata& want);

// Applies metadata filter (for records with metadata), marker, offset and
// limit to sorted rows.
template <class T>
Result<ListResult<T>> Paginate(std::vector<T> rows, const ListQuery& q) {
  ListResult<T> out;
  std::vector<T> kept;
  for (auto& r : rows) {
    // Records without metadata (messages) match only a query without.
    bool match = q.metadata.empty();
    if constexpr (requires { r.metadata; })
      match = MetadataMatches(r.metadata, q.metadata);
    if (match) kept.push_back(std::move(r));
  }
  out.total = static_cast<int64_t>(kept.size());
  size_t start = 0;
  if (q.marker) {
    size_t i = 0;
    while (i < kept.size() && kept[i].id != *q.marker) ++i;
    if (i == kept.size())
      return Status::NotFound("Marker " + *q.marker + " could not be found.");
    start = i + 1;
  }
  start += static_cast<size_t>(q.offset);
  for (size_t i = start; i < kept.size(); ++i) {
    if (q.limit >= 0 && static_cast<int64_t>(out.rows.size()) >= q.limit) {
      out.more = true;
      break;
    }
    out.rows.push_back(std::move(kept[i]));
  }
  // Cinder links a full page to the next one even when it is the last (the
  // next is then empty): clients and Tempest walk links until a short page.
  if (q.limit > 0 && static_cast<int64_t>(out.rows.size()) == q.limit)
    out.more = true;
  return out;
}

// A whole list query: `select` ("SELECT … FROM t WHERE <condition>")
// narrowed to q.project_id when set and to the filters, sorted, each row
// read by `read`, then paged. REQUIRES: the catalog's mutex.
template <class T>
Result<ListResult<T>> ListRows(
    const SqliteDb& db, std::string select, const ListQuery& q,
    const std::map<std::string, std::string>& filters,
    const std::map<std::string, std::string>& sort,
    T (*read)(const Statement&)) {
  std::vector<std::string> binds;
  if (!q.project_id.empty()) {
    select += " AND project_id = ?";
    binds.push_back(q.project_id);
  }
  STRATA_ASSIGN_OR_RETURN(std::string where, WhereFilters(q, filters, &binds));
  STRATA_ASSIGN_OR_RETURN(std::string order, OrderBy(q, sort));
  STRATA_ASSIGN_OR_RETURN(Statement st,
                          Statement::Prepare(db, select + where + order));
  for (size_t i = 0; i < binds.size(); ++i)
    st.Bind(static_cast<int>(i + 1), binds[i]);
  std::vector<T> rows;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    rows.push_back(read(st));
  }
  return Paginate(std::move(rows), q);
}

}  // namespace strata::db
