// Independent commands run as child processes, a few at a time: the survey's measurements and the zoo's
// trainings. A child that crashes, hangs or runs out of memory costs only its own job; every child dies with
// the parent (PR_SET_PDEATHSIG), so a killed survey leaves nothing running.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace critlab::io {

struct ProcessJob {
  std::vector<std::string> argv;      // argv[0] is the program's path
  std::filesystem::path stdout_path;  // the child's standard output and error go to these files
  std::filesystem::path stderr_path;
  bool exclusive = false;  // runs alone (e.g. a large model that uses every core)
};

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  int signal = 0;      // the signal that ended it, else 0
  bool timed_out = false;
  bool started = true;  // false: the program could not be executed (exit code 127 from the child)
  double seconds = 0;
};

// Runs `jobs` in order, at most `parallel` at once (an exclusive job waits for the others and runs alone),
// killing any that runs longer than `timeout_s`. `on_done(i, result)` is called in the calling thread as job
// i finishes. Throws critlab::Error when a process cannot be created at all.
void run_processes(const std::vector<ProcessJob>& jobs, int parallel, double timeout_s,
                   const std::function<void(std::size_t, const ProcessResult&)>& on_done);

// The whole of a file a child may or may not have written (its output, a run's summary.json), or "" when it
// is missing, unreadable or larger than `max_bytes`.
std::string read_file_or_empty(const std::filesystem::path& path,
                               std::uintmax_t max_bytes = std::uintmax_t{64} << 20);

// Why a child that did not exit with 0 failed, in one line: timed out, could not be run, its own last line of
// stderr (without critlab's "critlab: error: " prefix), killed by SIGKILL (most likely out of memory),
// another signal, or its exit status.
std::string describe_child_failure(const ProcessJob& job, const ProcessResult& result,
                                   const std::string& stderr_text, double timeout_s);

}  // namespace critlab::io
