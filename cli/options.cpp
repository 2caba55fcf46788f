#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "critlab/core/error.h"
#include "critlab/core/resources.h"
#include "critlab/nn/torchscript.h"
#include "critlab/train/run.h"
#include "engine.h"

namespace critlab::cli {

void add_model_flags(CLI::App& cmd, ModelFlags& f) {
  cmd.add_option("--arch", f.arch, "architecture: " + valid_names<Arch>())->capture_default_str();
  cmd.add_option("--depth", f.spec.depth, "hidden layers (mlp), conv blocks (cnn), blocks per stage (resnet)")
      ->capture_default_str();
  cmd.add_option("--width", f.spec.width, "hidden units (mlp) or first-stage channels; 0 = 256 / 32 / 16")
      ->capture_default_str();
  cmd.add_option("--activation", f.activation, "activation: " + valid_names<Activation>())
      ->capture_default_str();
  cmd.add_option("--norm", f.norm, "normalisation: " + valid_names<Norm>())->capture_default_str();
  cmd.add_flag("--residual", f.spec.residual, "skip connections around equal-width MLP layers");
  cmd.add_option("--init", f.init,
                 "initialisation: " + valid_names<Init>() +
                     " (auto: he for relu, xavier otherwise; "
                     "gaussian if --sigma-w/--sigma-b are given)")
      ->capture_default_str();
  f.sigma_w = cmd.add_option("--sigma-w", f.spec.sigma_w, "weight scale: W ~ N(0, sigma_w^2 / fan_in)")
                  ->capture_default_str();
  f.sigma_b =
      cmd.add_option("--sigma-b", f.spec.sigma_b, "bias scale: b ~ N(0, sigma_b^2)")->capture_default_str();
}

nn::ModelSpec resolve_model_flags(ModelFlags& f) {
  nn::ModelSpec s = f.spec;
  s.arch = from_string<Arch>(f.arch);
  s.activation = from_string<Activation>(f.activation);
  s.norm = from_string<Norm>(f.norm);
  s.init = from_string<Init>(f.init);
  if (s.init == Init::kAuto && (f.sigma_w->count() > 0 || f.sigma_b->count() > 0)) s.init = Init::kGaussian;
  std::string err;
  if (!s.IsValid(&err)) throw Error(err);
  return s;
}

LoadedModel load_model_for_command(ModelFlags& flags, const std::string& run, std::uint64_t seed,
                                   const c10::Device& device, const std::string& out_subdir,
                                   std::string* data_dir, std::string* out) {
  LoadedModel m;
  if (!run.empty()) {
    auto loaded = train::load_run(run, device);
    m.spec = loaded.spec;
    m.model = loaded.model;
    m.source = {{"run", run}, {"epoch", loaded.epoch}};
    if (data_dir->empty()) *data_dir = loaded.options.data_dir;
    if (out->empty()) *out = (std::filesystem::path(run) / out_subdir).string();
  } else {
    m.spec = resolve_model_flags(flags);
    m.model = nn::build_model(m.spec, seed);
    m.model->to(device);
    m.source = {{"model", nn::to_json(m.spec)}, {"seed", seed}};
  }
  return m;
}

void add_criticality_flags(CLI::App& cmd, train::CriticalityOptions& o, std::string& mode,
                           std::string& penalty, std::string& estimator, std::string& decay) {
  cmd.add_option("--criticality", mode,
                 "criticality-driven training: " + valid_names<CriticalityMode>() +
                     " (regularizer: fixed strength; controller: strength adapted to hold the distance below "
                     "--criticality-tolerance)")
      ->capture_default_str();
  cmd.add_option("--criticality-strength", o.strength, "lambda (the controller's starting value)")
      ->capture_default_str();
  cmd.add_option("--criticality-tolerance", o.tolerance, "controller: distance to criticality to stay below")
      ->capture_default_str();
  cmd.add_option("--criticality-penalty", penalty,
                 "penalty per layer: log-gain (ln g^2)^2, gain (g^2-1)^2, or lyapunov (end-to-end exponent)")
      ->capture_default_str();
  cmd.add_option(
         "--criticality-estimator", estimator,
         "gain estimator: auto (closed form where a layer allows, else hutchinson), analytic, hutchinson")
      ->capture_default_str();
  cmd.add_flag(
      "!--criticality-full-gradient", o.local_gradient,
      "differentiate each layer's gain through its input into all earlier layers too (default: local)");
  cmd.add_option("--criticality-target", o.target_gain, "target gain per layer")->capture_default_str();
  cmd.add_option("--criticality-sub-batch", o.sub_batch, "examples per step for the stochastic estimator")
      ->capture_default_str();
  cmd.add_option("--criticality-probes", o.probes, "Hutchinson probe vectors per example")
      ->capture_default_str();
  cmd.add_option("--criticality-every", o.every,
                 "lazy regularisation: apply the penalty (lambda x K) or the controller every K steps")
      ->capture_default_str();
  cmd.add_option("--criticality-warmup", o.warmup_steps, "steps over which lambda ramps up from 0")
      ->capture_default_str();
  cmd.add_option("--criticality-decay", decay, "lambda after warm-up: " + valid_names<Decay>())
      ->capture_default_str();
  cmd.add_option("--criticality-layers", o.layers, "block indices to regulate (default: every hidden block)")
      ->delimiter(',');
}

void resolve_criticality_flags(train::CriticalityOptions& o, const std::string& mode,
                               const std::string& penalty, const std::string& estimator,
                               const std::string& decay) {
  o.mode = from_string<CriticalityMode>(mode);
  o.penalty = from_string<Penalty>(penalty);
  o.estimator = from_string<measure::GainMethod>(estimator);
  o.decay = from_string<Decay>(decay);
  std::string err;
  if (!o.IsValid(&err)) throw Error(err);
}

void check_activation_memory(nn::LayerStack& model, const nn::ModelSpec& spec, double examples, double copies,
                             const std::string& what, const std::string& fix) {
  // One example through the network counts the floats each example holds across the blocks.
  std::vector<std::int64_t> shape{1};
  shape.insert(shape.end(), spec.input_shape.begin(), spec.input_shape.end());
  double per_example = 0;
  {
    nn::EvalModeGuard eval(*model);
    torch::NoGradGuard no_grad;
    const auto device = model->parameters().front().device();
    for (const auto& tap : model->forward_tapped(torch::zeros(shape, torch::TensorOptions().device(device))))
      per_example += static_cast<double>(tap.output.numel());
  }
  check_memory(examples * per_example * copies * 4.0, what, fix);
}

void add_kill_flags(CLI::App& cmd, KillFlags& f) {
  cmd.add_option("--test-kill-at-step", f.at_step)->group("");
  cmd.add_option("--test-kill-after-epoch", f.after_epoch)->group("");
}

train::TrainCallbacks kill_callbacks(const KillFlags& f) {
  struct Kill : train::TrainCallback {
    KillFlags f;
    explicit Kill(KillFlags flags) : f(flags) {}
    void on_step(std::int64_t step, nn::LayerStack&) override {
      if (step == f.at_step) std::_Exit(137);
    }
    void on_epoch_end(std::int64_t epoch, nn::LayerStack&) override {
      if (epoch == f.after_epoch) std::_Exit(137);
    }
  };
  if (f.at_step < 0 && f.after_epoch < 0) return {};
  return {std::make_shared<Kill>(f)};
}

LoadedModel import_model_for_command(const std::string& file, const std::string& input_shape,
                                     bool need_input_shape, const c10::Device& device,
                                     nlohmann::json* import_info) {
  auto imported = nn::import_torchscript(file, device);
  LoadedModel loaded;
  if (need_input_shape) {
    loaded.spec.input_shape =
        input_shape.empty() ? nn::infer_input_shape(imported) : parse_shape(input_shape, "--input-shape");
    if (loaded.spec.input_shape.empty())
      throw Error(file +
                  ": the network starts with a convolution; give one input's shape with --input-shape C,H,W");
    nn::check_input_shape(imported, loaded.spec.input_shape, device);
  }
  loaded.model = imported.stack;
  if (import_info) *import_info = nn::to_json(imported);
  loaded.source = {{"model_file", file}};
  return loaded;
}

}  // namespace critlab::cli
