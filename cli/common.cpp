#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "commands.h"
#include "critlab/core/error.h"
#include "critlab/io/progress.h"

namespace critlab::cli {

std::filesystem::path self_executable() {
  char self[PATH_MAX];
  const auto n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) throw Error("cannot find critlab's own program (/proc/self/exe is unreadable)");
  self[n] = '\0';
  return self;
}

const std::vector<CommandInfo>& command_list() {
  static const std::vector<CommandInfo> commands{
      {"train", "train a network on Fashion-MNIST into a run directory", true},
      {"measure", "measure a network's distance to criticality (gains, Lyapunov spectrum, dynamic range)",
       true},
      {"spectra",
       "weight-spectrum metrics of every weight matrix (WeightWatcher's alpha, norms, stable rank)", true},
      {"theory", "mean-field theory: q*, chi_1 and the edge of chaos", false},
      {"powerlaw",
       "fit a power law to a column of numbers (Clauset, Shalizi & Newman) and compare alternatives", false},
      {"avalanches",
       "avalanches in a network (perturbation cascades, activity) or a binned series, with exponents", true},
      {"branching", "the branching ratio of an activity series (multistep regression, Wilting & Priesemann)",
       false},
      {"reference", "reference models simulated beside their exact mean field (kinouchi-copelli)", false},
      {"graph",
       "correlation graphs, the connectivity transition, critical neurons and pruning of a --record run",
       true},
      {"landscape",
       "the loss landscape: Hessian eigenvalues, trace and density, filter-normalised slices, local "
       "concentration, sharpness over training",
       true},
      {"flux",
       "probability flux, area-enclosing rates and entropy production of a trajectory (CSV), with CIs",
       false},
      {"survey",
       "measure the models of a manifest and test whether accuracy tracks criticality (Vock & Meisel's "
       "survey); or analyse a table",
       false},
      {"experiment",
       "the papers' experiments (critical-training, continual, phase-diagram, zoo), resumable into a "
       "directory",
       true},
      {"bench", "built-in benchmarks, printed as JSON", true},
  };
  return commands;
}

void add_runtime_flags(CLI::App& cmd, const RuntimeFlags& f) {
  if (f.device) cmd.add_option("--device", *f.device, "auto, cpu, cuda, cuda:N")->capture_default_str();
  if (f.threads)
    cmd.add_option("--threads", *f.threads, f.threads_help)
        ->capture_default_str()
        ->check(CLI::Range(0, 1024));
  if (f.data_dir) cmd.add_option("--data", *f.data_dir, f.data_help);
}

CLI::Validator unsigned_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text.empty() || text.size() > 20 ||
            !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }))
          return "'" + text + "' is not a whole number in [0, 2^64)";
        if (text.size() == 20 && text > "18446744073709551615") return "'" + text + "' is 2^64 or more";
        return {};
      },
      "UINT64");
}

std::vector<std::int64_t> parse_shape(const std::string& text, const std::string& flag) {
  std::vector<std::int64_t> shape;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    const bool digits =
        !part.empty() && part.size() <= 10 &&
        std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); });
    const std::int64_t value = digits ? std::stoll(part) : 0;
    if (!digits || value <= 0 || value > (std::int64_t{1} << 31))
      throw Error(flag + " must be positive sizes separated by commas, e.g. 3,64,64; got '" + text + "'");
    shape.push_back(value);
    if (end == text.size()) break;
    start = end + 1;
  }
  if (shape.size() > 8) throw Error(flag + " has more than 8 dimensions: '" + text + "'");
  return shape;
}

ProgressFn terminal_progress() {
  struct Bar {
    std::string task;
    std::unique_ptr<io::Progress> progress;
  };
  auto bar = std::make_shared<Bar>();
  return [bar](const ProgressEvent& e) {
    if (!bar->progress || bar->task != e.task) {
      bar->progress.reset();  // finishes the previous task's line
      bar->task = std::string(e.task);
      bar->progress = std::make_unique<io::Progress>(bar->task, e.total);
    }
    bar->progress->update(e.done, std::string(e.note));
    if (e.done >= e.total) bar->progress.reset();
  };
}

namespace {

// The deepest subcommand the user chose (e.g. `experiment continual`).
const CLI::App* chosen_command(const CLI::App& app) {
  for (const auto* sub : app.get_subcommands())
    if (sub->parsed()) return chosen_command(*sub);
  return &app;
}

// Library messages name option fields ("record_probes must be at least 2"); the command line names its flags.
// The leading field becomes the flag of the chosen command that sets it: '_' and '.' become '-', as the flags
// are spelled, except for the few flags named otherwise than their fields.
std::string name_flags(const CLI::App& app, const std::string& message) {
  std::size_t n = 0;
  while (n < message.size() &&
         (std::islower(static_cast<unsigned char>(message[n])) ||
          std::isdigit(static_cast<unsigned char>(message[n])) || message[n] == '_' || message[n] == '.'))
    ++n;
  if (n == 0 || n == message.size() || (message[n] != ' ' && message[n] != ':')) return message;
  const std::string field = message.substr(0, n);
  static const std::map<std::string, std::string> kShorterFlags{
      {"criticality.target_gain", "--criticality-target"},
      {"criticality.warmup_steps", "--criticality-warmup"},
      {"neurons.fraction", "--critical-fraction"},
      {"neurons.bins", "--bins"},
      {"prune_random_repeats", "--prune-repeats"},
      {"quadrature_points", "--quadrature"}};
  std::string flag = "--" + field;
  std::replace(flag.begin(), flag.end(), '_', '-');
  std::replace(flag.begin(), flag.end(), '.', '-');
  if (auto it = kShorterFlags.find(field); it != kShorterFlags.end()) flag = it->second;
  if (chosen_command(app)->get_option_no_throw(flag) == nullptr) return message;
  return flag + message.substr(n);
}

}  // namespace

const char* const kExitCodesHelp =
    "Exit codes: 0 success; 1 internal error (a bug, please report it); 2 bad input or an unusable "
    "environment (one line on stderr names the flag or file); 3 training diverged (a non-finite loss); "
    "4 a libtorch error.";

int run_app(CLI::App& app, const std::vector<std::pair<CLI::App*, Runner>>& commands, int argc, char** argv,
            const RunnerWrap& wrap) {
  app.footer(kExitCodesHelp);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version print and succeed; every real parse error (CLI11's own codes 101-115: a value
    // that does not convert, a missing or unknown option, ...) is one line and exit 2.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e) == 0 ? 0 : 2;
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::cerr << "critlab: error: " << message << " (--help lists the options)" << std::endl;
    return 2;
  }
  try {
    for (const auto& [sub, run] : commands)
      if (sub->parsed()) return wrap ? wrap(run) : run();
  } catch (const DivergenceError& e) {
    std::cerr << "critlab: error: " << e.what() << std::endl;
    return 3;
  } catch (const Error& e) {
    std::cerr << "critlab: error: " << name_flags(app, e.what()) << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "critlab: error: " << e.what() << std::endl;
    return 1;
  }
  return 1;
}

void print(const std::string& text) { std::cout << text << std::endl; }

}  // namespace critlab::cli
