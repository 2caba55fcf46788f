// Built-in benchmarks (`critlab bench`): figures measured in one process, with ratios taken in the same
// run because the machines are shared and noisy. Every figure is the median of `repeats` timed rounds.
#pragma once
#include <nlohmann/json_fwd.hpp>

namespace critlab::bench {

struct BenchOptions {
  int repeats = 5;  // timed rounds per figure (median reported)
  int threads = 0;  // 0 = all cores
  std::string device = "cpu";
  bool quick = false;  // smaller workloads (for smoke tests)
  bool IsValid(std::string* error) const;
};

// {sgemm_gflops, mlp_train: {...}, online: {...}, measure: {...}, runtime: {...}}
nlohmann::json run_benchmarks(const BenchOptions& options);

}  // namespace critlab::bench
