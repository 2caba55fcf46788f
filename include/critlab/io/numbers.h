// Reading a column of numbers: one number per line, or one column of a CSV file (by 0-based index or by
// header name). Blank lines and lines starting with '#' are skipped. Any other line that is not a number
// throws critlab::Error naming the file, the line number and the text.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace critlab::io {

// `column`: empty = the first column; a number = 0-based index; otherwise a header name.
std::vector<double> read_number_column(const std::filesystem::path& path, const std::string& column = "");

}  // namespace critlab::io
