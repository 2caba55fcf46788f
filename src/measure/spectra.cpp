#include "critlab/measure/spectra.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <numeric>

#include "critlab/core/error.h"
#include "critlab/core/status.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/nn/torchscript.h"

namespace critlab::measure {

namespace {

struct NamedWeight {
  std::size_t block;
  std::string name;
  at::Tensor weight;
};

// Every weight the blocks report, named by its parameter path inside its block.
std::vector<NamedWeight> named_weights(nn::LayerStack& stack) {
  std::vector<NamedWeight> out;
  for (std::size_t b = 0; b < stack->size(); ++b) {
    const auto& block = stack->block(b);
    const auto params = block->named_parameters(/*recurse=*/true);
    for (const auto& w : block->weights()) {
      std::string name = nn::foreign_tensor_name(*block, w);  // an imported network's own names
      if (name.empty()) {
        name = "?";
        for (const auto& p : params)
          if (p.value().is_same(w)) name = p.key();
      }
      out.push_back({b, fmt::format("block{}.{}", b, name), w});
    }
  }
  return out;
}

// The weight as a batch of matrices [slices, rows, cols], or undefined when it is not a matrix.
at::Tensor as_matrices(const at::Tensor& w) {
  if (w.dim() == 2) return w.unsqueeze(0);
  if (w.dim() < 2) return {};
  if (w.size(0) > 1)  // a kernel [out, in, k...]: one slice per tap
    return w.reshape({w.size(0), w.size(1), -1}).permute({2, 0, 1});
  at::Tensor m = w;  // [1, ...]: an embedding or a token, its leading sizes of 1 squeezed away
  while (m.dim() > 1 && m.size(0) == 1) m = m.squeeze(0);
  if (m.dim() != 2) return {};
  return m.unsqueeze(0);
}

}  // namespace

std::vector<double> weight_eigenvalues(const at::Tensor& weight, std::int64_t* matrices,
                                       std::vector<std::int64_t>* matrix) {
  torch::NoGradGuard no_grad;
  const auto m = as_matrices(weight.detach());
  if (!m.defined()) return {};
  if (matrices) *matrices = m.size(0);
  if (matrix) *matrix = {m.size(1), m.size(2)};
  const auto md = m.to(torch::kFloat64);
  if (!torch::isfinite(md).all().item<bool>())
    return std::vector<double>(1, std::numeric_limits<double>::quiet_NaN());  // fit_esd: non-finite
  // The eigenvalues of the smaller Gram matrix (W^T W or W W^T, the same nonzero spectrum): a GEMM and a
  // symmetric eigensolver, 2-3 times faster than an SVD here (ResNet-18's 3x3 kernels, a 4096 x 9216 matrix).
  // In double precision they match s^2 to 1e-14 of lambda_max; zeros may come out as -1e-14 lambda_max, which
  // the fit drops as round-off.
  const auto gram = md.size(1) >= md.size(2) ? torch::matmul(md.transpose(1, 2), md)
                                             : torch::matmul(md, md.transpose(1, 2));
  auto lambda = torch::linalg_eigvalsh(gram).reshape({-1}).cpu().contiguous();
  std::vector<double> out(lambda.data_ptr<double>(), lambda.data_ptr<double>() + lambda.numel());
  std::sort(out.begin(), out.end());
  return out;
}

SpectraReport weight_spectra(nn::LayerStack& stack, const SpectraOptions& options) {
  std::string error;
  if (!options.IsValid(&error)) throw Error("spectra: " + error);
  const auto start = std::chrono::steady_clock::now();
  const auto weights = named_weights(stack);
  std::vector<LayerSpectrum> all(weights.size());
  // The SVDs one after another (LAPACK threads each one itself: OpenBLAS called from several threads at once
  // serialises on its own lock and ran 80 times slower here), then the fits, pure C++, across threads.
  for (std::size_t i = 0; i < weights.size(); ++i) {
    auto& l = all[i];
    l.block = weights[i].block;
    l.name = weights[i].name;
    l.shape = weights[i].weight.sizes().vec();
    l.eigenvalues = weight_eigenvalues(weights[i].weight, &l.matrices, &l.matrix);
  }
  at::parallel_for(0, static_cast<std::int64_t>(weights.size()), 1,
                   [&](std::int64_t begin, std::int64_t end) {
                     for (auto i = begin; i < end; ++i)
                       if (!all[i].eigenvalues.empty())
                         all[i].fit = stats::fit_esd(all[i].eigenvalues, options.fit);
                   });
  SpectraReport r;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (!all[i].eigenvalues.empty()) r.layers.push_back(std::move(all[i]));  // a matrix
  if (r.layers.empty())
    throw Error("spectra: the network has no weight matrices (no parameter with two or more dimensions)");
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

nlohmann::json to_json(const SpectraReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  double sum_alpha = 0, sum_alpha_w = 0, sum_log_norm = 0, sum_log_spec = 0;
  int fitted = 0, normed = 0;
  for (const auto& l : r.layers) {
    auto j = stats::to_json(l.fit);
    j["block"] = l.block;
    j["name"] = l.name;
    j["shape"] = l.shape;
    j["matrices"] = l.matrices;
    j["matrix"] = l.matrix;
    layers.push_back(std::move(j));
    if (l.fit.ok()) {
      ++fitted;
      sum_alpha += *l.fit.alpha;
      sum_alpha_w += *l.fit.alpha_weighted;
    }
    if (l.fit.log_norm) {
      ++normed;
      sum_log_norm += *l.fit.log_norm;
      sum_log_spec += *l.fit.log_spectral_norm;
    }
  }
  nlohmann::json summary{{"layers", r.layers.size()}, {"fitted", fitted}};
  // summary[key] = sum / n, or null with key_status = `none` when no matrix gave the figure.
  auto put_mean = [&](const char* key, double sum, int n, StatusCode none) {
    summary[key] = n > 0 ? nlohmann::json(sum / n) : nlohmann::json();
    if (n == 0) summary[std::string(key) + "_status"] = to_string(none);
  };
  put_mean("mean_alpha", sum_alpha, fitted, StatusCode::kNotFound);
  put_mean("mean_alpha_weighted", sum_alpha_w, fitted, StatusCode::kNotFound);
  put_mean("mean_log_norm", sum_log_norm, normed, StatusCode::kNonFinite);
  put_mean("mean_log_spectral_norm", sum_log_spec, normed, StatusCode::kNonFinite);
  return {{"layers", layers}, {"summary", summary}, {"seconds", r.seconds}};
}

void add_spectra(nlohmann::json& j, nn::LayerStack& stack) {
  try {
    j["spectra"] = to_json(weight_spectra(stack));
  } catch (const Error& e) {
    j["spectra"] = {{"status", to_string(StatusCode::kNotApplicable)}, {"message", e.what()}};
  }
}

void write_spectra_files(const std::filesystem::path& dir, const SpectraReport& r) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto cell = [&](const std::optional<double>& v) { return v ? *v : nan; };
  io::Table t{{"matrix", "block", "num_evals", "alpha", "alpha_se", "alpha_weighted", "xmin", "ks",
               "log_norm", "log_spectral_norm", "stable_rank", "lambda_max"},
              {}};
  for (std::size_t i = 0; i < r.layers.size(); ++i) {
    const auto& f = r.layers[i].fit;
    t.add_row({static_cast<double>(i), static_cast<double>(r.layers[i].block),
               static_cast<double>(f.num_evals), cell(f.alpha), cell(f.alpha_se), cell(f.alpha_weighted),
               cell(f.xmin), cell(f.ks), cell(f.log_norm), cell(f.log_spectral_norm), cell(f.stable_rank),
               cell(f.lambda_max)});
  }
  io::write_csv(dir / "tables" / "spectra.csv", t);
  io::plot_lines(dir / "plots", "alpha", t, "matrix",
                 {{"alpha", "power-law exponent alpha"}, {"log_spectral_norm", "log10 lambda_max"}},
                 {.title = "Weight spectra (WeightWatcher alpha; 2-6 is the heavy-tailed range)",
                  .xlabel = "weight matrix (input to output)",
                  .ylabel = "alpha",
                  .hlines = {2.0, 6.0}});
}

namespace {
// The status code, with the exponent a bound rejected (the JSON message has the whole story).
std::string short_status(const stats::EsdFit& f) {
  if (f.ok()) return "ok";
  const auto code = to_string(f.status.code);
  return f.alpha_unbounded ? fmt::format("{} (alpha {:.3g})", code, *f.alpha_unbounded) : code;
}
}  // namespace

std::string brief_report(const SpectraReport& r) {
  auto num = [](const std::optional<double>& v, const char* f) {
    return v ? fmt::format(fmt::runtime(f), *v) : std::string("-");
  };
  std::string s = fmt::format("{:<34} {:>14} {:>7} {:>7} {:>8} {:>8} {:>9} {:>8}  {}\n", "weight", "matrix",
                              "evals", "alpha", "+-se", "alpha_w", "log_norm", "st_rank", "status");
  for (const auto& l : r.layers) {
    const auto shape = l.matrices > 1 ? fmt::format("{}x{}x{}", l.matrices, l.matrix[0], l.matrix[1])
                                      : fmt::format("{}x{}", l.matrix[0], l.matrix[1]);
    s += fmt::format("{:<34} {:>14} {:>7} {:>7} {:>8} {:>8} {:>9} {:>8}  {}\n", l.name, shape,
                     l.fit.num_evals, num(l.fit.alpha, "{:.3f}"), num(l.fit.alpha_se, "{:.3f}"),
                     num(l.fit.alpha_weighted, "{:.3f}"), num(l.fit.log_norm, "{:.3f}"),
                     num(l.fit.stable_rank, "{:.2f}"), short_status(l.fit));
  }
  s += fmt::format("({} weight matrices, {:.2f} s)", r.layers.size(), r.seconds);
  return s;
}

}  // namespace critlab::measure
