// critlab: measure, monitor and control criticality in deep networks. See README.md.
//
// The launcher. It links no libtorch, so it starts in milliseconds: it answers --version, --help and the
// torch-free commands (theory, powerlaw, branching, reference, survey, flux) itself, and hands every other
// command to critlab-engine with the same arguments. It sets OMP_WAIT_POLICY=PASSIVE first (unless the user
// set it), because libgomp reads that variable when libtorch loads, before any code of the engine runs
// (core/runtime.h explains why passive).
#include <limits.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "commands.h"
#include "critlab/core/version.h"

namespace {

namespace fs = std::filesystem;

// critlab-engine beside this program (the build tree), else in ../libexec/critlab/ (an installed tree).
fs::path engine_path() {
  char self[PATH_MAX];
  const auto n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return {};
  self[n] = '\0';
  const fs::path dir = fs::path(self).parent_path();
  for (const auto& p : {dir / "critlab-engine", dir / ".." / "libexec" / "critlab" / "critlab-engine"})
    if (access(p.c_str(), X_OK) == 0) return p;
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace critlab::cli;
  // The subcommand is the first argument that is not an option (the top level has only --help and --version).
  const char* sub = nullptr;
  for (int i = 1; i < argc && !sub; ++i)
    if (argv[i][0] != '-') sub = argv[i];
  bool engine = false;
  for (const auto& c : command_list())
    if (sub && std::strcmp(sub, c.name) == 0) engine = c.engine;
  if (engine) {
    const auto path = engine_path();
    if (path.empty()) {
      std::cerr << "critlab: error: critlab-engine was not found beside " << argv[0]
                << " or in ../libexec/critlab/; reinstall critlab" << std::endl;
      return 2;
    }
    setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
    execv(path.c_str(), argv);
    std::cerr << "critlab: error: cannot run " << path.string() << ": " << std::strerror(errno) << std::endl;
    return 2;
  }

  CLI::App app{"critlab " + critlab::version() + ": criticality instruments for deep networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", critlab::version());
  std::vector<std::pair<CLI::App*, Runner>> commands;
  for (const auto& c : command_list()) {
    CLI::App* cmd = app.add_subcommand(c.name, c.help);
    if (std::strcmp(c.name, "theory") == 0)
      commands.emplace_back(cmd, add_theory(*cmd));
    else if (std::strcmp(c.name, "powerlaw") == 0)
      commands.emplace_back(cmd, add_powerlaw(*cmd));
    else if (std::strcmp(c.name, "branching") == 0)
      commands.emplace_back(cmd, add_branching(*cmd));
    else if (std::strcmp(c.name, "reference") == 0)
      commands.emplace_back(cmd, add_reference(*cmd));
    else if (std::strcmp(c.name, "survey") == 0)
      commands.emplace_back(cmd, add_survey(*cmd));
    else if (std::strcmp(c.name, "flux") == 0)
      commands.emplace_back(cmd, add_flux(*cmd));
    // Engine commands never get here (they were handed over above); they are listed for --help.
  }
  return run_app(app, commands, argc, argv);
}
