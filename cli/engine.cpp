// critlab-engine: every critlab command, on libtorch. Users run `critlab`, the launcher (launcher.cpp), which
// starts this program with OMP_WAIT_POLICY already set; run directly, it sets the policy by re-executing
// itself.
#include "engine.h"

#include <c10/util/Exception.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <new>

#include "critlab/core/runtime.h"

int main(int argc, char** argv) {
  critlab::reexec_with_passive_openmp(argv);  // lets libtorch's and OpenBLAS's thread pools share the cores
  critlab::configure_allocator();             // no page faults on every step's fresh tensors
  using namespace critlab::cli;
  CLI::App app{"critlab " + critlab::version() + ": criticality instruments for deep networks"};
  app.name("critlab");
  app.require_subcommand(1);
  app.set_version_flag("--version", critlab::version());
  const std::map<std::string, Runner (*)(CLI::App&)> adders{
      {"train", add_train},           {"measure", add_measure},
      {"theory", add_theory},         {"powerlaw", add_powerlaw},
      {"avalanches", add_avalanches}, {"graph", add_graph},
      {"experiment", add_experiment}, {"bench", add_bench},
      {"branching", add_branching},   {"reference", add_reference},
      {"spectra", add_spectra},       {"survey", add_survey},
      {"landscape", add_landscape},   {"flux", add_flux}};
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
      const std::string what = e.what_without_backtrace();
      // An allocation the machine cannot hold is a problem of the inputs' sizes, said as such.
      if (what.find("can't allocate memory") != std::string::npos) {
        std::cerr << "critlab: error: out of memory (" << what.substr(0, what.find('\n'))
                  << "); reduce the sizes the command was given" << std::endl;
        return 2;
      }
      std::cerr << "critlab: libtorch error: " << what.substr(0, what.find('\n')) << std::endl;
      return 4;
    } catch (const std::filesystem::filesystem_error& e) {
      std::cerr << "critlab: error: " << e.what() << std::endl;  // names the path and the reason
      return 2;
    } catch (const std::bad_alloc&) {
      std::cerr << "critlab: error: out of memory; reduce the sizes the command was given" << std::endl;
      return 2;
    }
  });
}
