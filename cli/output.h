// How the `strata` CLI prints what the API answered, as openstackclient
// does (-f table|json|value, -c COLUMN): a list as rows under column
// headers, one resource as Field/Value pairs.
//
// Thread-safety: pure functions over their arguments.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "util/status.h"

namespace strata::cli {

enum class Format { kTable, kJson, kValue };

// A column: its header and the key of the API's object it shows (a
// "a.b" path reaches into nested objects).
struct Column {
  std::string header, key;
};

struct OutputOptions {
  Format format = Format::kTable;
  std::vector<std::string> columns;  // -c: headers to keep ("" = all)
};

[[nodiscard]] Result<Format> ParseFormat(const std::string& name);

// Rows of `items` (API objects) under `columns`.
[[nodiscard]] Status PrintList(const nlohmann::json& items,
                               const std::vector<Column>& columns,
                               const OutputOptions& opts, std::ostream& out);
// One object's `fields`, or every key it has when `fields` is empty.
[[nodiscard]] Status PrintOne(const nlohmann::json& item,
                              const std::vector<Column>& fields,
                              const OutputOptions& opts, std::ostream& out);

}  // namespace strata::cli
