// CSV with text cells, for tables a person writes by hand or a spreadsheet exports (the survey's manifest,
// and its models.csv, which mixes names and numbers). RFC 4180: a cell in double quotes may hold commas,
// newlines and doubled quotes; a UTF-8 byte-order mark and CRLF line ends are accepted. io/table.h keeps the
// numeric tables the analyses exchange.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace critlab::io {

struct TextTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;  // as read: a row may have more or fewer cells than columns
  std::vector<std::int64_t> lines;             // the line of the file where each row starts (header = 1)

  // The index of a column, or empty.
  std::optional<std::size_t> find(const std::string& name) const;
  // The cell of row `r` in column `c`, or "" where the row is short.
  const std::string& cell(std::size_t r, std::size_t c) const;
  // Header and rows, every cell quoted where it must be.
  std::string to_csv() const;
};

// Throws critlab::Error naming `source` for an empty text, an empty or repeated column name, or a quote left
// open. Blank lines are skipped.
TextTable parse_text_csv(const std::string& text, const std::string& source);
TextTable read_text_csv(const std::filesystem::path& path);

// `cell` as one CSV cell: quoted (quotes doubled) when it holds a comma, a quote, a newline or leading or
// trailing space.
std::string csv_cell(const std::string& cell);

}  // namespace critlab::io
