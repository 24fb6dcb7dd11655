// Table, JSON and value output. See output.h.
#include "cli/output.h"

#include <algorithm>

namespace strata::cli {
namespace {

nlohmann::json Pick(const nlohmann::json& item, const std::string& key) {
  const nlohmann::json* cur = &item;
  size_t start = 0;
  for (;;) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot - start);
    if (!cur->is_object() || !cur->contains(part)) return nullptr;
    cur = &(*cur)[part];
    if (dot == std::string::npos) return *cur;
    start = dot + 1;
  }
}

// A cell's text: strings bare, null empty, the rest as JSON.
std::string Text(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

Result<std::vector<Column>> Keep(const std::vector<Column>& all,
                                 const OutputOptions& opts) {
  if (opts.columns.empty()) return all;
  std::vector<Column> kept;
  for (const auto& want : opts.columns) {
    auto it = std::find_if(all.begin(), all.end(), [&](const Column& c) {
      return c.header == want || c.key == want;
    });
    if (it == all.end()) {
      std::string names;
      for (const auto& c : all) names += (names.empty() ? "" : ", ") + c.header;
      return Status::InvalidArgument("no column '" + want +
                                     "' (columns: " + names + ")");
    }
    kept.push_back(*it);
  }
  return kept;
}

void Table(const std::vector<std::string>& headers,
           const std::vector<std::vector<std::string>>& rows,
           std::ostream& out) {
  std::vector<size_t> width(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  auto rule = [&] {
    out << '+';
    for (size_t w : width) out << std::string(w + 2, '-') << '+';
    out << '\n';
  };
  auto line = [&](const std::vector<std::string>& cells) {
    out << '|';
    for (size_t i = 0; i < cells.size(); ++i)
      out << ' ' << cells[i] << std::string(width[i] - cells[i].size(), ' ')
          << " |";
    out << '\n';
  };
  rule();
  line(headers);
  rule();
  for (const auto& r : rows) line(r);
  rule();
}

}  // namespace

Result<Format> ParseFormat(const std::string& name) {
  if (name == "table") return Format::kTable;
  if (name == "json") return Format::kJson;
  if (name == "value") return Format::kValue;
  return Status::InvalidArgument("unknown format '" + name +
                                 "' (table, json, value)");
}

Status PrintList(const nlohmann::json& items, const std::vector<Column>& all,
                 const OutputOptions& opts, std::ostream& out) {
  STRATA_ASSIGN_OR_RETURN(std::vector<Column> columns, Keep(all, opts));
  if (opts.format == Format::kJson) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& item : items) {
      nlohmann::json row = nlohmann::json::object();
      for (const auto& c : columns) row[c.header] = Pick(item, c.key);
      rows.push_back(row);
    }
    out << rows.dump(4) << '\n';
    return Status::OK();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : items) {
    std::vector<std::string> row;
    for (const auto& c : columns) row.push_back(Text(Pick(item, c.key)));
    rows.push_back(row);
  }
  if (opts.format == Format::kValue) {
    for (const auto& r : rows) {
      for (size_t i = 0; i < r.size(); ++i) out << (i ? " " : "") << r[i];
      out << '\n';
    }
    return Status::OK();
  }
  std::vector<std::string> headers;
  for (const auto& c : columns) headers.push_back(c.header);
  Table(headers, rows, out);
  return Status::OK();
}

Status PrintOne(const nlohmann::json& item, const std::vector<Column>& given,
                const OutputOptions& opts, std::ostream& out) {
  std::vector<Column> all = given;
  if (all.empty() && item.is_object())
    for (auto& [k, v] : item.items()) all.push_back({k, k});
  STRATA_ASSIGN_OR_RETURN(std::vector<Column> fields, Keep(all, opts));
  if (opts.format == Format::kJson) {
    nlohmann::json obj = nlohmann::json::object();
    for (const auto& f : fields) obj[f.header] = Pick(item, f.key);
    out << obj.dump(4) << '\n';
    return Status::OK();
  }
  if (opts.format == Format::kValue) {
    for (const auto& f : fields) out << Text(Pick(item, f.key)) << '\n';
    return Status::OK();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : fields)
    rows.push_back({f.header, Text(Pick(item, f.key))});
  Table({"Field", "Value"}, rows, out);
  return Status::OK();
}

}  // namespace strata::cli
