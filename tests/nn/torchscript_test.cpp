// TorchScript import on files saved by Debian's python3-torch (tests/python/make_fixtures.py, run at build
// time into CRITLAB_FIXTURES): block boundaries, eval mode, mean-field numbers on a network built in PyTorch,
// and bad files through the command line.
#include "critlab/nn/torchscript.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "critlab/io/npy.h"
#include "critlab/measure/criticality.h"
#include "critlab/measure/spectra.h"
#include "critlab/measure/theory.h"
#include "critlab/nn/model.h"
#include "test_util.h"

using namespace critlab;

namespace {

std::string fixture(const std::string& name) { return std::string(CRITLAB_FIXTURES) + "/" + name; }

// Exports a critlab stack to TorchScript through PyTorch itself (tests/python/export_critlab.py rebuilds each
// block as a stage of an nn.Sequential from its describe() and its tensors) and imports the file.
nn::ImportedModel round_trip(nn::LayerStack& stack, const std::filesystem::path& dir) {
  nlohmann::json blocks = nlohmann::json::array();
  for (std::size_t b = 0; b < stack->size(); ++b) {
    const auto& block = stack->block(b);
    std::vector<std::string> names;
    auto save = [&](const std::string& name, const at::Tensor& t) {
      io::write_npy(dir / ("b" + std::to_string(b) + "." + name + ".npy"), t.detach());
      names.push_back(name);
    };
    for (const auto& p : block->named_parameters()) save(p.key(), p.value());
    for (const auto& p : block->named_buffers())
      if (p.key().find("num_batches_tracked") == std::string::npos) save(p.key(), p.value());
    blocks.push_back({{"describe", block->describe()}, {"tensors", names}});
  }
  std::ofstream(dir / "blocks.json") << blocks.dump();
  const std::string cmd =
      std::string(CRITLAB_PYTHON) + " " + CRITLAB_TEST_PYTHON_DIR + "/export_critlab.py " + dir.string();
  EXPECT_EQ(test::run_shell(cmd), 0) << cmd;
  return nn::import_torchscript((dir / "model.pt").string(), torch::kCPU);
}

void expect_rel(double got, double want, double rel, const std::string& what) {
  EXPECT_LE(std::abs(got - want), rel * std::max(1.0, std::abs(want)))
      << what << ": " << got << " vs " << want;
}

// Every figure of two reports on the same probes agrees to `rel`.
void expect_same_report(const measure::CriticalityReport& got, const measure::CriticalityReport& want,
                        double rel) {
  ASSERT_EQ(got.layers.size(), want.layers.size());
  for (std::size_t l = 0; l < want.layers.size(); ++l) {
    expect_rel(got.layers[l].gain_sq, want.layers[l].gain_sq, rel, "gain_sq " + std::to_string(l));
    EXPECT_EQ(got.layers[l].readout, want.layers[l].readout) << l;
  }
  expect_rel(got.distance_to_criticality, want.distance_to_criticality, rel, "distance");
  ASSERT_TRUE(got.lyapunov && want.lyapunov);
  ASSERT_EQ(got.lyapunov->exponents.size(), want.lyapunov->exponents.size());
  for (std::size_t i = 0; i < want.lyapunov->exponents.size(); ++i)
    expect_rel(got.lyapunov->exponents[i], want.lyapunov->exponents[i], rel, "lyapunov " + std::to_string(i));
  ASSERT_TRUE(got.dynamic_range && want.dynamic_range);
  EXPECT_EQ(got.dynamic_range->status.code, want.dynamic_range->status.code);
  ASSERT_EQ(got.dynamic_range->map.size(), want.dynamic_range->map.size());
  for (std::size_t i = 0; i < want.dynamic_range->map.size(); ++i)
    expect_rel(got.dynamic_range->map[i], want.dynamic_range->map[i], rel, "layer map");
  ASSERT_TRUE(got.branching && want.branching);
  ASSERT_EQ(got.branching->sigma.has_value(), want.branching->sigma.has_value());
  ASSERT_EQ(got.branching->sigma_binary.has_value(), want.branching->sigma_binary.has_value());
  if (want.branching->sigma) expect_rel(*got.branching->sigma, *want.branching->sigma, rel, "sigma");
  if (want.branching->sigma_binary)
    expect_rel(*got.branching->sigma_binary, *want.branching->sigma_binary, rel, "sigma_binary");
}

}  // namespace

