// A one-line progress bar on stderr, drawn only when stdout is a terminal (quiet in pipes, logs and CI).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace critlab::io {

class Progress {
 public:
  // `total` units of work; `label` prefixes the bar. Enabled only if stdout and stderr are TTYs.
  Progress(std::string label, std::int64_t total);
  ~Progress();
  // Advances to `done` units; `status` is printed after the bar (e.g. "loss 0.412"). Redraws at most 10/s.
  void update(std::int64_t done, const std::string& status = "");
  void finish();
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  std::int64_t total_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace critlab::io
