// Each subcommand registers itself on the app and returns the function that runs it after parsing.
// Shared flag groups (model, runtime) live in options.cpp so every command spells them the same way.
#pragma once
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "critlab/nn/model.h"

namespace critlab::cli {

using Runner = std::function<int()>;

Runner add_train(CLI::App& app);
Runner add_measure(CLI::App& app);
Runner add_theory(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_powerlaw(CLI::App& app);
Runner add_avalanches(CLI::App& app);

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

// Prints `text` to stdout followed by a newline.
void print(const std::string& text);

}  // namespace critlab::cli
