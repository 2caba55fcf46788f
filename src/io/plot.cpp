#include "critlab/io/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "critlab/io/csv.h"
#include "critlab/io/files.h"

namespace critlab::io {

namespace {
bool have_gnuplot() {
  static const bool found = std::system("command -v gnuplot >/dev/null 2>&1") == 0;
  return found;
}
}  // namespace

std::string gnuplot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}

bool render_gnuplot(const std::filesystem::path& dir, const std::string& stem, const std::string& body,
                    int width, int height) {
  std::filesystem::create_directories(dir);
  const auto png = dir / (stem + ".png");
  std::string gp =
      fmt::format("set terminal pngcairo size {},{} enhanced font 'DejaVu Sans,11'\n", width, height);
  gp += "set output " + gnuplot_quote(png.filename().string() + ".tmp") + "\n";
  gp += body;
  const auto script = dir / (stem + ".gp");
  write_atomic(script, gp);
  if (!have_gnuplot()) return false;
  // gnuplot writes <stem>.png.tmp in `dir`; renaming it keeps the PNG atomic too.
  const std::string cmd = fmt::format("cd {} && gnuplot {} >/dev/null 2>&1", gnuplot_quote(dir.string()),
                                      gnuplot_quote(script.filename().string()));
  std::error_code ec;
  if (std::system(cmd.c_str()) != 0 || std::filesystem::file_size(dir / (stem + ".png.tmp"), ec) == 0 || ec) {
    std::filesystem::remove(dir / (stem + ".png.tmp"), ec);  // never leave gnuplot's partial output behind
    return false;
  }
  std::filesystem::rename(dir / (stem + ".png.tmp"), png, ec);
  return !ec;
}

bool plot_lines(const std::filesystem::path& dir, const std::string& stem, const Table& table,
                const std::string& x, const std::vector<PlotSeries>& series, const PlotOptions& options) {
  std::filesystem::create_directories(dir);
  const auto csv = dir / (stem + ".csv");
  write_csv(csv, table);

  std::string gp;
  gp += "set datafile separator ','\nset key outside right top\nset grid\n";
  gp += "set title " + gnuplot_quote(options.title) + "\n";
  gp +=
      "set xlabel " + gnuplot_quote(options.xlabel) + "\nset ylabel " + gnuplot_quote(options.ylabel) + "\n";
  if (options.logx) gp += "set logscale x\n";
  if (options.logy) gp += "set logscale y\n";
  for (double v : options.vlines)
    gp += fmt::format("set arrow from first {0}, graph 0 to first {0}, graph 1 nohead dt 3 lc rgb 'gray40'\n",
                      v);
  gp += "plot ";
  const std::size_t xi = table.column(x) + 1;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const std::size_t yi = table.column(series[i].y) + 1;
    const std::string title = series[i].title.empty() ? series[i].y : series[i].title;
    gp += fmt::format("{}{} using {}:{} skip 1 with {} title {}", i ? ", \\\n     " : "",
                      gnuplot_quote(csv.filename().string()), xi, yi,
                      options.points ? "linespoints pt 7 ps 0.5" : "lines", gnuplot_quote(title));
  }
  // Reference lines as constant functions, so that autoscaling keeps them in view.
  for (double h : options.hlines)
    if (!(options.logy && h <= 0))
      gp += fmt::format(", \\\n     {} with lines dt 2 lc rgb 'gray40' notitle", h);
  gp += "\n";
  return render_gnuplot(dir, stem, gp);
}

