#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/core/status.h"
#include "critlab/data/dataset.h"
#include "critlab/io/files.h"
#include "critlab/io/npy.h"
#include "critlab/measure/criticality.h"
#include "critlab/measure/spectra.h"
#include "critlab/measure/theory.h"
#include "engine.h"

namespace critlab::cli {

namespace {
// Mean-field prediction for the hidden layers where the theory applies (plain Gaussian-initialised MLPs).
nlohmann::json mean_field_reference(const nn::ModelSpec& spec) {
  const auto scales = nn::mean_field_scales(spec);
  if (!scales)
    return {{"status", to_string(StatusCode::kNotApplicable)},
            {"message", "mean-field theory covers plain Gaussian-initialised MLPs only"}};
  auto j = measure::to_json(measure::mean_field(spec.activation, scales->sigma_w, scales->sigma_b));
  j["sigma_w"] = scales->sigma_w;
  j["sigma_b"] = scales->sigma_b;
  return j;
}
// Probes from files: an .npy file holding a batch [B, ...], or a directory whose .npy files, in name order,
// hold one input [...] each (all of one shape). The first n inputs are used (all when there are fewer).
at::Tensor read_probe_files(const std::filesystem::path& path, std::int64_t n) {
  at::Tensor probes;
  if (std::filesystem::is_directory(path)) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(path))
      if (e.is_regular_file() && e.path().extension() == ".npy") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.size() > static_cast<std::size_t>(n)) files.resize(n);
    std::vector<at::Tensor> inputs;
    for (const auto& f : files) {
      inputs.push_back(io::read_npy(f).to(torch::kFloat32));
      if (inputs.back().sizes() != inputs.front().sizes())
        throw Error(fmt::format(
            "--probe-source {}: {} has shape [{}], {} has [{}]; one input per file, all of "
            "one shape",
            path.string(), files.front().filename().string(), fmt::join(inputs.front().sizes(), ","),
            f.filename().string(), fmt::join(inputs.back().sizes(), ",")));
    }
    probes = inputs.empty() ? at::Tensor() : torch::stack(inputs);
  } else {
    probes = io::read_npy(path).to(torch::kFloat32);
    if (probes.dim() < 2)
      throw Error(fmt::format("--probe-source {}: expected a batch [B, ...] of inputs, got shape [{}]",
                              path.string(), fmt::join(probes.sizes(), ",")));
    probes = probes.narrow(0, 0, std::min(probes.size(0), n));
  }
  if (!probes.defined() || probes.size(0) < 2)
    throw Error(fmt::format("--probe-source {}: at least 2 inputs are needed, found {}", path.string(),
                            probes.defined() ? probes.size(0) : 0));
  if (!torch::isfinite(probes).all().item<bool>())
    throw Error(fmt::format("--probe-source {}: the inputs hold NaN or infinite values", path.string()));
  return probes;
}

}  // namespace

