// critlab-engine: every critlab command, on libtorch. Users run `critlab`, the launcher (launcher.cpp), which
// starts this program with OMP_WAIT_POLICY already set; run directly, it sets the policy by re-executing
// itself.
#include "engine.h"

#include <c10/util/Exception.h>

#include <iostream>
#include <map>

#include "critlab/core/runtime.h"

int main(int argc, char** argv) {
  critlab::reexec_with_passive_openmp(argv);  // lets libtorch's and OpenBLAS's thread pools share the cores
  using namespace critlab::cli;
  CLI::App app{"critlab " + critlab::version() + ": criticality instruments for deep networks"};
  app.name("critlab");
  app.require_subcommand(1);
  app.set_version_flag("--version", critlab::version());
  const std::map<std::string, Runner (*)(CLI::App&)> adders{
      {"train", add_train},           {"measure", add_measure},
      {"theory", add_theory},         {"powerlaw", add_powerlaw},
      {"avalanches", add_avalanches}, {"graph", add_graph},
      {"experiment", add_experiment}, {"bench", add_bench}};
  std::vector<std::pair<CLI::App*, Runner>> commands;
  for (const auto& c : command_list()) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    commands.emplace_back(sub, adders.at(c.name)(*sub));
  }
  // libtorch's own errors keep their own exit code (4) and drop the C++ backtrace.
  return run_app(app, commands, argc, argv, [](const Runner& run) {
    try {
      return run();
    } catch (const c10::Error& e) {
      std::cerr << "critlab: libtorch error: " << e.what_without_backtrace() << std::endl;
      return 4;
    }
  });
}
