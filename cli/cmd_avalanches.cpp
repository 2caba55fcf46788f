#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/data/dataset.h"
#include "critlab/io/files.h"
#include "critlab/io/numbers.h"
#include "critlab/io/plot.h"
#include "critlab/measure/avalanches.h"
#include "critlab/stats/avalanche.h"
#include "engine.h"

namespace critlab::cli {

Runner add_avalanches(CLI::App& cmd) {
  struct State {
    ModelFlags model;
    std::string run, series, out, data, device = "auto", kind = "perturbation";
    std::uint64_t seed = 0;
    std::int64_t probes = 1000;
    int threads = 0;
    bool json = false;
    measure::NetworkAvalancheOptions o;
    stats::AvalancheOptions ao;
  };
  auto s = std::make_shared<State>();
  add_model_flags(cmd, s->model);
  cmd.add_option("--run", s->run, "the last checkpoint of this run directory (model flags ignored)");
  cmd.add_option("--series", s->series, "instead of a network: a binned event series, one count per line");
  cmd.add_option("--kind", s->kind, "network avalanches: perturbation or activity")->capture_default_str();
  cmd.add_option("--seed", s->seed, "seed of a fresh model and of the perturbed units")
      ->capture_default_str()
      ->check(unsigned_check());
  cmd.add_option("--probes", s->probes, "Fashion-MNIST test images used as inputs")->capture_default_str();
  cmd.add_option("--repeats", s->o.repeats, "perturbed units per input")->capture_default_str();
  cmd.add_option("--perturbation", s->o.perturbation, "size of the input perturbation")
      ->capture_default_str();
  cmd.add_option("--threshold", s->o.threshold,
                 "a unit changed when |dh| > threshold * sd of the first hidden layer")
      ->capture_default_str();
  cmd.add_option("--activity-z", s->o.activity_z, "a unit is active above this z-score")
      ->capture_default_str();
  cmd.add_option("--bootstrap", s->ao.bootstrap, "CSN goodness-of-fit simulations for tau and tau_t")
      ->capture_default_str();
  cmd.add_option("--collapse-min", s->ao.collapse_min_duration, "shortest duration in the shape collapse")
      ->capture_default_str();
  cmd.add_option("--collapse-max", s->ao.collapse_max_duration, "longest duration in the shape collapse")
      ->capture_default_str();
  add_runtime_flags(cmd, {.device = &s->device, .threads = &s->threads, .data_dir = &s->data});
  cmd.add_option("--out", s->out, "output directory (default with --run: RUN/avalanches)");
  cmd.add_flag("--json", s->json, "print JSON");
  return [s]() {
    std::vector<stats::Avalanche> avalanches;
    nlohmann::json j;
    std::string out = s->out;
    // Created before the work: an unwritable --out fails at once, and a failure leaves no partial files.
    std::optional<io::StagedFiles> staged;
    if (!s->series.empty()) {
      if (!out.empty()) staged.emplace(out);
      avalanches = stats::avalanches_from_series(io::read_number_column(s->series));
      j["source"] = {{"series", s->series}};
    } else {
      const c10::Device device = resolve_device(s->device);
      configure_threads(s->threads);
      auto loaded = load_model_for_command(s->model, s->run, s->seed, device, "avalanches", &s->data, &out);
      j["source"] = loaded.source;
      if (!out.empty()) staged.emplace(out);
      auto& model = loaded.model;
      if (s->probes < 2 || s->probes > 10000) throw Error("--probes must be in [2, 10000]");
      // Every probe is perturbed `repeats` times, each run through every block beside the unperturbed pass.
      check_activation_memory(model, loaded.spec, static_cast<double>(s->probes), 2.0 + s->o.repeats,
                              "these avalanches", "lower --probes or --repeats");
      s->o.kind = from_string<measure::AvalancheKind>(s->kind);
      s->o.seed = s->seed;
      const auto fm = data::load_fashion_mnist(data::resolve_data_dir(s->data));
      const auto probes = data::stratified_subset(fm.test, s->probes).images.to(device);
      auto net = measure::network_avalanches(model, probes, s->o);
      avalanches = std::move(net.avalanches);
      j["kind"] = s->kind;
      j["reached_output"] = net.reached_output;
      j["died_at_input"] = net.died_at_input;
      j["layers"] = nlohmann::json::array();
      io::Table layers{{"layer", "units", "mean_active", "fluctuation", "susceptibility"}, {}};
      for (const auto& l : net.layers) {
        j["layers"].push_back(measure::to_json(l));
        layers.add_row({static_cast<double>(l.index), static_cast<double>(l.units), l.mean_active,
                        l.fluctuation, l.susceptibility});
      }
      if (staged)
        io::plot_lines(
            staged->path() / "plots", "susceptibility", layers, "layer",
            {{"susceptibility", "chi_l = N_l Var(rho_l)"}},
            {.title = "Susceptibility of the activity per layer", .xlabel = "layer", .ylabel = "chi"});
    }
    if (avalanches.empty())
      throw Error("no avalanches were found; lower --threshold or raise --perturbation");
    const auto analysis = stats::analyse_avalanches(avalanches, s->ao);
    j["analysis"] = stats::to_json(analysis);
    if (staged) {
      stats::write_avalanche_files(staged->path(), avalanches, analysis);
      io::write_json(staged->path() / "avalanches.json", j);
      staged->commit("avalanches.json");
    }
    if (s->json) {
      print(j.dump(2));
      return 0;
    }
    auto show = [](const stats::PowerLawFit& f) {
      return f.ok() ? fmt::format("{:.3f} +- {:.3f} (xmin {:g}, {} in tail)", f.alpha, f.alpha_se, f.xmin,
                                  f.n_tail)
                    : "no fit (" + f.status.message + ")";
    };
    print(fmt::format("{} avalanches", analysis.count));
    if (j.contains("reached_output"))
      print(fmt::format("  cut off by the depth: {}; perturbations that died at once: {}",
                        j["reached_output"].get<long>(), j["died_at_input"].get<long>()));
    print("  size exponent tau:       " + show(analysis.size_fit));
    print("  duration exponent tau_t: " + show(analysis.duration_fit));
    print(fmt::format(
        "  <S>(T) ~ T^gamma: gamma = {:.3f} +- {:.3f}; crackling prediction (tau_t-1)/(tau-1) = {:.3f}",
        analysis.gamma.value_or(std::nan("")), analysis.gamma_se.value_or(std::nan("")),
        analysis.gamma_predicted.value_or(std::nan(""))));
    print(analysis.collapse.ok() ? fmt::format("  shape collapse exponent: {:.3f} (spread {:.3g})",
                                               analysis.collapse.exponent, analysis.collapse.spread)
                                 : "  shape collapse: " + analysis.collapse.status.message);
    if (!out.empty()) print("  tables and plots written to " + out);
    return 0;
  };
}

}  // namespace critlab::cli
