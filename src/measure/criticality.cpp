#include "critlab/measure/criticality.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "critlab/core/error.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "measure/tensor_util.h"

namespace critlab::measure {

bool MeasureOptions::IsValid(std::string* error) const {
  return gains.IsValid(error) && lyapunov.IsValid(error) && dynamic_range.IsValid(error) &&
         branching.IsValid(error) && input_response.IsValid(error);
}

MeasureOptions monitor_measure_options() {
  MeasureOptions mo;
  mo.lyapunov.k = 1;
  mo.lyapunov.max_inputs = 32;
  mo.dynamic_range.max_inputs = 16;
  mo.dynamic_range.per_decade = 2;  // 23 perturbation sizes
  mo.dynamic_range.linear_step = 0.075;
  mo.branching.max_inputs = 32;
  return mo;
}

CriticalityReport measure_criticality(nn::LayerStack& stack, const at::Tensor& probes,
                                      const MeasureOptions& options) {
  std::string err;
  if (!options.IsValid(&err)) throw Error(err);
  const auto t0 = std::chrono::steady_clock::now();
  CriticalityReport r;
  r.probes = probes.size(0);
  r.layers = layer_gains(stack, probes, options.gains);
  r.distance_to_criticality = distance_to_criticality(r.layers);
  if (options.with_lyapunov) {
    r.lyapunov = lyapunov_spectrum(stack, probes, options.lyapunov);
  }
  const bool dr_double =
      options.with_dynamic_range && dynamic_range_in_double(stack, probes, options.dynamic_range);
  if (options.with_dynamic_range && !dr_double) {
    r.dynamic_range = dynamic_range(stack, probes, options.dynamic_range);  // in the network's precision
  }
  {
    // The branching parameter, the input response and a dynamic range in double run in double: the
    // parameters are converted once for them (each function's own scope then finds them converted) and
    // restored after.
    std::optional<DoublePrecisionScope> precision;
    if (int{dr_double} + int{options.with_branching} + int{options.with_input_response} > 1)
      precision.emplace(*stack);
    if (dr_double) {
      r.dynamic_range = dynamic_range(stack, probes, options.dynamic_range);
    }
    if (options.with_branching) {
      r.branching = branching_parameter(stack, probes, options.branching);
    }
    if (options.with_input_response) {
      r.input_response = input_response(stack, probes, options.input_response);
    }
  }
  for (auto& g : r.layers) g.jvp = stack->block(g.index)->jvp_path();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

nlohmann::json to_json(const CriticalityReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& g : r.layers) layers.push_back(to_json(g));
  nlohmann::json j = {{"layers", layers},
                      {"distance_to_criticality", r.distance_to_criticality},
                      {"probes", r.probes},
                      {"seconds", r.seconds}};
  const Status not_run = make_status(StatusCode::kNotRun, "not asked for");
  if (r.lyapunov)
    put_exponents(j, "lyapunov", r.lyapunov->exponents);
  else
    put_result(j, "lyapunov", std::optional<std::vector<double>>(), not_run);
  put_result(j, "lyapunov_detail", r.lyapunov ? std::optional(to_json(*r.lyapunov)) : std::nullopt, not_run);
  put_result(j, "dynamic_range", r.dynamic_range ? std::optional(to_json(*r.dynamic_range)) : std::nullopt,
             not_run);
  put_result(j, "branching", r.branching ? std::optional(to_json(*r.branching)) : std::nullopt, not_run);
  put_result(j, "input_response", r.input_response ? std::optional(to_json(*r.input_response)) : std::nullopt,
             not_run);
  return j;
}

namespace {
struct Column {
  std::string name;
  const std::vector<double>& values;
};
// A response curve's table (tables/STEM.csv) and its log-log plot, with the range's ends marked where found.
void write_response_curve(const std::filesystem::path& tables, const std::filesystem::path& plots,
                          const std::string& stem, const Column& x, const Column& y,
                          std::optional<double> low, std::optional<double> high, io::PlotOptions options,
                          const std::string& series) {
  io::Table t{{x.name, y.name}, {}};
  for (std::size_t i = 0; i < x.values.size(); ++i) t.add_row({x.values[i], y.values[i]});
  io::write_csv(tables / (stem + ".csv"), t);
  if (low && high) options.vlines = {*low, *high};
  options.logx = options.logy = true;
  io::plot_lines(plots, stem, t, x.name, {{y.name, series}}, options);
}
}  // namespace

void write_report_files(const std::filesystem::path& dir, const CriticalityReport& r) {
  const auto tables = dir / "tables";
  const auto plots = dir / "plots";
  io::Table gains{{"layer", "fan_in", "fan_out", "gain_sq", "gain_sq_se", "gain", "log_gain", "readout"}, {}};
  for (const auto& g : r.layers)
    gains.add_row({static_cast<double>(g.index), static_cast<double>(g.fan_in),
                   static_cast<double>(g.fan_out), g.gain_sq, g.gain_sq_se, g.gain, g.log_gain,
                   g.readout ? 1.0 : 0.0});
  io::write_csv(tables / "gains.csv", gains);
  io::plot_lines(plots, "gains", gains, "layer", {{"gain_sq", "mean squared singular value of J_l"}},
                 {.title = fmt::format("Layer Jacobian gains (distance to criticality {:.3f})",
                                       r.distance_to_criticality),
                  .xlabel = "layer",
                  .ylabel = "gain^2 = ||J_l||_F^2 / fan-out",
                  .logy = true,
                  .hlines = {1.0}});
  if (r.lyapunov) {
    io::Table ly{{"layer"}, {}};
    for (int i = 0; i < r.lyapunov->k; ++i) ly.columns.push_back(fmt::format("lambda_{}", i + 1));
    for (std::size_t l = 0; l < r.lyapunov->per_layer.size(); ++l) {
      if (std::isnan(r.lyapunov->per_layer[l].front())) continue;
      std::vector<double> row{static_cast<double>(l)};
      row.insert(row.end(), r.lyapunov->per_layer[l].begin(), r.lyapunov->per_layer[l].end());
      ly.add_row(row);
    }
    io::write_csv(tables / "lyapunov_per_layer.csv", ly);
    std::vector<io::PlotSeries> series;
    for (int i = 0; i < std::min(r.lyapunov->k, 4); ++i)
      series.push_back({fmt::format("lambda_{}", i + 1), ""});
    io::plot_lines(plots, "lyapunov_per_layer", ly, "layer", series,
                   {.title = fmt::format("Local Lyapunov exponents (lambda_1 = {:.4f} per layer)",
                                         r.lyapunov->exponents.front()),
                    .xlabel = "layer",
                    .ylabel = "ln |R_ii| (nats per layer)",
                    .hlines = {0.0}});
    io::Table spec{{"i", "lambda", "se"}, {}};
    for (std::size_t i = 0; i < r.lyapunov->exponents.size(); ++i)
      spec.add_row({static_cast<double>(i + 1), r.lyapunov->exponents[i], r.lyapunov->exponents_se[i]});
    io::plot_lines(plots, "lyapunov_spectrum", spec, "i", {{"lambda", "exponent"}},
                   {.title = "Lyapunov spectrum",
                    .xlabel = "index i",
                    .ylabel = "lambda_i (nats per layer)",
                    .hlines = {0.0}});
  }
  if (r.dynamic_range && !r.dynamic_range->map.empty()) {
    const auto& d = *r.dynamic_range;
    io::Table map{{"eps", "map", "gain"}, {}};
    for (std::size_t i = 0; i < d.eps.size(); ++i) map.add_row({d.eps[i], d.map[i], d.map[i] / d.eps[i]});
    io::write_csv(tables / "layer_map.csv", map);
    // G(eps)/eps: the slope at the left, below 1 where G has its fixed point (the chaotic baseline).
    io::plot_lines(
        plots, "layer_map", map, "eps", {{"gain", "G(eps) / eps, mean over blocks"}},
        {.title = d.slope ? fmt::format("Layer map of decorrelation (slope {:.3f}; critical at 1)", *d.slope)
                          : std::string("Layer map of decorrelation"),
         .xlabel = "eps at a block's input (1 - cosine to the clean activity)",
         .ylabel = "eps at its output / eps",
         .logx = true,
         .hlines = {1.0}});
    if (!d.rates.empty())
      write_response_curve(
          tables, plots, "dynamic_range", {"rate", d.rates}, {"response", d.response}, d.rate_low,
          d.rate_high,
          {.title = d.delta_db
                        ? fmt::format("Stationary response to drive, dynamic range {:.2f} dB", *d.delta_db)
                        : "Stationary response to drive (no dynamic range: " + to_string(d.status.code) + ")",
           .xlabel = "drive rate r per layer",
           .ylabel = "eps_r - eps_0"},
          "F(r)");
  }
  if (r.input_response) {
    const auto& d = *r.input_response;
    write_response_curve(
        tables, plots, "input_response", {"stimulus", d.stimuli}, {"response", d.response}, d.s_low, d.s_high,
        {.title =
             d.delta_db
                 ? fmt::format("Response to a perturbation of the input, range {:.2f} dB", *d.delta_db)
                 : "Response to a perturbation of the input (no range: " + to_string(d.status.code) + ")",
         .xlabel = "stimulus s (relative to the input's norm)",
         .ylabel = "||h_L(x + s u) - h_L(x)|| / sqrt(N)"},
        "F(s)");
  }
  if (r.branching) {
    io::Table br{{"layer", "sigma", "sigma_binary", "changed_fraction", "readout"}, {}};
    const double nan = std::nan("");
    for (const auto& l : r.branching->layers)
      br.add_row({static_cast<double>(l.index), l.sigma.value_or(nan), l.sigma_binary.value_or(nan),
                  l.changed_fraction, l.readout ? 1.0 : 0.0});
    io::write_csv(tables / "branching.csv", br);
    io::plot_lines(
        plots, "branching", br, "layer",
        {{"sigma", "continuous rms ratio"}, {"sigma_binary", "changed units ratio"}},
        {.title = r.branching->sigma
                      ? fmt::format("Branching parameter per layer (sigma = {:.4f})", *r.branching->sigma)
                      : std::string("Branching parameter per layer"),
         .xlabel = "layer",
         .ylabel = "sigma_l (descendants per ancestor)",
         .hlines = {1.0}});
  }
}

std::string brief_report(const CriticalityReport& r) {
  std::string out = fmt::format("{:>5}  {:<34} {:>7} {:>7} {:>10} {:>9} {:>9}  {}\n", "layer", "block",
                                "fan_in", "fan_out", "gain_sq", "+-se", "ln gain", "method");
  for (const auto& g : r.layers)
    out += fmt::format("{:>5}  {:<34} {:>7} {:>7} {:>10.4f} {:>9.4f} {:>9.4f}  {}\n", g.index, g.description,
                       g.fan_in, g.fan_out, g.gain_sq, g.gain_sq_se, g.log_gain, g.method);
  out += fmt::format("distance to criticality (mean |ln gain| over hidden layers): {:.4f}\n",
                     r.distance_to_criticality);
  if (r.lyapunov) {
    out += "Lyapunov exponents (nats/layer):";
    for (std::size_t i = 0; i < r.lyapunov->exponents.size(); ++i)
      out += fmt::format(" {:.4f}", r.lyapunov->exponents[i]);
    out += "\n";
  }
  if (r.dynamic_range) {
    const auto& d = *r.dynamic_range;
    out += d.delta_db ? fmt::format(
                            "dynamic range: {:.2f} dB (stationary response of the layer map: slope {:.4f}, "
                            "critical at 1; baseline {:.3g}; 10%-90% between drives {:.3g} and {:.3g})\n",
                            *d.delta_db, *d.slope, *d.baseline, *d.rate_low, *d.rate_high)
                      : "dynamic range: none (" + to_string(d.status.code) + ": " + d.status.message + ")\n";
  }
  if (r.input_response) {
    const auto& d = *r.input_response;
    out += d.delta_db
               ? fmt::format(
                     "input-response range: {:.2f} dB (10%-90% of the last hidden layer's "
                     "response between input perturbations {:.3g} and {:.3g})\n",
                     *d.delta_db, *d.s_low, *d.s_high)
               : "input-response range: none (" + to_string(d.status.code) + ": " + d.status.message + ")\n";
  }
  if (r.branching) {
    const auto& b = *r.branching;
    const auto num = [](const std::optional<double>& v) { return v ? fmt::format("{:.4f}", *v) : "none"; };
    out += fmt::format("branching parameter: sigma = {} (binarised {}; critical at 1){}\n", num(b.sigma),
                       num(b.sigma_binary), b.status.message.empty() ? "" : "; " + b.status.message);
  }
  out += fmt::format("({} probes, {:.2f} s)\n", r.probes, r.seconds);
  return out;
}

}  // namespace critlab::measure
