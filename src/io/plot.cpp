#include "critlab/io/plot.h"

#include <cstdlib>

#include <fmt/format.h>

#include "critlab/io/files.h"

namespace critlab::io {

namespace {
bool have_gnuplot() {
  static const bool found = std::system("command -v gnuplot >/dev/null 2>&1") == 0;
  return found;
}
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}
}  // namespace

bool plot_lines(const std::filesystem::path& dir, const std::string& stem, const Table& table,
                const std::string& x, const std::vector<PlotSeries>& series, const PlotOptions& options) {
  std::filesystem::create_directories(dir);
  const auto csv = dir / (stem + ".csv");
  const auto png = dir / (stem + ".png");
  write_csv(csv, table);

  std::string gp;
  gp += "set terminal pngcairo size 900,560 enhanced font 'DejaVu Sans,11'\n";
  gp += "set output " + quote(png.filename().string() + ".tmp") + "\n";
  gp += "set datafile separator ','\nset key outside right top\nset grid\n";
  gp += "set title " + quote(options.title) + "\n";
  gp += "set xlabel " + quote(options.xlabel) + "\nset ylabel " + quote(options.ylabel) + "\n";
  if (options.logx) gp += "set logscale x\n";
  if (options.logy) gp += "set logscale y\n";
  for (double h : options.hlines)
    gp += fmt::format("set arrow from graph 0, first {0} to graph 1, first {0} nohead dt 2 lc rgb 'gray40'\n", h);
  gp += "plot ";
  const std::size_t xi = table.column(x) + 1;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const std::size_t yi = table.column(series[i].y) + 1;
    const std::string title = series[i].title.empty() ? series[i].y : series[i].title;
    gp += fmt::format("{}{} using {}:{} skip 1 with {} title {}", i ? ", \\\n     " : "",
                      quote(csv.filename().string()), xi, yi, options.points ? "linespoints pt 7 ps 0.5" : "lines",
                      quote(title));
  }
  gp += "\n";
  const auto script = dir / (stem + ".gp");
  write_atomic(script, gp);
  if (!have_gnuplot()) return false;
  // gnuplot writes <stem>.png.tmp in `dir`; renaming it keeps the PNG atomic too.
  const std::string cmd = fmt::format("cd {} && gnuplot {} >/dev/null 2>&1", quote(dir.string()),
                                      quote(script.filename().string()));
  if (std::system(cmd.c_str()) != 0) return false;
  std::error_code ec;
  std::filesystem::rename(dir / (stem + ".png.tmp"), png, ec);
  return !ec;
}

}  // namespace critlab::io
