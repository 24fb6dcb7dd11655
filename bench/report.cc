// Tables and statistics. See report.h.
#include "bench/report.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace strata::bench {

Cell Num(double value, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, value);
  return {buf, value};
}

Cell Text(std::string text) { return {std::move(text), std::nullopt}; }

Table::Table(std::string title, std::vector<std::string> columns)
    : title_(std::move(title)), columns_(std::move(columns)) {}

void Table::AddRow(std::vector<Cell> row) {
  row.resize(columns_.size());
  rows_.push_back(std::move(row));
}

void Table::AddSeparator() { rows_.emplace_back(); }

void Table::AddNote(std::string note) { notes_.push_back(std::move(note)); }

void Table::Print(std::ostream& out) const {
  std::vector<size_t> width(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) width[c] = columns_[c].size();
  for (const auto& row : rows_)
    for (size_t c = 0; c < row.size(); ++c)
      width[c] = std::max(width[c], row[c].text.size());
  size_t total = 0;
  for (size_t w : width) total += w + 2;

  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < cells.size(); ++c) {
      std::string pad(width[c] - cells[c].size(), ' ');
      s += c == 0 ? cells[c] + pad : pad + cells[c];
      if (c + 1 < cells.size()) s += "  ";
    }
    out << s << "\n";
  };
  out << title_ << "\n" << std::string(title_.size(), '=') << "\n";
  line(columns_);
  out << std::string(total - 2, '-') << "\n";
  for (const auto& row : rows_) {
    if (row.empty()) {
      out << std::string(total - 2, '-') << "\n";
      continue;
    }
    std::vector<std::string> texts;
    for (const Cell& cell : row) texts.push_back(cell.text);
    line(texts);
  }
  for (const auto& note : notes_) out << "  " << note << "\n";
  out << "\n";
}

nlohmann::json Table::ToJson() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : rows_) {
    if (row.empty()) continue;
    nlohmann::json r = nlohmann::json::object();
    for (size_t c = 0; c < row.size(); ++c) {
      if (row[c].number)
        r[columns_[c]] = *row[c].number;
      else
        r[columns_[c]] = row[c].text;
    }
    rows.push_back(std::move(r));
  }
  return {{"title", title_},
          {"columns", columns_},
          {"rows", rows},
          {"notes", notes_}};
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Max(const std::vector<double>& values) {
  if (values.empty()) return 0;
  return *std::max_element(values.begin(), values.end());
}

double Ratio(double x, double y) { return y > 0 ? x / y : 0; }

}  // namespace strata::bench
