// The command line's shared pieces that need no libtorch (the launcher links only these; engine.h adds the
// rest). Each subcommand registers itself on the app and returns the function that runs it after parsing.
// Shared flag groups live in common.cpp (runtime) and options.cpp (model, criticality) so every command
// spells them the same way.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "critlab/core/progress.h"

namespace critlab::cli {

using Runner = std::function<int()>;

// Every subcommand, in the order `critlab --help` lists them. `engine`: it needs libtorch, so the launcher
// hands it to critlab-engine; the others run in the launcher itself.
struct CommandInfo {
  const char* name;
  const char* help;
  bool engine;
};
const std::vector<CommandInfo>& command_list();

// The torch-free commands.
Runner add_theory(CLI::App& app);
Runner add_powerlaw(CLI::App& app);
Runner add_branching(CLI::App& app);
Runner add_reference(CLI::App& app);
Runner add_survey(CLI::App& app);
Runner add_flux(CLI::App& app);

// Parses argv and runs the chosen command; turns every exception into one line on stderr and critlab's exit
// codes: 0 success, 2 bad input or unusable environment (every CLI parse error included, never CLI11's own
// codes), 3 training diverged, 4 a libtorch error (the engine's wrap), 1 anything else. `wrap` may translate
// a library's own exception type inside a runner. The top-level --help ends with kExitCodesHelp.
extern const char* const kExitCodesHelp;
using RunnerWrap = std::function<int(const Runner&)>;
int run_app(CLI::App& app, const std::vector<std::pair<CLI::App*, Runner>>& commands, int argc, char** argv,
            const RunnerWrap& wrap = {});

// The runtime flags, declared here once for every command: --device, --threads and --data, each only where
// its pointer is given, bound to the command's own fields.
struct RuntimeFlags {
  std::string* device = nullptr;
  int* threads = nullptr;
  std::string* data_dir = nullptr;
  const char* threads_help = "threads (0 = all cores)";
  const char* data_help = "Fashion-MNIST directory (default: $CRITLAB_DATA, then Debian's)";
};
void add_runtime_flags(CLI::App& cmd, const RuntimeFlags& flags);

// A check for unsigned 64-bit options such as seeds: digits only, at most 2^64 - 1. (CLI11 converts "-1" and
// "18446744073709551616" to 2^64 - 1 silently.)
CLI::Validator unsigned_check();

// "3,64,64" -> {3, 64, 64}: one input's shape. Throws critlab::Error naming `flag` unless every size is a
// positive whole number (at most 8 of them, each at most 2^31).
std::vector<std::int64_t> parse_shape(const std::string& text, const std::string& flag);

// A progress function that draws one bar per task on stderr when stdout and stderr are terminals, and does
// nothing otherwise (quiet in pipes, logs and CI).
ProgressFn terminal_progress();

// Prints `text` to stdout followed by a newline.
void print(const std::string& text);

// This program's own path (/proc/self/exe), for commands that run critlab in child processes.
std::filesystem::path self_executable();

}  // namespace critlab::cli
