// critlab: measure, monitor and control criticality in deep networks. See README.md.
#include <iostream>

#include <c10/util/Exception.h>

#include "commands.h"
#include "critlab/core/error.h"
#include "critlab/core/runtime.h"

int main(int argc, char** argv) {
  critlab::reexec_with_passive_openmp(argv);  // lets libtorch's and OpenBLAS's thread pools share the cores
  CLI::App app{"critlab " + critlab::version() + ": criticality instruments for deep networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", critlab::version());
  std::vector<std::pair<CLI::App*, critlab::cli::Runner>> commands;
  auto add = [&](const char* name, const char* help, auto adder) {
    CLI::App* sub = app.add_subcommand(name, help);
    commands.emplace_back(sub, adder(*sub));
  };
  add("train", "train a network on Fashion-MNIST into a run directory", critlab::cli::add_train);
  add("measure", "measure a network's distance to criticality (gains, Lyapunov spectrum, dynamic range)",
      critlab::cli::add_measure);
  add("theory", "mean-field theory: q*, chi_1 and the edge of chaos", critlab::cli::add_theory);
  add("powerlaw", "fit a power law to a column of numbers (Clauset, Shalizi & Newman) and compare alternatives",
      critlab::cli::add_powerlaw);
  add("avalanches", "avalanches in a network (perturbation cascades, activity) or a binned series, with exponents",
      critlab::cli::add_avalanches);
  add("graph", "correlation graphs, the connectivity transition, critical neurons and pruning of a --record run",
      critlab::cli::add_graph);
  add("experiment", "the papers' experiments (critical-training), resumable into a directory",
      critlab::cli::add_experiment);
  add("bench", "built-in benchmarks, printed as JSON", critlab::cli::add_bench);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : commands)
      if (sub->parsed()) return run();
  } catch (const critlab::DivergenceError& e) {
    std::cerr << "critlab: error: " << e.what() << std::endl;
    return 3;
  } catch (const critlab::Error& e) {
    std::cerr << "critlab: error: " << e.what() << std::endl;
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "critlab: libtorch error: " << e.what_without_backtrace() << std::endl;
    return 4;
  } catch (const std::exception& e) {
    std::cerr << "critlab: error: " << e.what() << std::endl;
    return 1;
  }
  return 1;
}
