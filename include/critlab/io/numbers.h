// Reading a column of numbers: one number per line, or one column of a CSV file (by 0-based index or by
// header name). Blank lines and lines starting with '#' are skipped, and so is a UTF-8 byte-order mark at
// the start. Any other line that is not a number throws critlab::Error naming the file, the line number and
// the text; so does a number outside the range of a double (1e400, or 1e-400, which would underflow).
//
// The header rule: the first line that is neither blank nor a comment is a header only when it is clearly
// a line of names: no cell parses as a number, at least one cell is a name, and every cell is a name or
// empty, a name being letters, digits, '_', '-' and spaces that starts with a letter or '_' and holds no
// '.', '+' or other character of a number's spelling besides digits. So `size` and `size,duration` (and
// `,size` with an unnamed index column) are headers, while `x1.5`, `1e400` or `1,5x` are data, and fail as
// such with their line number instead of being dropped silently.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace critlab::io {

// `column`: empty = the first column; a number = 0-based index; otherwise a header name.
std::vector<double> read_number_column(const std::filesystem::path& path, const std::string& column = "");

// The same on text already in memory; `source_name` names it in messages (the file's name).
std::vector<double> parse_number_column(std::string_view text, const std::string& source_name,
                                        const std::string& column = "");

// Several columns of one file under the same rules (a trajectory, one coordinate per column). `columns`:
// 0-based indices or header names; empty = every column of the first line. `names` are the header's names
// of the columns read (their indices where the file has no header).
struct NumberColumns {
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;  // values[k] = column k, all of the same length
};
NumberColumns read_number_columns(const std::filesystem::path& path, const std::vector<std::string>& columns);
NumberColumns parse_number_columns(std::string_view text, const std::string& source_name,
                                   const std::vector<std::string>& columns);

}  // namespace critlab::io
