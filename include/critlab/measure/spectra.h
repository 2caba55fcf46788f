// Weight-spectrum (ESD) metrics of every weight matrix of a stack, WeightWatcher-compatible
// (stats/esd.h has the fit and its conventions).
//
// Which matrices: every block's weights() (each parameter of two or more dimensions). A 2-D weight [out, in]
// is one matrix. A weight of more dimensions whose first size is above 1 is a kernel [out, in, k1, ...]
// (Conv1d/2d/3d, depthwise ones included): its k1*k2*... slices W[:, :, i, j, ...] are matrices of their own
// and their eigenvalues are pooled into one spectrum, as WeightWatcher does for Conv2d. A weight of three or
// more dimensions starting with 1 (a [1, 197, 768] positional embedding, a [1, 1, 768] class token) has its
// leading sizes of 1 squeezed away: a matrix if two dimensions remain, skipped if it is a vector.
//
// The eigenvalues of W^T W (the squared singular values of W), from the smaller of the Gram matrices W^T W
// and W W^T by a symmetric eigensolver (torch::linalg_eigvalsh), batched over slices, in double precision, on
// the weight's device, one weight after another (BLAS and LAPACK thread each one); then the power-law fits
// run in parallel across the intra-op threads.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "critlab/nn/stack.h"
#include "critlab/stats/esd.h"

namespace critlab::measure {

struct SpectraOptions {
  stats::EsdFitOptions fit;
  bool IsValid(std::string* error) const { return fit.IsValid(error); }
};

struct LayerSpectrum {
  std::size_t block = 0;             // index of the block in the stack
  std::string name;                  // "block<i>.<parameter path>", e.g. "block3.conv1.weight"
  std::vector<std::int64_t> shape;   // the weight's shape
  std::int64_t matrices = 1;         // slices pooled (kh*kw for a Conv2d)
  std::vector<std::int64_t> matrix;  // one slice's [rows, cols]
  std::vector<double> eigenvalues;   // ascending, every slice's, before the fit's cutoff
  stats::EsdFit fit;
};

struct SpectraReport {
  std::vector<LayerSpectrum> layers;
  double seconds = 0;
};

// The eigenvalues of W^T W for one weight, pooled over slices as described above, ascending; empty for a
// weight that is not a matrix. `matrices` and `matrix` receive the slice count and one slice's shape.
std::vector<double> weight_eigenvalues(const at::Tensor& weight, std::int64_t* matrices = nullptr,
                                       std::vector<std::int64_t>* matrix = nullptr);

// Every weight matrix of the stack, input to output. Throws critlab::Error when the stack holds none.
SpectraReport weight_spectra(nn::LayerStack& stack, const SpectraOptions& options = {});

// {layers: [{block, name, shape, matrices, num_evals, num_dropped, alpha, alpha_weighted, alpha_se, xmin, ks,
//  n_tail, log_norm, log_spectral_norm, stable_rank, lambda_max, status, ...}], summary: {layers, fitted,
//  mean_alpha, mean_alpha_weighted, mean_log_norm, ...}, seconds}
nlohmann::json to_json(const SpectraReport& r);

// j["spectra"] = to_json(weight_spectra(stack)), or {status: not-applicable, message} for a stack with no
// weight matrix: the spectra that `measure` reports beside the gains.
void add_spectra(nlohmann::json& j, nn::LayerStack& stack);

// Writes tables/spectra.csv (one row per weight matrix; empty cells where a figure is null) and
// plots/alpha.png (alpha and log_spectral_norm by weight matrix, input to output) under `dir`.
void write_spectra_files(const std::filesystem::path& dir, const SpectraReport& r);

// One line per weight matrix.
std::string brief_report(const SpectraReport& r);

}  // namespace critlab::measure
