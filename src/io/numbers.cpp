#include "critlab/io/numbers.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

namespace critlab::io {

namespace {
std::string_view trim(std::string_view s) {
  const auto a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string_view::npos ? std::string_view{} : s.substr(a, b - a + 1);
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> cells;
  for (std::size_t start = 0;;) {
    const auto comma = line.find(',', start);
    cells.push_back(
        trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return cells;
}

enum class Parsed { kNumber, kNotANumber, kOutOfRange };

Parsed parse_number(std::string_view cell, double* out) {
  if (cell.empty()) return Parsed::kNotANumber;
  const std::string s(cell);  // NUL-terminated for strtod
  errno = 0;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return Parsed::kNotANumber;
  return errno == ERANGE ? Parsed::kOutOfRange : Parsed::kNumber;
}

// A header cell (numbers.h): letters, digits, '_', '-' and spaces, starting with a letter or '_'.
bool is_name(std::string_view cell) {
  if (cell.empty()) return false;
  const auto first = static_cast<unsigned char>(cell.front());
  if (!std::isalpha(first) && first != '_') return false;
  for (char ch : cell) {
    const auto c = static_cast<unsigned char>(ch);
    if (!std::isalnum(c) && c != '_' && c != '-' && c != ' ') return false;
  }
  return true;
}

bool is_header(const std::vector<std::string_view>& cells) {
  bool any_name = false;
  for (const auto cell : cells) {
    double v;
    if (parse_number(cell, &v) != Parsed::kNotANumber) return false;
    if (!cell.empty() && !is_name(cell)) return false;
    any_name |= !cell.empty();
  }
  return any_name;
}

// A cell quoted in a message: at most 60 characters, control bytes escaped.
std::string shown(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 60)) {
    const auto c = static_cast<unsigned char>(ch);
    out += c < 0x20 || c == 0x7f ? fmt::format("\\x{:02x}", c) : std::string(1, ch);
  }
  if (s.size() > 60) out += "...";
  return out;
}
}  // namespace

NumberColumns parse_number_columns(std::string_view text, const std::string& name,
                                   const std::vector<std::string>& columns) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  NumberColumns out;
  // Resolved column indices; -1 = a name still to find in the header. No columns asked for = all of them,
  // counted on the first line.
  std::vector<long> index;
  const bool all = columns.empty();
  for (const auto& column : columns) {
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(column.c_str(), &end, 10);
    index.push_back(
        !column.empty() && end == column.c_str() + column.size() && v >= 0 && errno != ERANGE ? v : -1);
  }
  bool header_checked = false;
  long lineno = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const auto nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    const auto cells = split(line);
    if (!header_checked) {
      header_checked = true;
      const bool header = is_header(cells);
      if (all)
        for (std::size_t i = 0; i < cells.size(); ++i) {
          index.push_back(static_cast<long>(i));
          out.names.push_back(header && !cells[i].empty() ? std::string(cells[i]) : std::to_string(i));
        }
      else
        for (std::size_t k = 0; k < columns.size(); ++k) {
          if (index[k] < 0) {
            if (!header)
              throw Error(
                  fmt::format("'{}' has no header line, so a column must be given as a 0-based index", name));
            for (std::size_t i = 0; i < cells.size(); ++i)
              if (cells[i] == columns[k]) index[k] = static_cast<long>(i);
            if (index[k] < 0)
              throw Error(fmt::format("'{}' has no column named '{}' (header: {})", name, shown(columns[k]),
                                      shown(line)));
          }
          const auto i = static_cast<std::size_t>(index[k]);
          out.names.push_back(header && i < cells.size() && !cells[i].empty() ? std::string(cells[i])
                                                                              : columns[k]);
        }
      out.values.resize(index.size());
      if (header) continue;
    }
    for (std::size_t k = 0; k < index.size(); ++k) {
      if (index[k] >= static_cast<long>(cells.size()))
        throw Error(fmt::format("'{}' line {}: no column {} in '{}'", name, lineno, index[k], shown(line)));
      const auto cell = cells[static_cast<std::size_t>(index[k])];
      double v;
      switch (parse_number(cell, &v)) {
        case Parsed::kNumber:
          out.values[k].push_back(v);
          break;
        case Parsed::kOutOfRange:
          throw Error(fmt::format(
              "'{}' line {}: '{}' is outside the range of a double (magnitudes from 2.2e-308 to 1.8e308)",
              name, lineno, shown(cell)));
        case Parsed::kNotANumber:
          throw Error(fmt::format("'{}' line {}: '{}' is not a number", name, lineno, shown(cell)));
      }
    }
  }
  if (out.values.empty() || out.values[0].empty())
    throw Error(fmt::format("'{}' holds no numbers; expected one number per line or a CSV column", name));
  return out;
}

std::vector<double> parse_number_column(std::string_view text, const std::string& name,
                                        const std::string& column) {
  return std::move(parse_number_columns(text, name, {column.empty() ? std::string("0") : column}).values[0]);
}

NumberColumns read_number_columns(const std::filesystem::path& path,
                                  const std::vector<std::string>& columns) {
  const std::string name = path.string();
  if (!std::filesystem::exists(path)) throw Error(fmt::format("'{}' does not exist", name));
  return parse_number_columns(read_text(path), name, columns);
}

std::vector<double> read_number_column(const std::filesystem::path& path, const std::string& column) {
  const std::string name = path.string();
  if (!std::filesystem::exists(path)) throw Error(fmt::format("'{}' does not exist", name));
  return parse_number_column(read_text(path), name, column);
}

}  // namespace critlab::io