TEST(TorchScriptImport, FlatSequentialIsOneBlockPerAffineMapAndRunsInEvalMode) {
  auto m = nn::import_torchscript(fixture("conv_bn.pt"), torch::kCPU);
  EXPECT_EQ(m.layout, "chain");
  ASSERT_EQ(m.blocks.size(), 3u);
  EXPECT_EQ(m.blocks[0], "0:Conv2d+1:BatchNorm2d+2:ReLU");
  EXPECT_EQ(m.blocks[1], "3:Conv2d+4:ReLU+5:Flatten");
  EXPECT_EQ(m.blocks[2], "6:Linear");
  // PyTorch's own eval-mode outputs: batch norm with its (non-trivial) running statistics.
  const auto x = io::read_npy(fixture("conv_bn_x.npy"));
  const auto y = io::read_npy(fixture("conv_bn_y.npy"));
  torch::NoGradGuard no_grad;
  m.stack->train();  // measures put the stack in eval mode themselves; the import must not depend on it
  m.stack->eval();
  EXPECT_TRUE(torch::allclose(m.stack->forward(x), y, 1e-5, 1e-6));
  // Block by block, the chain composes to the whole.
  EXPECT_TRUE(torch::allclose(m.stack->block(2)->forward(m.stack->forward_until(x, 2)), y, 1e-5, 1e-6));
  EXPECT_TRUE(nn::infer_input_shape(m).empty());  // a convolution first: the shape must be given
  nn::check_input_shape(m, {1, 8, 8}, torch::kCPU);
  EXPECT_NE(test::error_of([&] {
              nn::check_input_shape(m, {3, 8, 8}, torch::kCPU);
            }).find("[1,3,8,8]"),
            std::string::npos);
}

TEST(TorchScriptImport, MangledSequentialAndPlainModule) {
  // Every nn.Sequential scripted after the first in a process is ___torch_mangle_N.Sequential.
  auto second = nn::import_torchscript(fixture("second_sequential.pt"), torch::kCPU);
  EXPECT_EQ(second.layout, "chain");
  EXPECT_EQ(second.blocks, (std::vector<std::string>{"0:Linear+1:Tanh", "2:Linear+3:Tanh", "4:Linear"}));
  EXPECT_EQ(nn::infer_input_shape(second), (std::vector<std::int64_t>{8}));
  // Not a Sequential: one block, input to output, and a note that says so.
  auto plain = nn::import_torchscript(fixture("plain_module.pt"), torch::kCPU);
  EXPECT_EQ(plain.layout, "single-block");
  EXPECT_EQ(plain.stack->size(), 1u);
  bool noted = false;
  for (const auto& n : plain.notes) noted |= n.find("one block") != std::string::npos;
  EXPECT_TRUE(noted);
}

