// A small column table: the one format analyses hand to writers (CSV, markdown) and plots.
// Cells are doubles; NaN is written as an empty CSV cell ("not measured at this row").
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace critlab::io {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;

  // Index of a column; throws critlab::Error if absent.
  std::size_t column(const std::string& name) const;
  void add_row(std::vector<double> row);
  std::string to_csv() const;
  std::string to_markdown(int precision = 4) const;
};

// One number as a CSV cell in the experiments' hand-written tables: empty for NaN, else {:.6g} (inf and
// -inf as such).
std::string csv_number(double v);

// Parses CSV written by Table::to_csv (header line + numeric cells, empty = NaN).
Table read_csv(const std::filesystem::path& path);
void write_csv(const std::filesystem::path& path, const Table& table);

}  // namespace critlab::io
