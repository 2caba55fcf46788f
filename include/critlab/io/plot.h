// Line plots rendered by gnuplot (Debian's gnuplot-nox) to PNG. Each plot is written with the CSV it was
// drawn from and the gnuplot script, so a user can restyle it. Missing gnuplot is not an error: the data
// and script are still written and the function returns false.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "critlab/io/table.h"

namespace critlab::io {

struct PlotSeries {
  std::string y;      // column name in the table
  std::string title;  // legend; defaults to the column name
};

struct PlotOptions {
  std::string title;
  std::string xlabel;
  std::string ylabel;
  bool logx = false;
  bool logy = false;
  bool points = true;              // draw markers as well as lines
  std::vector<double> hlines;      // reference lines (e.g. gain 1, exponent 0)
};

// Writes <stem>.csv, <stem>.gp and <stem>.png into `dir`. Returns true when the PNG was rendered.
bool plot_lines(const std::filesystem::path& dir, const std::string& stem, const Table& table,
                const std::string& x, const std::vector<PlotSeries>& series, const PlotOptions& options);

}  // namespace critlab::io