// Must-show 2: a random Gaussian tanh MLP built in PyTorch (width 512, depth 20, sigma_w 1.5, sigma_b 0.1)
// measured through the import: gain^2 of the square layers from the fifth on against mean-field chi_1, and
// the largest Lyapunov exponent against (1/2) ln chi_1.
TEST(TorchScriptImport, PyTorchTanhMlpMatchesMeanField) {
  auto m = nn::import_torchscript(fixture("tanh_20x512.pt"), torch::kCPU);
  ASSERT_EQ(m.stack->size(), 21u);  // 20 tanh layers and the readout
  torch::manual_seed(1);
  const auto probes = torch::randn({64, 512});
  measure::MeasureOptions o;
  o.with_dynamic_range = false;
  o.with_branching = false;
  const auto r = measure::measure_criticality(m.stack, probes, o);
  const double chi1 = measure::mean_field(Activation::kTanh, 1.5, 0.1).chi1;
  EXPECT_NEAR(chi1, 1.12905, 1e-4);
  double sum = 0;
  for (std::size_t l = 4; l < 20; ++l) sum += r.layers[l].gain_sq;
  const double mean_gain_sq = sum / 16;
  EXPECT_NEAR(mean_gain_sq / chi1, 1.0, 0.05) << mean_gain_sq;
  ASSERT_TRUE(r.lyapunov);
  const double lambda_theory = 0.5 * std::log(chi1);
  EXPECT_NEAR(r.lyapunov->exponents[0], lambda_theory, 0.02 + 0.1 * lambda_theory);
  // The tanh layers' products go analytically or by forward AD, never silently wrong: every block says how.
  for (const auto& g : r.layers) EXPECT_FALSE(g.method.empty());
}

TEST(BadInput, TorchScriptFilesAndInputShapes) {
  for (const auto& [file, why] : std::vector<std::pair<std::string, std::string>>{
           {"not_torchscript.pt", "cannot be loaded as TorchScript"},
           {"truncated.pt", "cannot be loaded as TorchScript"},
           {"state_dict.pt", "cannot be loaded as TorchScript"},
           {"missing.pt", "missing.pt"}}) {
    const auto r = test::run_cli("measure --json --model " + fixture(file));
    test::expect_one_line_error(r, why);
    EXPECT_TRUE(r.out.empty()) << file;  // no partial JSON
  }
  const auto conv = fixture("conv_bn.pt");
  for (const auto& [args, why] : std::vector<std::pair<std::string, std::string>>{
           {"--input-shape 3,8,8", "rejects inputs of shape [1,3,8,8]"},
           {"--input-shape 1,0,8", "--input-shape must be positive sizes"},
           {"--input-shape 1,-8,8", "--input-shape must be positive sizes"},
           {"--input-shape 1,8,x", "--input-shape must be positive sizes"},
           {"", "give one input's shape with --input-shape"},
           {"--probe-source /nonexistent/probes", "--probe-source must be"},
           {"--probe-source " + fixture("not_torchscript.pt"), "not_torchscript.pt"}}) {
    const auto r = test::run_cli("measure --json --model " + conv + " " + args);
    test::expect_one_line_error(r, why);
    EXPECT_TRUE(r.out.empty()) << args;
  }
}

TEST(BadInput, SpectraOfANetworkWithoutWeightMatrices) {
  for (const auto& [file, why] : std::vector<std::pair<std::string, std::string>>{
           {"norm_only.pt", "no weight matrices"},
           {"no_weights.pt", "has no parameters"},
           {"truncated.pt", "cannot be loaded as TorchScript"}}) {
    const auto r = test::run_cli("spectra --json --model " + fixture(file));
    test::expect_one_line_error(r, why);
    EXPECT_TRUE(r.out.empty()) << file;
  }
}