Runner add_measure(CLI::App& cmd) {
  struct State {
    ModelFlags model;
    std::string run, model_file, input_shape, out, data, device = "auto", method = "auto",
                                                         probe_source = "fashion";
    std::uint64_t seed = 0;
    std::int64_t probes = 256;
    int threads = 0;
    bool json = false, no_lyapunov = false, no_dr = false, no_branching = false, no_spectra = false,
         input_response = false;
    measure::MeasureOptions mo;
  };
  auto s = std::make_shared<State>();
  add_model_flags(cmd, s->model);
  cmd.add_option("--run", s->run, "measure the last checkpoint of this run directory (model flags ignored)");
  cmd.add_option(
      "--model", s->model_file,
      "measure a TorchScript network saved with torch.jit.save (an nn.Sequential is measured block by "
      "block; model flags ignored)");
  cmd.add_option("--input-shape", s->input_shape,
                 "with --model: one input's shape without the batch, e.g. 3,64,64 (default: the first Linear "
                 "layer's in_features)");
  cmd.add_option("--seed", s->seed, "seed of a freshly initialised model")
      ->capture_default_str()
      ->check(unsigned_check());
  cmd.add_option("--probes", s->probes, "probe inputs")->capture_default_str();
  cmd.add_option("--probe-source", s->probe_source,
                 valid_names<data::ProbeSource>() +
                     " (stratified test images, or N(0, 1) inputs), or a path: an .npy file [B, ...] or a "
                     "directory of .npy files, one input each")
      ->capture_default_str();
  cmd.add_option("--gain-method", s->method, "auto, analytic, exact, hutchinson")->capture_default_str();
  cmd.add_option("--hutchinson-probes", s->mo.gains.probes, "probe vectors per input")->capture_default_str();
  cmd.add_option("--lyapunov-k", s->mo.lyapunov.k, "Lyapunov exponents to compute")->capture_default_str();
  cmd.add_option("--lyapunov-inputs", s->mo.lyapunov.max_inputs, "inputs for the Lyapunov spectrum (0 = all)")
      ->capture_default_str();
  cmd.add_flag("--no-lyapunov", s->no_lyapunov, "skip the Lyapunov spectrum");
  cmd.add_flag("--no-dynamic-range", s->no_dr, "skip the dynamic range");
  cmd.add_flag("--no-branching", s->no_branching, "skip the branching parameter");
  cmd.add_flag(
      "--input-response", s->input_response,
      "also scan the last hidden layer's response to input perturbations from 1e-12 to 1e3 (a finite-depth "
      "range that does not locate criticality; see README)");
  cmd.add_flag("--no-spectra", s->no_spectra,
               "skip the weight spectra (one eigendecomposition per weight matrix)");
  add_runtime_flags(cmd, {.device = &s->device, .threads = &s->threads, .data_dir = &s->data});
  cmd.add_option("--out", s->out,
                 "write criticality.json, tables and plots here (default with --run: RUN/measure)");
  cmd.add_flag("--json", s->json, "print JSON");
  return [s]() {
    const c10::Device device = resolve_device(s->device);
    const int threads = configure_threads(s->threads);
    if (s->probes < 2 || s->probes > 100000) throw Error("--probes must be in [2, 100000]");
    s->mo.gains.method = from_string<measure::GainMethod>(s->method);
    s->mo.with_lyapunov = !s->no_lyapunov;
    s->mo.with_dynamic_range = !s->no_dr;
    s->mo.with_branching = !s->no_branching;
    s->mo.with_input_response = s->input_response;
    s->mo.gains.seed = s->seed;
    s->mo.lyapunov.seed = s->seed;
    s->mo.dynamic_range.seed = s->seed;
    s->mo.input_response.seed = s->seed;
    s->mo.branching.seed = s->seed;

    if (!s->model_file.empty() && !s->run.empty()) throw Error("give --model or --run, not both");
    if (s->model_file.empty() && !s->input_shape.empty()) throw Error("--input-shape goes with --model");
    std::string out = s->out;
    // Probes from files decide the input shape of an imported network unless --input-shape gives it.
    std::optional<at::Tensor> file_probes;
    std::string input_shape = s->input_shape;
    const auto& source_names = EnumNames<data::ProbeSource>::names;
    if (std::none_of(std::begin(source_names), std::end(source_names),
                     [&](const auto& n) { return n.second == s->probe_source; })) {
      if (!std::filesystem::exists(s->probe_source))
        throw Error(fmt::format("--probe-source must be {} or an .npy file or directory; got '{}'",
                                valid_names<data::ProbeSource>(), s->probe_source));
      file_probes = read_probe_files(s->probe_source, s->probes);
      if (input_shape.empty()) input_shape = fmt::format("{}", fmt::join(file_probes->sizes().slice(1), ","));
    }
    LoadedModel loaded;
    nlohmann::json import_info;
    if (!s->model_file.empty()) {
      loaded = import_model_for_command(s->model_file, input_shape, true, device, &import_info);
      loaded.source["seed"] = s->seed;
    } else {
      loaded = load_model_for_command(s->model, s->run, s->seed, device, "measure", &s->data, &out);
    }
    auto& [spec, model, source] = loaded;
    // Taps of every probe, the Hutchinson probe vectors and the Lyapunov tangents (k per input).
    check_activation_memory(model, spec, static_cast<double>(s->probes),
                            3.0 + s->mo.gains.probes + static_cast<double>(s->mo.lyapunov.k),
                            "this measurement", "lower --probes, --hutchinson-probes or --lyapunov-k");
    at::Tensor probes;
    if (file_probes) {
      if (file_probes->sizes().slice(1).vec() != spec.input_shape)
        throw Error(fmt::format("--probe-source {}: inputs of shape [{}], but the network takes [{}]",
                                s->probe_source, fmt::join(file_probes->sizes().slice(1), ","),
                                fmt::join(spec.input_shape, ",")));
      probes = *file_probes;
    } else {
      probes = data::probe_inputs(from_string<data::ProbeSource>(s->probe_source), s->probes,
                                  spec.input_shape, s->data, s->seed + 1);
    }
    probes = probes.to(device, model->parameters().front().scalar_type());

    // Created before the work: an unwritable --out fails now, and a failure leaves no partial files.
    std::optional<io::StagedFiles> staged;
    if (!out.empty()) staged.emplace(out);
    const auto report = measure::measure_criticality(model, probes, s->mo);
    auto j = measure::to_json(report);
    // The weight spectra beside the gains: the same blocks, read from their weights instead of their maps.
    if (s->no_spectra)
      j["spectra"] = {{"status", to_string(StatusCode::kNotRun)}, {"message", "--no-spectra"}};
    else
      measure::add_spectra(j, model);
    j["source"] = source;
    if (import_info.is_null())
      j["mean_field"] = mean_field_reference(spec);
    else {
      j["mean_field"] = {{"status", to_string(StatusCode::kNotApplicable)},
                         {"message", "an imported TorchScript model has no mean-field theory in critlab"}};
      j["import"] = import_info;
    }
    j["runtime"] = runtime_metadata(device, threads);
    if (staged) {
      measure::write_report_files(staged->path(), report);
      io::write_json(staged->path() / "criticality.json", j);
      staged->commit("criticality.json");
    }
    if (s->json)
      print(j.dump(2));
    else {
      print(measure::brief_report(report));
      if (j["spectra"].contains("summary")) {
        const auto& sum = j["spectra"]["summary"];
        print(sum["mean_alpha"].is_number()
                  ? fmt::format(
                        "weight spectra: mean alpha {:.3f} over {} of {} weight matrices (critlab spectra "
                        "for each)",
                        sum["mean_alpha"].get<double>(), sum["fitted"].get<int>(), sum["layers"].get<int>())
                  : fmt::format(
                        "weight spectra: no power-law fit among {} weight matrices (critlab spectra for "
                        "each)",
                        sum["layers"].get<int>()));
      }
      if (!import_info.is_null())
        for (const auto& note : import_info["notes"]) print("note: " + note.get<std::string>());
      if (j["mean_field"].contains("chi1") && j["mean_field"]["chi1"].is_number())
        print(fmt::format("mean-field reference: chi_1 = {:.4f}, ln(chi_1)/2 = {:+.4f}",
                          j["mean_field"]["chi1"].get<double>(), j["mean_field"]["lyapunov"].get<double>()));
      if (!out.empty()) print("tables and plots written to " + out);
    }
    return 0;
  };
}

}  // namespace critlab::cli
