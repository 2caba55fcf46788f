// The command line's commands that run on libtorch (critlab-engine), and the flag groups they share.
#pragma once
#include <c10/core/Device.h>

#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "critlab/nn/model.h"
#include "critlab/train/callbacks.h"
#include "critlab/train/criticality_reg.h"

namespace critlab::cli {

Runner add_train(CLI::App& app);
Runner add_measure(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_avalanches(CLI::App& app);
Runner add_graph(CLI::App& app);
Runner add_experiment(CLI::App& app);
Runner add_spectra(CLI::App& app);
Runner add_landscape(CLI::App& app);

// Model flags (--arch, --depth, --width, --activation, --norm, --residual, --init, --sigma-w, --sigma-b).
// Enum flags are parsed into strings and resolved by resolve_model_flags (one spelling, clear errors).
struct ModelFlags {
  nn::ModelSpec spec;
  std::string arch = "mlp", activation = "relu", norm = "none", init = "auto";
  CLI::Option* sigma_w = nullptr;
  CLI::Option* sigma_b = nullptr;
};
void add_model_flags(CLI::App& cmd, ModelFlags& flags);
// Validates and returns the spec; giving --sigma-w or --sigma-b with --init auto selects gaussian.
nn::ModelSpec resolve_model_flags(ModelFlags& flags);

// The network a measuring command looks at: the last checkpoint of --run DIR, or a fresh model from the
// model flags and --seed. With --run, an empty `data_dir` becomes the run's and an empty `out` becomes
// RUN/<out_subdir>.
struct LoadedModel {
  nn::ModelSpec spec;
  nn::LayerStack model{nullptr};
  nlohmann::json source;  // {run, epoch} or {model, seed}
};
LoadedModel load_model_for_command(ModelFlags& flags, const std::string& run, std::uint64_t seed,
                                   const c10::Device& device, const std::string& out_subdir,
                                   std::string* data_dir, std::string* out);

// The network of --model FILE.pt (TorchScript). With `need_input_shape`, spec.input_shape is --input-shape
// (`input_shape` text) or what the first Linear implies, and the network is run once on it so that a shape
// it rejects fails now, in one line. `import_info` receives nn::to_json of the import.
LoadedModel import_model_for_command(const std::string& file, const std::string& input_shape,
                                     bool need_input_shape, const c10::Device& device,
                                     nlohmann::json* import_info);

// Refuses, before any work, a command whose activations would not fit in memory: `examples` inputs through
// `model`, each holding every block's output `copies` times (taps, tangents, probe vectors), as floats.
void check_activation_memory(nn::LayerStack& model, const nn::ModelSpec& spec, double examples, double copies,
                             const std::string& what, const std::string& fix);

// Criticality-training flags (--criticality, --criticality-strength, --criticality-tolerance, ...), shared by
// train and the experiments; enum-valued ones are parsed into the strings and resolved afterwards.
void add_criticality_flags(CLI::App& cmd, train::CriticalityOptions& o, std::string& mode,
                           std::string& penalty, std::string& estimator, std::string& decay);
void resolve_criticality_flags(train::CriticalityOptions& o, const std::string& mode,
                               const std::string& penalty, const std::string& estimator,
                               const std::string& decay);

// Hidden flags with which the test suite simulates a kill (an abrupt _Exit(137)) at a chosen moment of a
// training run: the library reads no environment; the hooks are callbacks the CLI attaches.
struct KillFlags {
  std::int64_t at_step = -1;      // --test-kill-at-step N: after optimiser step N
  std::int64_t after_epoch = -1;  // --test-kill-after-epoch N: after epoch N's checkpoint is committed
};
void add_kill_flags(CLI::App& cmd, KillFlags& flags);
train::TrainCallbacks kill_callbacks(const KillFlags& flags);

}  // namespace critlab::cli
