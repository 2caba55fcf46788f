// Helpers shared by the tests: running the critlab binary, temporary directories, data availability.
#pragma once
#include <exception>
#include <filesystem>
#include <string>

#include "critlab/core/error.h"

namespace critlab::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `critlab <args>` (a shell-quoted argument string), with `env` prepended (e.g. "CRITLAB_DATA=/x").
CommandResult run_cli(const std::string& args, const std::string& env = "");

// The message of the critlab::Error that `f` throws; "" when it throws none, and "NOT A critlab::Error: ..."
// for any other exception (a finding: library and reader errors must be critlab::Error).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("NOT A critlab::Error: ") + e.what();
  }
  return "";
}

// The path of the critlab launcher under test, for tests that drive it from a shell script.
std::string critlab_bin();

// Runs `script` with /bin/sh; returns the exit status (-1 if it did not exit normally).
int run_shell(const std::string& script);

// A fresh empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The Fashion-MNIST directory the tests use (CRITLAB_DATA or the Debian location).
std::filesystem::path fashion_dir();

// Writes `text` to dir/name and returns the path.
std::filesystem::path write_file(const std::filesystem::path& dir, const std::string& name,
                                 const std::string& text);

// A command that failed on bad input: exit code 2 and exactly one line on stderr containing `needle`.
void expect_one_line_error(const CommandResult& r, const std::string& needle);

}  // namespace critlab::test
