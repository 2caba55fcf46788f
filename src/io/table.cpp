#include "critlab/io/table.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

namespace critlab::io {

std::size_t Table::column(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return i;
  throw Error("table has no column '" + name + "'");
}

void Table::add_row(std::vector<double> row) {
  CRITLAB_ASSERT(row.size() == columns.size(), "row width does not match the header");
  rows.push_back(std::move(row));
}

namespace {
std::string cell(double v, int precision) {
  if (std::isnan(v)) return "";
  if (v == std::floor(v) && std::abs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{:.{}g}", v, precision);
}
}  // namespace

std::string csv_number(double v) { return std::isnan(v) ? "" : fmt::format("{:.6g}", v); }

std::string Table::to_csv() const {
  std::string out;
  for (std::size_t i = 0; i < columns.size(); ++i) out += (i ? "," : "") + columns[i];
  out += "\n";
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + cell(row[i], 9);
    out += "\n";
  }
  return out;
}

std::string Table::to_markdown(int precision) const {
  std::string out = "|";
  for (const auto& c : columns) out += " " + c + " |";
  out += "\n|";
  for (std::size_t i = 0; i < columns.size(); ++i) out += " --- |";
  out += "\n";
  for (const auto& row : rows) {
    out += "|";
    for (double v : row) out += " " + cell(v, precision) + " |";
    out += "\n";
  }
  return out;
}

Table read_csv(const std::filesystem::path& path) {
  std::istringstream in(read_text(path));
  const auto bad = [&](std::size_t line_no, const std::string& why) {
    return Error(fmt::format("'{}' is damaged: line {}: {}", path.string(), line_no, why));
  };
  Table t;
  std::string line;
  if (!std::getline(in, line)) throw Error("'" + path.string() + "' is empty; expected a CSV header");
  std::stringstream header(line);
  for (std::string c; std::getline(header, c, ',');) {
    if (c.empty()) throw bad(1, "the header has an empty column name");
    t.columns.push_back(c);
  }
  if (!line.empty() && line.back() == ',') throw bad(1, "the header has an empty column name");
  if (t.columns.empty()) throw bad(1, "the header names no column");
  std::size_t line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::vector<double> row;
    std::size_t start = 0;
    while (true) {
      const auto comma = line.find(',', start);
      const std::string c =
          line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (c.empty()) {
        row.push_back(std::nan(""));
      } else {
        char* end = nullptr;
        const double v = std::strtod(c.c_str(), &end);  // inf is a value critlab writes (-inf exponents)
        if (end == c.c_str() || end != c.c_str() + c.size())
          throw bad(line_no, fmt::format("cell '{}' is not a number", c));
        row.push_back(v);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (row.size() != t.columns.size())
      throw bad(line_no, fmt::format("{} cells, but the header has {}", row.size(), t.columns.size()));
    t.rows.push_back(std::move(row));
  }
  return t;
}

void write_csv(const std::filesystem::path& path, const Table& table) { write_atomic(path, table.to_csv()); }

}  // namespace critlab::io