bool plot_scatter_groups(const std::filesystem::path& dir, const std::string& stem,
                         const std::vector<ScatterPoint>& points, const PlotOptions& options, bool labels) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> groups;  // in order of first appearance
  for (const auto& p : points)
    if (std::find(groups.begin(), groups.end(), p.group) == groups.end()) groups.push_back(p.group);
  std::string csv = "group,label,x,y\n", dat;
  for (const auto& g : groups) {
    dat += "# " + g + "\n";
    for (const auto& p : points) {
      if (p.group != g || !std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      csv += fmt::format("{},{},{:.8g},{:.8g}\n", csv_cell(p.group), csv_cell(p.label), p.x, p.y);
      std::string label = p.label;
      std::replace(label.begin(), label.end(), '"', '\'');
      dat += fmt::format("{:.8g} {:.8g} \"{}\"\n", p.x, p.y, label);
    }
    dat += "\n\n";  // gnuplot's index separator
  }
  write_atomic(dir / (stem + ".csv"), csv);
  write_atomic(dir / (stem + ".dat"), dat);
  std::string gp = "set key outside right top\nset grid\n";
  // noenhanced: column names such as abs_lambda0 are printed as written, not with subscripts.
  gp += "set title " + gnuplot_quote(options.title) + " noenhanced\n";
  gp += "set xlabel " + gnuplot_quote(options.xlabel) + " noenhanced\nset ylabel " +
        gnuplot_quote(options.ylabel) + " noenhanced\n";
  if (options.logx) gp += "set logscale x\n";
  if (options.logy) gp += "set logscale y\n";
  for (double v : options.vlines)
    gp += fmt::format("set arrow from first {0}, graph 0 to first {0}, graph 1 nohead dt 3 lc rgb 'gray40'\n",
                      v);
  for (double h : options.hlines)
    gp += fmt::format("set arrow from graph 0, first {0} to graph 1, first {0} nohead dt 3 lc rgb 'gray40'\n",
                      h);
  const std::string data = gnuplot_quote(stem + ".dat");
  gp += "plot ";
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (i) gp += ", \\\n     ";
    // Eight colours, then the next point shape: up to 40 groups stay distinguishable.
    static constexpr int kShapes[] = {7, 5, 9, 11, 13};
    gp += fmt::format("{} index {} using 1:2 with points lc {} pt {} ps 1.1 title {} noenhanced", data, i,
                      i % 8 + 1, kShapes[(i / 8) % 5], gnuplot_quote(groups[i]));
    if (labels)
      gp += fmt::format(
          ", \\\n     {} index {} using 1:2:3 with labels noenhanced offset 0.6,0.6 left font ',8' notitle",
          data, i);
  }
  if (groups.empty()) gp += "NaN notitle";
  gp += "\n";
  return render_gnuplot(dir, stem, gp, 1000, 640);
}

bool plot_heatmap(const std::filesystem::path& dir, const std::string& stem, const std::vector<float>& values,
                  std::int64_t rows, std::int64_t cols, const HeatmapOptions& options) {
  if (static_cast<std::int64_t>(values.size()) != rows * cols)
    throw std::invalid_argument("plot_heatmap: size mismatch");
  std::filesystem::create_directories(dir);
  // The matrix as gnuplot's "matrix" text format: one row per line, space separated.
  std::string data;
  data.reserve(values.size() * 8);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c)
      data += fmt::format("{}{:.4g}", c ? " " : "", values[r * cols + c]);
    data += "\n";
  }
  const auto dat = dir / (stem + ".dat");
  write_atomic(dat, data);
  std::string gp;
  gp += "set title " + gnuplot_quote(options.title) + "\n";
  gp +=
      "set xlabel " + gnuplot_quote(options.xlabel) + "\nset ylabel " + gnuplot_quote(options.ylabel) + "\n";
  gp += "set cblabel " + gnuplot_quote(options.cblabel) + "\n";
  gp += fmt::format("set xrange [-0.5:{}]\nset yrange [-0.5:{}]\n", cols - 0.5, rows - 0.5);
  if (options.cb_lo < options.cb_hi) gp += fmt::format("set cbrange [{}:{}]\n", options.cb_lo, options.cb_hi);
  gp += options.diverging ? "set palette defined (0 '#2166ac', 0.5 'white', 1 '#b2182b')\n"
                          : "set palette defined (0 'white', 1 'black')\n";
  for (double h : options.hlines)
    gp += fmt::format(
        "set arrow from graph 0, first {0} to graph 1, first {0} nohead lc rgb 'gray50' front\n", h);
  for (double v : options.vlines)
    gp += fmt::format(
        "set arrow from first {0}, graph 0 to first {0}, graph 1 nohead lc rgb 'gray50' front\n", v);
  const auto tics = [](const char* axis, const std::vector<std::string>& labels) {
    std::string t;
    for (std::size_t i = 0; i < labels.size(); ++i)
      t += fmt::format("{}{} {}", i ? ", " : "", gnuplot_quote(labels[i]), i);
    return labels.empty() ? std::string() : fmt::format("set {}tics ({})\n", axis, t);
  };
  gp += tics("x", options.xtick_labels) + tics("y", options.ytick_labels);
  const std::string dat_name = gnuplot_quote(dat.filename().string());
  if (options.contours.empty()) {
    gp += "plot " + dat_name + " matrix with image notitle\n";
  } else {
    std::string levels;
    for (double c : options.contours) levels += fmt::format("{}{:.6g}", levels.empty() ? "" : ",", c);
    const std::string table = gnuplot_quote(stem + "_contours.dat");
    gp += "set contour base\nset cntrparam levels discrete " + levels + "\nunset surface\nset view map\n";
    gp += "set table " + table + "\nsplot " + dat_name + " matrix\nunset table\nunset contour\n";
    gp +=
        "plot " + dat_name + " matrix with image notitle, " + table + " with lines lc rgb 'black' notitle\n";
  }
  return render_gnuplot(dir, stem, gp, options.width, options.height);
}

}  // namespace critlab::io
