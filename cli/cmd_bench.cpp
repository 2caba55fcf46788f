#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "critlab/bench/bench.h"
#include "engine.h"

namespace critlab::cli {

Runner add_bench(CLI::App& cmd) {
  auto o = std::make_shared<bench::BenchOptions>();
  auto json = std::make_shared<bool>(false);
  cmd.add_option("--repeats", o->repeats, "timed rounds per figure (median reported)")->capture_default_str();
  add_runtime_flags(cmd, {.device = &o->device, .threads = &o->threads, .data_dir = nullptr});
  cmd.add_flag("--quick", o->quick, "small workloads (smoke test)");
  cmd.add_flag("--json", *json, "print JSON (default: a short table)");
  return [o, json]() {
    const auto r = bench::run_benchmarks(*o);
    if (*json) {
      print(r.dump(2));
      return 0;
    }
    print(fmt::format("BLAS: {} ({} threads)", r["runtime"]["blas"].get<std::string>(),
                      r["runtime"]["threads"].get<int>()));
    print(fmt::format("sgemm 1024^3:                         {:8.1f} GFLOP/s",
                      r["sgemm_gflops"].get<double>()));
    const auto& m = r["mlp_train"];
    print(fmt::format(
        "train 784-1024x4-10, batch 256:       {:8.0f} examples/s, {:.1f} GFLOP/s ({:.2f} of sgemm)",
        m["examples_per_second"].get<double>(), m["gflops"].get<double>(),
        m["ratio_to_sgemm"].get<double>()));
    const auto& py = r["mlp_train_vs_pytorch"];
    if (py["critlab_speedup"].is_number())
      print(fmt::format("same step in PyTorch-in-Python:       {:8.1f} ms at its best ({}): critlab {:.2f}x",
                        py["pytorch_best_step_ms"].get<double>(),
                        py["pytorch_best_setting"].get<std::string>(), py["critlab_speedup"].get<double>()));
    else
      print("same step in PyTorch-in-Python:       not run (" + py["message"].get<std::string>() + ")");
    const auto& on = r["online"];
    print(fmt::format("online 784-100x3-10, batch 1, 1 core: {:8.0f} examples/s (autograd {:.0f}, {:.1f}x)",
                      on["examples_per_second"].get<double>(),
                      on["autograd_examples_per_second"].get<double>(),
                      on["speedup_over_autograd"].get<double>()));
    const auto& me = r["measure"];
    print(fmt::format("full measurement:                     {:8.1f} ms = {:.1f} training steps",
                      me["full_ms"].get<double>(), me["full_over_train_step"].get<double>()));
    print(fmt::format("monitor measurement:                  {:8.1f} ms = {:.1f} training steps",
                      me["monitor_ms"].get<double>(), me["monitor_over_train_step"].get<double>()));
    const auto& pl = r["powerlaw"];
    print(fmt::format("power law, full xmin scan:            {:8.2f} s for {} discrete samples",
                      pl["fit_seconds"].get<double>(), pl["fit_samples"].get<long>()));
    print(fmt::format("power law, bootstrap:                 {:8.2f} s for {} simulations on {} samples",
                      pl["bootstrap_seconds"].get<double>(), pl["bootstrap_simulations"].get<int>(),
                      pl["bootstrap_samples"].get<long>()));
    const auto& vs = r["powerlaw_vs_poweRlaw"];
    const auto times = [](const nlohmann::json& v) {
      return v.is_number() ? fmt::format("{:.1f}x", v.get<double>()) : std::string("n/a");
    };
    if (vs["poweRlaw_over_critlab"].is_object())
      print(fmt::format(
          "moby, poweRlaw's time over critlab's: fit {}, comparisons {}, bootstrap {} per "
          "simulation",
          times(vs["poweRlaw_over_critlab"]["fit"]), times(vs["poweRlaw_over_critlab"]["comparisons"]),
          times(vs["poweRlaw_over_critlab"]["bootstrap_per_simulation"])));
    else
      print("moby against poweRlaw:                not run (" + vs["message"].get<std::string>() + ")");
    return 0;
  };
}

}  // namespace critlab::cli
