// critlab spectra: WeightWatcher-compatible weight-spectrum metrics of every weight matrix of a network
// (measure/spectra.h, stats/esd.h).
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/io/files.h"
#include "critlab/measure/spectra.h"
#include "engine.h"

namespace critlab::cli {

Runner add_spectra(CLI::App& cmd) {
  struct State {
    ModelFlags model;
    std::string run, model_file, out, device = "cpu";
    std::uint64_t seed = 0;
    int threads = 0;
    bool json = false, ww_cutoff = false;
    measure::SpectraOptions so;
  };
  auto s = std::make_shared<State>();
  add_model_flags(cmd, s->model);
  cmd.add_option("--run", s->run, "the last checkpoint of this run directory (model flags ignored)");
  cmd.add_option("--model", s->model_file,
                 "a TorchScript network saved with torch.jit.save (model flags ignored)");
  cmd.add_option("--seed", s->seed, "seed of a freshly initialised model")
      ->capture_default_str()
      ->check(unsigned_check());
  cmd.add_option("--min-evals", s->so.fit.min_evals, "eigenvalues needed to fit a power law")
      ->capture_default_str();
  cmd.add_option("--alpha-max", s->so.fit.alpha_max, "fits steeper than this are reported as not-found")
      ->capture_default_str();
  cmd.add_flag(
      "--ww-cutoff", s->ww_cutoff,
      "drop eigenvalues <= 1e-5 before fitting, as WeightWatcher does (default: only round-off zeros)");
  add_runtime_flags(cmd, {.device = &s->device, .threads = &s->threads});
  cmd.add_option("--out", s->out, "write spectra.json, tables/spectra.csv and plots/alpha.png here");
  cmd.add_flag("--json", s->json, "print JSON");
  return [s]() {
    const c10::Device device = resolve_device(s->device);
    const int threads = configure_threads(s->threads);
    if (s->ww_cutoff) s->so.fit.absolute_cutoff = 1e-5;
    if (!s->model_file.empty() && !s->run.empty()) throw Error("give --model or --run, not both");
    std::string out = s->out;
    LoadedModel loaded;
    nlohmann::json import_info;
    if (!s->model_file.empty())
      loaded = import_model_for_command(s->model_file, "", false, device, &import_info);
    else {
      std::string data_dir;  // unused: spectra reads weights only
      loaded = load_model_for_command(s->model, s->run, s->seed, device, "spectra", &data_dir, &out);
    }
    std::optional<io::StagedFiles> staged;
    if (!out.empty()) staged.emplace(out);
    const auto report = measure::weight_spectra(loaded.model, s->so);
    auto j = measure::to_json(report);
    j["source"] = loaded.source;
    if (!import_info.is_null()) j["import"] = import_info;
    j["runtime"] = runtime_metadata(device, threads);
    if (staged) {
      measure::write_spectra_files(staged->path(), report);
      io::write_json(staged->path() / "spectra.json", j);
      staged->commit("spectra.json");
    }
    if (s->json)
      print(j.dump(2));
    else
      print(measure::brief_report(report));
    return 0;
  };
}

}  // namespace critlab::cli
