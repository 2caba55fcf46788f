// Line plots rendered by gnuplot (Debian's gnuplot-nox) to PNG. Each plot is written with the CSV it was
// drawn from and the gnuplot script, so a user can restyle it. Missing gnuplot is not an error: the data
// and script are still written and the function returns false.
#pragma once
#include <cstdint>
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
  bool points = true;          // draw markers as well as lines
  std::vector<double> hlines;  // reference lines (e.g. gain 1, exponent 0)
  std::vector<double> vlines;  // vertical markers (e.g. a located transition)
};

// Writes <stem>.csv, <stem>.gp and <stem>.png into `dir`. Returns true when the PNG was rendered.
bool plot_lines(const std::filesystem::path& dir, const std::string& stem, const Table& table,
                const std::string& x, const std::vector<PlotSeries>& series, const PlotOptions& options);

// Writes <stem>.gp (a pngcairo terminal set-up, then `body`) into `dir` and renders <stem>.png atomically.
// The building block for plots that are not line plots; returns true when the PNG was rendered.
bool render_gnuplot(const std::filesystem::path& dir, const std::string& stem, const std::string& body,
                    int width = 900, int height = 560);

// `s` as a gnuplot string literal (double quotes, '"' and '\\' escaped): for file names and titles in a body.
std::string gnuplot_quote(const std::string& s);

// One point of a scatter plot whose colour says its group (e.g. a model's family).
struct ScatterPoint {
  std::string group;  // one colour and legend entry per distinct group
  std::string label;  // written beside the point when `labels` is set (e.g. the model's name)
  double x = 0, y = 0;
};
// Writes <stem>.csv (group, label, x, y), <stem>.dat (one gnuplot index block per group), <stem>.gp and
// <stem>.png. Non-finite points are left out. Returns true when the PNG was rendered.
bool plot_scatter_groups(const std::filesystem::path& dir, const std::string& stem,
                         const std::vector<ScatterPoint>& points, const PlotOptions& options,
                         bool labels = false);

struct HeatmapOptions {
  std::string title, xlabel, ylabel, cblabel;
  double cb_lo = 0, cb_hi = 0;         // colour range; automatic when lo >= hi
  bool diverging = false;              // blue-white-red around the middle of the range, else white-black
  std::vector<double> hlines, vlines;  // separators (e.g. class boundaries), in cell coordinates
  std::vector<double> contours;        // contour lines at these values, drawn over the image
  std::vector<std::string> xtick_labels, ytick_labels;  // one per column / row (e.g. the grid's values)
  int width = 900, height = 700;
};

// A row-major matrix (rows along y, cols along x) drawn as an image: writes <stem>.dat, <stem>.gp,
// <stem>.png (and <stem>_contours.dat, gnuplot's table of the contour lines, when contours are asked for).
bool plot_heatmap(const std::filesystem::path& dir, const std::string& stem, const std::vector<float>& values,
                  std::int64_t rows, std::int64_t cols, const HeatmapOptions& options);

}  // namespace critlab::io
