#include "critlab/io/csv.h"

#include <fmt/format.h>

#include <set>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

namespace critlab::io {

std::optional<std::size_t> TextTable::find(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return i;
  return std::nullopt;
}

const std::string& TextTable::cell(std::size_t r, std::size_t c) const {
  static const std::string empty;
  return c < rows.at(r).size() ? rows[r][c] : empty;
}

std::string csv_cell(const std::string& cell) {
  const bool quote = cell.find_first_of(",\"\r\n") != std::string::npos ||
                     (!cell.empty() && (cell.front() == ' ' || cell.back() == ' '));
  if (!quote) return cell;
  std::string out = "\"";
  for (char ch : cell) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + '"';
}

std::string TextTable::to_csv() const {
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csv_cell(cells[i]);
    out += '\n';
  };
  line(columns);
  for (const auto& r : rows) line(r);
  return out;
}

TextTable parse_text_csv(const std::string& text, const std::string& source) {
  std::size_t i = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;  // a spreadsheet's byte-order mark
  std::int64_t line = 1;
  // Reads one record starting at text[i]; returns false at the end of the text.
  const auto record = [&](std::vector<std::string>* cells, std::int64_t* start_line) {
    while (i < text.size() && (text[i] == '\n' || text[i] == '\r')) line += text[i++] == '\n';  // blank lines
    if (i >= text.size()) return false;
    *start_line = line;
    cells->assign(1, "");
    while (i < text.size()) {
      const char ch = text[i];
      if (ch == '"' && cells->back().empty()) {
        const std::int64_t open_line = line;
        ++i;
        while (true) {
          if (i >= text.size())
            throw Error(fmt::format("{}: line {}: a quoted cell is never closed", source, open_line));
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              cells->back() += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          line += text[i] == '\n';
          cells->back() += text[i++];
        }
      } else if (ch == ',') {
        cells->emplace_back();
        ++i;
      } else if (ch == '\n' || ch == '\r') {
        if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        ++i;
        ++line;
        return true;
      } else {
        cells->back() += ch;
        ++i;
      }
    }
    return true;
  };
  TextTable t;
  std::int64_t header_line = 0;
  if (!record(&t.columns, &header_line)) throw Error(source + " is empty; expected a CSV header");
  std::set<std::string> seen;
  for (const auto& c : t.columns) {
    if (c.empty())
      throw Error(fmt::format("{}: line {}: the header has an empty column name", source, header_line));
    if (!seen.insert(c).second)
      throw Error(
          fmt::format("{}: line {}: column '{}' appears twice in the header", source, header_line, c));
  }
  std::vector<std::string> cells;
  std::int64_t at = 0;
  while (record(&cells, &at)) {
    t.rows.push_back(cells);
    t.lines.push_back(at);
  }
  return t;
}

TextTable read_text_csv(const std::filesystem::path& path) {
  return parse_text_csv(read_text(path, std::uintmax_t{256} << 20), "'" + path.string() + "'");
}

}  // namespace critlab::io
