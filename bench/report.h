// Plain-text tables for the benchmark's output, the same tables as JSON, and
// the small statistics (median, max) its summaries use.
//
// A cell keeps its printed text and, when it is a measurement, the number, so
// the JSON carries numbers rather than formatted strings.
//
// Thread-safety: values.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace strata::bench {

struct Cell {
  std::string text;
  std::optional<double> number;
};

// A number printed with `precision` decimals.
Cell Num(double value, int precision);
// Text (also "n/a", "-").
Cell Text(std::string text);

class Table {
 public:
  Table(std::string title, std::vector<std::string> columns);

  void AddRow(std::vector<Cell> row);
  // A line of dashes between the rows above and below.
  void AddSeparator();
  // A line printed under the table.
  void AddNote(std::string note);

  // Title, header, rows (first column left-aligned, the rest right-aligned)
  // and notes.
  void Print(std::ostream& out) const;
  // {"title", "columns", "rows": [{column: number or text}], "notes"}.
  nlohmann::json ToJson() const;

 private:
  std::string title_;
  std::vector<std::string> columns_;
  std::vector<std::vector<Cell>> rows_;  // an empty row is a separator
  std::vector<std::string> notes_;
};

double Median(std::vector<double> values);      // 0 for none
double Max(const std::vector<double>& values);  // 0 for none
// x / y, or 0 when y is not known (0: its row was not run, a run failed).
double Ratio(double x, double y);

constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace strata::bench