// Must-show 1: a critlab MLP and a critlab ResNet (batch norm with non-trivial running statistics), exported
// to TorchScript by PyTorch and imported back, measure as the native stacks do, to 1e-5, on the same probes
// with the same seed; so do their weight spectra.
TEST(TorchScriptImport, CritlabModelsRoundTripThroughPyTorch) {
  for (const Arch arch : {Arch::kMlp, Arch::kResNet}) {
    SCOPED_TRACE(to_string(arch));
    nn::ModelSpec spec;
    spec.arch = arch;
    spec.activation = Activation::kTanh;
    spec.depth = arch == Arch::kMlp ? 4 : 1;
    spec.width = arch == Arch::kMlp ? 48 : 4;
    spec.norm = arch == Arch::kMlp ? Norm::kNone : Norm::kBatchNorm;
    spec.input_shape =
        arch == Arch::kMlp ? std::vector<std::int64_t>{1, 6, 6} : std::vector<std::int64_t>{3, 8, 8};
    auto stack = nn::build_model(spec, 7);
    {
      torch::NoGradGuard no_grad;
      for (const auto& b : stack->named_buffers())
        if (b.key().find("running_mean") != std::string::npos)
          b.value().uniform_(-0.3, 0.3);
        else if (b.key().find("running_var") != std::string::npos)
          b.value().uniform_(0.5, 2.0);
    }
    test::TempDir dir;
    auto imported = round_trip(stack, dir.path());
    ASSERT_EQ(imported.stack->size(), stack->size());
    torch::manual_seed(3);
    std::vector<std::int64_t> shape{24};
    shape.insert(shape.end(), spec.input_shape.begin(), spec.input_shape.end());
    const auto probes = torch::randn(shape);
    {
      torch::NoGradGuard no_grad;
      stack->eval();
      EXPECT_TRUE(torch::allclose(imported.stack->forward(probes), stack->forward(probes), 1e-5, 1e-6));
    }
    measure::MeasureOptions o;
    o.lyapunov.k = 4;
    const auto native = measure::measure_criticality(stack, probes, o);
    const auto other = measure::measure_criticality(imported.stack, probes, o);
    expect_same_report(other, native, 1e-5);
    const auto sn = measure::weight_spectra(stack), si = measure::weight_spectra(imported.stack);
    ASSERT_EQ(sn.layers.size(), si.layers.size());
    for (std::size_t i = 0; i < sn.layers.size(); ++i) {
      EXPECT_EQ(sn.layers[i].shape, si.layers[i].shape);
      expect_rel(*si.layers[i].fit.log_norm, *sn.layers[i].fit.log_norm, 1e-9, "log_norm");
      EXPECT_EQ(si.layers[i].fit.alpha.has_value(), sn.layers[i].fit.alpha.has_value());
      if (sn.layers[i].fit.alpha) expect_rel(*si.layers[i].fit.alpha, *sn.layers[i].fit.alpha, 1e-9, "alpha");
    }
  }
}

// Probes from .npy files: a batch file, or a directory of single inputs; the files give an imported
// network its input shape. The batch file's five inputs give the numbers of the same inputs in a directory.
TEST(MeasureCli, ProbesFromNpyFilesSetTheInputShape) {
  const auto conv = fixture("conv_bn.pt");
  const auto batch = test::run_cli("measure --json --no-spectra --model " + conv + " --probe-source " +
                                   fixture("conv_bn_x.npy"));
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  const auto jb = nlohmann::json::parse(batch.out);
  EXPECT_EQ(jb["probes"].get<int>(), 5);
  test::TempDir dir;
  const auto x = io::read_npy(fixture("conv_bn_x.npy"));
  for (int i = 0; i < 5; ++i) io::write_npy(dir.path() / ("p" + std::to_string(i) + ".npy"), x[i]);
  const auto one_by_one =
      test::run_cli("measure --json --no-spectra --model " + conv + " --probe-source " + dir.path().string());
  ASSERT_EQ(one_by_one.exit_code, 0) << one_by_one.err;
  const auto jd = nlohmann::json::parse(one_by_one.out);
  for (std::size_t l = 0; l < jb["layers"].size(); ++l)
    EXPECT_DOUBLE_EQ(jd["layers"][l]["gain_sq"].get<double>(), jb["layers"][l]["gain_sq"].get<double>());
  // A file of another shape: one line naming both shapes.
  io::write_npy(dir.path() / "p9.npy", torch::zeros({1, 4, 4}));
  test::expect_one_line_error(
      test::run_cli("measure --json --model " + conv + " --probe-source " + dir.path().string()), "p9.npy");
  test::expect_one_line_error(
      test::run_cli("measure --json --model " + conv + " --input-shape 1,7,7 --probe-source " +
                    fixture("conv_bn_x.npy")),
      "inputs of shape [1,8,8], but the network takes [1,7,7]");
}
