#include "critlab/io/numbers.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

namespace critlab::io {

namespace {
std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string c; std::getline(ss, c, ',');) {
    const auto a = c.find_first_not_of(" \t\r"), b = c.find_last_not_of(" \t\r");
    cells.push_back(a == std::string::npos ? "" : c.substr(a, b - a + 1));
  }
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

bool parse_number(const std::string& s, double* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && errno != ERANGE;
}
}  // namespace

std::vector<double> read_number_column(const std::filesystem::path& path, const std::string& column) {
  const std::string name = path.string();
  if (!std::filesystem::exists(path)) throw Error(fmt::format("'{}' does not exist", name));
  std::istringstream in(read_text(path));
  std::vector<double> out;
  long index = -1;  // resolved column index
  bool header_checked = false;
  if (column.empty())
    index = 0;
  else {
    char* end = nullptr;
    const long v = std::strtol(column.c_str(), &end, 10);
    if (end == column.c_str() + column.size() && v >= 0) index = v;
  }
  std::string line;
  for (long lineno = 1; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto cells = split(line);
    if (!header_checked) {
      header_checked = true;
      double probe;
      bool any_text = false;
      for (const auto& c : cells) any_text |= !parse_number(c, &probe);
      if (any_text) {  // a header line
        if (index < 0) {
          for (std::size_t i = 0; i < cells.size(); ++i)
            if (cells[i] == column) index = static_cast<long>(i);
          if (index < 0)
            throw Error(fmt::format("'{}' has no column named '{}' (header: {})", name, column, line));
        }
        continue;
      }
      if (index < 0)
        throw Error(fmt::format("'{}' has no header line, so --column must be a 0-based index", name));
    }
    if (index >= static_cast<long>(cells.size()))
      throw Error(fmt::format("'{}' line {}: no column {} in '{}'", name, lineno, index, line));
    double v;
    if (!parse_number(cells[static_cast<std::size_t>(index)], &v))
      throw Error(fmt::format("'{}' line {}: '{}' is not a number", name, lineno,
                              cells[static_cast<std::size_t>(index)]));
    out.push_back(v);
  }
  if (out.empty())
    throw Error(fmt::format("'{}' holds no numbers; expected one number per line or a CSV column", name));
  return out;
}

}  // namespace critlab::io
