#include "critlab/io/processes.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

namespace critlab::io {

namespace {

using Clock = std::chrono::steady_clock;

// fork + exec with stdout and stderr to files. Between fork and exec only async-signal-safe calls: the parent
// may be multi-threaded (libtorch's pools in the engine).
pid_t spawn(const ProcessJob& job) {
  std::vector<char*> args;
  for (const auto& a : job.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string out = job.stdout_path.string(), err = job.stderr_path.string();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw Error(fmt::format("cannot start {}: fork failed", job.argv.front()));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0) _exit(127);
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

std::string read_file_or_empty(const std::filesystem::path& path, std::uintmax_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return "";
  try {
    return read_text(path, max_bytes);
  } catch (const Error&) {
    return "";
  }
}

namespace {

// The last line of `text` that is not blank, or "".
std::string last_nonblank_line(const std::string& text) {
  std::size_t end = text.size();
  while (end > 0) {
    const std::size_t start = text.rfind('\n', end - 1);
    const std::size_t from = start == std::string::npos ? 0 : start + 1;
    const std::string line = text.substr(from, end - from);
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
    if (start == std::string::npos) break;
    end = start;
  }
  return "";
}

}  // namespace

std::string describe_child_failure(const ProcessJob& job, const ProcessResult& r,
                                   const std::string& stderr_text, double timeout_s) {
  if (r.timed_out) return fmt::format("timed out after {:.0f} s", timeout_s);
  if (!r.started) return fmt::format("cannot run {}", job.argv.front());
  std::string line = last_nonblank_line(stderr_text);
  if (line.rfind("critlab: error: ", 0) == 0) line.erase(0, 16);
  if (!line.empty()) return line;
  if (r.signal == SIGKILL)
    return "killed by SIGKILL (usually the kernel's out-of-memory killer: lower --probes or --lyapunov-k)";
  return r.signal ? fmt::format("killed by signal {}", r.signal) : fmt::format("exit status {}", r.exit_code);
}

void run_processes(const std::vector<ProcessJob>& jobs, int parallel, double timeout_s,
                   const std::function<void(std::size_t, const ProcessResult&)>& on_done) {
  struct Running {
    pid_t pid;
    std::size_t job;
    Clock::time_point start;
  };
  std::vector<Running> running;
  parallel = std::max(1, parallel);
  std::size_t next = 0;
  while (next < jobs.size() || !running.empty()) {
    while (next < jobs.size()) {
      const bool exclusive_running = std::any_of(running.begin(), running.end(),
                                                 [&](const Running& r) { return jobs[r.job].exclusive; });
      if (exclusive_running || (jobs[next].exclusive && !running.empty()) ||
          static_cast<int>(running.size()) >= parallel)
        break;
      running.push_back({spawn(jobs[next]), next, Clock::now()});
      ++next;
    }
    bool reaped = false;
    for (auto it = running.begin(); it != running.end();) {
      int status = 0;
      ProcessResult r;
      r.seconds = std::chrono::duration<double>(Clock::now() - it->start).count();
      pid_t w = waitpid(it->pid, &status, WNOHANG);
      if (w == 0 && r.seconds > timeout_s) {
        kill(it->pid, SIGKILL);
        w = waitpid(it->pid, &status, 0);
        r.timed_out = true;
      }
      if (w == 0) {
        ++it;
        continue;
      }
      if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
      if (r.timed_out) r.exit_code = -1;
      r.started = r.exit_code != 127;
      const std::size_t job = it->job;
      it = running.erase(it);
      reaped = true;
      try {
        on_done(job, r);
      } catch (...) {  // leave no child behind an error
        for (const auto& other : running) kill(other.pid, SIGKILL), waitpid(other.pid, nullptr, 0);
        throw;
      }
    }
    if (!reaped && !running.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace critlab::io
