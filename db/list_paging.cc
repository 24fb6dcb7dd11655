// List query helpers. See list_paging.h.
#include "db/list_paging.h"

#include <nlohmann/json.hpp>

namespace strata::db {

Result<std::string> WhereFilters(
    const ListQuery& q, const std::map<std::string, std::string>& allowed,
    std::vector<std::string>* binds) {
  std::string sql;
  for (const auto& [name, value] : q.filters) {
    auto col = allowed.find(name);
    if (col == allowed.end())
      return Status::InvalidArgument("Invalid filter key: " + name);
    sql += " AND " + col->second + " = ?";
    binds->push_back(value);
  }
  return sql;
}

Result<std::string> OrderBy(const ListQuery& q,
                            const std::map<std::string, std::string>& allowed) {
  std::vector<std::pair<std::string, bool>> keys = q.sort;
  if (keys.empty()) keys.push_back({"created_at", false});
  std::string sql = " ORDER BY ";
  bool last_asc = false;
  for (const auto& [key, asc] : keys) {
    auto col = allowed.find(key);
    if (col == allowed.end())
      return Status::InvalidArgument("Invalid sort key: " + key);
    sql += col->second + (asc ? " ASC, " : " DESC, ");
    last_asc = asc;
  }
  sql += last_asc ? "id ASC" : "id DESC";
  return sql;
}

std::string MetadataToJson(const Metadata& m) {
  return nlohmann::json(m).dump();
}

Metadata MetadataFromJson(const std::string& json) {
  Metadata m;
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return m;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.value().is_string()) m[it.key()] = it.value().get<std::string>();
  return m;
}

bool MetadataMatches(const Metadata& have, const Metadata& want) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace strata::db
