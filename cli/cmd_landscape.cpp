// critlab landscape: the Hessian spectrum (top eigenvalues, trace, density), filter-normalised slices,
// interpolation between recorded steps, local concentration and sharpness over training, of a run or a
// TorchScript network (landscape/hessian.h, landscape/slices.h, landscape/sharpness.h).
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <string>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/data/dataset.h"
#include "critlab/graph/neurons.h"
#include "critlab/graph/recording.h"
#include "critlab/io/files.h"
#include "critlab/io/plot.h"
#include "critlab/io/table.h"
#include "critlab/landscape/hessian.h"
#include "critlab/landscape/sharpness.h"
#include "critlab/landscape/slices.h"
#include "critlab/train/run_config.h"
#include "engine.h"

namespace critlab::cli {

namespace {

// `n` class-stratified examples of a split, shaped for the model.
landscape::EvalSet examples_for(const data::Dataset& split, const std::string& name, std::int64_t n,
                                const std::vector<std::int64_t>& input_shape, const c10::Device& device) {
  const auto sub = data::stratified_subset(split, std::min(n, split.size()));
  std::vector<std::int64_t> shape{sub.size()};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  if (sub.images[0].numel() !=
      std::accumulate(input_shape.begin(), input_shape.end(), std::int64_t{1}, std::multiplies<>()))
    throw Error(
        fmt::format("the model takes inputs of shape {}, Fashion-MNIST images have 784 numbers: "
                    "landscape needs labelled data the model accepts",
                    fmt::join(input_shape, "x")));
  return {name, sub.images.reshape(shape).to(device), sub.labels.to(device)};
}

std::vector<double> grid(double lo, double hi, int points) {
  std::vector<double> g;
  for (int i = 0; i < points; ++i) g.push_back(points == 1 ? lo : lo + (hi - lo) * i / (points - 1));
  return g;
}

nlohmann::json not_run(const std::string& why) {
  return {{"status", to_string(StatusCode::kNotRun)}, {"message", why}};
}

}  // namespace

Runner add_landscape(CLI::App& cmd) {
  struct State {
    std::string run, model_file, input_shape, out, data, device = "cpu", loss = "cross-entropy",
                                                         split = "train", slice = "1d";
    std::int64_t step = -1, interpolate = -1, examples = 1000;
    landscape::LanczosOptions lanczos;
    landscape::TraceOptions trace;
    landscape::DensityOptions density;
    landscape::ConcentrationOptions conc;
    bool float64 = false, no_trace = false, with_density = false, include_bias = false, with_conc = false,
         with_sharpness = false, json = false;
    double slice_range = 1.0, critical_fraction = 0.1;
    int slice_points = 41, sharpness_iterations = 40, sharpness_trace = 0;
    std::uint64_t seed = 0;
    int threads = 0;
  };
  auto s = std::make_shared<State>();
  s->lanczos.k = 5;
  cmd.add_option("--run", s->run, "a run directory: its last checkpoint, or --step from its recording");
  cmd.add_option("--step", s->step, "a step recorded by train --record (default: the last checkpoint)");
  cmd.add_option("--model", s->model_file, "a TorchScript classifier saved with torch.jit.save");
  cmd.add_option("--input-shape", s->input_shape, "with --model: one input's shape, e.g. 1,28,28");
  cmd.add_option("--examples", s->examples,
                 "Fashion-MNIST examples (class-stratified) for the Hessian and each slice set")
      ->capture_default_str();
  cmd.add_option("--split", s->split, "the Hessian's examples: train or test")->capture_default_str();
  cmd.add_option("--loss", s->loss, valid_names<landscape::LossKind>())->capture_default_str();
  cmd.add_flag("--float64", s->float64, "Hessian-vector products in double precision");
  cmd.add_option("--top-k", s->lanczos.k, "top Hessian eigenvalues (Lanczos)")->capture_default_str();
  cmd.add_flag("--smallest", s->lanczos.smallest, "also the smallest eigenvalue (negative curvature)");
  cmd.add_option("--max-iterations", s->lanczos.max_iterations, "Lanczos steps at most")
      ->capture_default_str();
  cmd.add_option("--tol", s->lanczos.tol, "Lanczos residual tolerance, relative to the spectral scale")
      ->capture_default_str();
  cmd.add_option("--trace-probes", s->trace.max_probes, "Hutchinson probes at most")->capture_default_str();
  cmd.add_option("--trace-rel-se", s->trace.rel_se, "stop the trace once its SE is this fraction of it")
      ->capture_default_str();
  cmd.add_flag("--no-trace", s->no_trace, "skip the trace");
  cmd.add_flag("--density", s->with_density, "the spectral density by stochastic Lanczos quadrature");
  cmd.add_option("--density-vectors", s->density.vectors, "SLQ starting vectors")->capture_default_str();
  cmd.add_option("--density-steps", s->density.steps, "SLQ Lanczos steps per vector")->capture_default_str();
  cmd.add_option("--slice", s->slice, "filter-normalised slice: 1d, 2d or none")->capture_default_str();
  cmd.add_option("--slice-range", s->slice_range, "slice coordinates in [-R, R]")->capture_default_str();
  cmd.add_option("--slice-points", s->slice_points, "points per slice axis")->capture_default_str();
  cmd.add_flag("--include-bias", s->include_bias,
               "directions include biases and normalisation parameters (Li et al.'s code: set to the "
               "parameter); default: zero there");
  cmd.add_option("--interpolate", s->interpolate,
                 "the loss on the line from this recorded step to the measured parameters");
  cmd.add_flag("--concentration", s->with_conc,
               "local concentration: the loss rise over random directions at each radius, over all weights "
               "and (with a recording) the weights among critical neurons against as many random ones");
  cmd.add_option("--radii", s->conc.radii, "concentration radii")->capture_default_str();
  cmd.add_option("--directions", s->conc.directions, "concentration: random directions")
      ->capture_default_str();
  cmd.add_option("--critical-fraction", s->critical_fraction, "fraction of each layer called critical")
      ->capture_default_str();
  cmd.add_flag("--sharpness", s->with_sharpness,
               "lambda_max at every recorded step of the run, against 2/lr (the edge of stability)");
  cmd.add_option("--sharpness-iterations", s->sharpness_iterations, "Lanczos steps per recorded step")
      ->capture_default_str();
  cmd.add_option("--sharpness-trace", s->sharpness_trace, "Hutchinson probes per recorded step (0: none)")
      ->capture_default_str();
  cmd.add_option("--seed", s->seed, "seed of the probes and directions")
      ->capture_default_str()
      ->check(unsigned_check());
  add_runtime_flags(cmd, {.device = &s->device, .threads = &s->threads, .data_dir = &s->data});
  cmd.add_option("--out", s->out,
                 "write landscape.json, tables and plots here (default with --run: RUN/landscape)");
  cmd.add_flag("--json", s->json, "print JSON");
  return [s]() {
    const c10::Device device = resolve_device(s->device);
    const int threads = configure_threads(s->threads);
    const auto loss = from_string<landscape::LossKind>(s->loss);
    if (s->model_file.empty() == s->run.empty())
      throw Error("give --run DIR or --model FILE.pt (one of them)");
    if (s->examples < 1 || s->examples > 60000)
      throw Error(fmt::format("--examples must be in [1, 60000], got {}", s->examples));
    if (s->split != "train" && s->split != "test") throw Error("--split must be train or test");
    if (s->slice != "1d" && s->slice != "2d" && s->slice != "none")
      throw Error("--slice must be 1d, 2d or none");
    if (!(s->slice_range > 0 && s->slice_range <= 100)) throw Error("--slice-range must be in (0, 100]");
    if (s->slice_points < 2 || s->slice_points > 1001) throw Error("--slice-points must be in [2, 1001]");
    if (s->sharpness_iterations < 2 || s->sharpness_iterations > 10000)
      throw Error("--sharpness-iterations must be in [2, 10000]");
    if (s->sharpness_trace < 0 || s->sharpness_trace == 1)
      throw Error("--sharpness-trace must be 0 or at least 2");
    if (!(s->critical_fraction > 0 && s->critical_fraction <= 1))
      throw Error("--critical-fraction must be in (0, 1]");
    if (s->model_file.empty() && !s->input_shape.empty()) throw Error("--input-shape goes with --model");
    if (s->run.empty() && (s->step >= 0 || s->interpolate >= 0 || s->with_sharpness))
      throw Error("--step, --interpolate and --sharpness need --run (a run recorded with train --record)");
    std::string err;
    for (bool ok : {s->lanczos.IsValid(&err), s->no_trace || s->trace.IsValid(&err),
                    !s->with_density || s->density.IsValid(&err), !s->with_conc || s->conc.IsValid(&err)})
      if (!ok) throw Error(err);
    s->trace.min_probes = std::min(s->trace.min_probes, s->trace.max_probes);

    // The network, the data and (for --step, --interpolate, --sharpness, critical neurons) the recording.
    std::string out = s->out, data_dir = s->data;
    LoadedModel loaded;
    nlohmann::json import_info;
    std::optional<train::RunConfig> config;
    if (!s->model_file.empty()) {
      loaded = import_model_for_command(s->model_file, s->input_shape, true, device, &import_info);
    } else {
      ModelFlags unused;
      loaded = load_model_for_command(unused, s->run, 0, device, "landscape", &data_dir, &out);
      config = train::read_run_config(s->run);
    }
    auto& model = loaded.model;
    std::optional<graph::Recording> rec;
    if (!s->run.empty() && std::filesystem::exists(std::filesystem::path(s->run) / "record"))
      rec = graph::open_recording(s->run);
    if ((s->step >= 0 || s->interpolate >= 0 || s->with_sharpness) && !rec)
      throw Error(
          fmt::format("{} has no recording: --step, --interpolate and --sharpness need a run trained "
                      "with train --record",
                      s->run));
    if (s->step >= 0) {
      landscape::load_recorded_parameters(model, *rec, s->step);
      loaded.source["step"] = s->step;
    }
    const auto fashion = data::load_fashion_mnist(data::resolve_data_dir(data_dir));
    const auto train_set = examples_for(fashion.train, "train", s->examples, loaded.spec.input_shape, device);
    const auto test_set = examples_for(fashion.test, "test", s->examples, loaded.spec.input_shape, device);
    const auto& hess_set = s->split == "train" ? train_set : test_set;
    std::int64_t n_params = 0;
    for (const auto& p : landscape::trainable_parameters(*model)) n_params += p.numel();
    if (s->lanczos.k > n_params)
      throw Error(fmt::format("--top-k {} is more than the model's {} parameters", s->lanczos.k, n_params));

    std::optional<io::StagedFiles> staged;
    if (!out.empty()) staged.emplace(out);
    nlohmann::json j;
    j["source"] = loaded.source;
    if (!import_info.is_null()) j["import"] = import_info;
    j["loss"] = s->loss;
    j["examples"] = hess_set.labels.size(0);
    j["split"] = s->split;
    j["parameters"] = n_params;
    const auto progress = terminal_progress();

    // Hessian. Timings beside it: a gradient (forward and backward on the batch, the work of a training
    // step), the operator's set-up (the same with a graph kept), and each solver with its products.
    nlohmann::json timing;
    const auto seconds_since = [](std::chrono::steady_clock::time_point t0) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    {
      nn::EvalModeGuard eval(*model);
      auto t0 = std::chrono::steady_clock::now();
      const at::Tensor l = landscape::batch_loss(model, hess_set.inputs, hess_set.labels, loss);
      torch::autograd::grad({l}, landscape::trainable_parameters(*model));
      timing["gradient_s"] = seconds_since(t0);
    }
    {
      auto t0 = std::chrono::steady_clock::now();
      auto h =
          landscape::HessianOperator::for_model(model, hess_set.inputs, hess_set.labels, loss, s->float64);
      timing["setup_s"] = seconds_since(t0);
      s->lanczos.seed = s->seed;
      t0 = std::chrono::steady_clock::now();
      const auto eig = landscape::lanczos_extremes(h->as_function(), h->dim(), h->options(), s->lanczos);
      timing["eigen_s"] = seconds_since(t0);
      timing["hvp_s"] = timing["eigen_s"].get<double>() / std::max(1, eig.iterations);
      auto hj = landscape::to_json(eig);
      hj["loss_value"] = h->loss();
      hj["gradient_norm"] = h->gradient().norm().item<double>();
      hj["examples"] = hess_set.labels.size(0);
      hj["dtype"] = s->float64 ? "float64" : "float32";
      landscape::TraceResult tr{.status = make_status(StatusCode::kNotRun, "--no-trace")};
      if (!s->no_trace) {
        s->trace.seed = s->seed;
        t0 = std::chrono::steady_clock::now();
        tr = landscape::hutchinson_trace(h->as_function(), h->dim(), h->options(), s->trace);
        timing["trace_s"] = seconds_since(t0);
      }
      hj.update(landscape::to_json(tr));
      j["hessian"] = hj;
      if (s->with_density) {
        s->density.seed = s->seed;
        t0 = std::chrono::steady_clock::now();
        const auto d = landscape::spectral_density(h->as_function(), h->dim(), h->options(), s->density);
        timing["density_s"] = seconds_since(t0);
        j["density"] = landscape::to_json(d);
        if (staged) {
          io::Table t{{"eigenvalue", "density"}, {}};
          for (std::size_t i = 0; i < d.grid.size(); ++i) t.add_row({d.grid[i], d.values[i]});
          io::plot_lines(staged->path() / "plots", "hessian_density", t, "eigenvalue", {{"density", "SLQ"}},
                         {.title = "Hessian spectral density (stochastic Lanczos quadrature)",
                          .xlabel = "eigenvalue",
                          .ylabel = "density",
                          .logy = true,
                          .points = false});
        }
      } else {
        j["density"] = not_run("--density not given");
      }
    }

    // Slices along filter-normalised directions, and the interpolation.
    const auto params = landscape::trainable_parameters(*model);
    const std::vector<landscape::EvalSet> sets{train_set, test_set};
    if (s->slice == "none") {
      j["slices"] = not_run("--slice none");
    } else {
      const auto axis = grid(-s->slice_range, s->slice_range, s->slice_points);
      const auto d = landscape::filter_normalized_direction(params, s->include_bias, s->seed);
      if (s->slice == "1d") {
        const auto sl = landscape::slice_1d(model, d, axis, sets, loss);
        j["slices"] = {{"1d", landscape::to_json(sl)}};
        if (staged) {
          io::Table t{{"alpha", "train_loss", "test_loss", "train_accuracy", "test_accuracy"}, {}};
          for (std::size_t i = 0; i < axis.size(); ++i)
            t.add_row({axis[i], sl.loss[0][i], sl.loss[1][i], sl.accuracy[0][i], sl.accuracy[1][i]});
          io::plot_lines(
              staged->path() / "plots", "slice_1d", t, "alpha",
              {{"train_loss", "train"}, {"test_loss", "test"}},
              {.title = "loss along a filter-normalised direction", .xlabel = "alpha", .ylabel = "loss"});
        }
      } else {
        const auto e = landscape::filter_normalized_direction(params, s->include_bias, s->seed + 1);
        const auto sl = landscape::slice_2d(model, d, e, axis, axis, sets, loss);
        j["slices"] = {{"2d", landscape::to_json(sl)}};
        if (staged) {
          io::Table t{{"alpha", "beta", "train_loss", "test_loss", "train_accuracy", "test_accuracy"}, {}};
          for (std::size_t a = 0; a < axis.size(); ++a)
            for (std::size_t b = 0; b < axis.size(); ++b)
              t.add_row({axis[a], axis[b], sl.loss[0][a][b], sl.loss[1][a][b], sl.accuracy[0][a][b],
                         sl.accuracy[1][a][b]});
          std::filesystem::create_directories(staged->path() / "tables");
          io::write_csv(staged->path() / "tables" / "slice_2d.csv", t);
          // log10 loss as an image with contour lines, train and test.
          for (std::size_t k = 0; k < sl.sets.size(); ++k) {
            std::vector<float> values;
            float lo = INFINITY, hi = -INFINITY;
            for (const auto& row : sl.loss[k])
              for (double v : row) {
                values.push_back(static_cast<float>(std::log10(std::max(v, 1e-12))));
                lo = std::min(lo, values.back());
                hi = std::max(hi, values.back());
              }
            std::vector<double> levels;
            for (int c = 1; c < 10 && hi > lo; ++c) levels.push_back(lo + (hi - lo) * c / 10);
            io::plot_heatmap(staged->path() / "plots", "slice_2d_" + sl.sets[k], values, s->slice_points,
                             s->slice_points,
                             {.title = "log10 " + sl.sets[k] +
                                       " loss, filter-normalised plane (cells: alpha up, beta across; " +
                                       "the network at the centre)",
                              .xlabel = "beta (cell)",
                              .ylabel = "alpha (cell)",
                              .cblabel = "log10 loss",
                              .contours = levels});
          }
        }
      }
    }
    if (s->interpolate >= 0) {
      std::vector<at::Tensor> here;
      for (const auto& p : params) here.push_back(p.detach().clone());
      const auto line =
          landscape::interpolate(model, landscape::recorded_parameters(model, *rec, s->interpolate), here,
                                 grid(-0.25, 1.25, 31), sets, loss);
      j["interpolation"] = landscape::to_json(line);
      j["interpolation"]["from_step"] = s->interpolate;
    } else {
      j["interpolation"] = not_run("--interpolate not given");
    }

    // Local concentration.
    if (s->with_conc) {
      std::vector<landscape::ParameterSubset> subsets{{"all", {}, 0}};
      nlohmann::json cj;
      if (rec) {
        const std::int64_t at_step = s->step >= 0 ? s->step : rec->steps.back();
        const auto st = graph::load_step(*rec, at_step);
        graph::NeuronOptions no;
        no.fraction = s->critical_fraction;
        std::vector<std::vector<std::int64_t>> critical(model->size());
        for (std::size_t b : model->hidden_blocks())
          if (b < st.post.size() && st.post[b].defined())
            critical[b] = graph::neuron_stats(st.post[b], rec->probe_labels, rec->num_classes, no).critical;
        auto crit = landscape::critical_subset(model, critical);
        if (crit.size > 0) {
          subsets.push_back(landscape::random_subset_like(model, crit, s->seed + 7));
          subsets.insert(subsets.begin() + 1, std::move(crit));
          cj["critical_from_step"] = at_step;
        } else {
          cj["critical_status"] = to_string(StatusCode::kNotApplicable);
          cj["critical_message"] = "no weights join critical neurons of two consecutive dense hidden layers";
        }
      } else {
        cj["critical_status"] = to_string(StatusCode::kNotApplicable);
        cj["critical_message"] = "critical neurons need a recorded run (train --record)";
      }
      s->conc.seed = s->seed;
      const auto rows =
          landscape::concentration(model, hess_set.inputs, hess_set.labels, loss, subsets, s->conc);
      j["concentration"] = nlohmann::json::array();
      for (const auto& r : rows) j["concentration"].push_back(landscape::to_json(r));
      for (const auto& sub : subsets) cj["subset_sizes"][sub.name] = sub.name == "all" ? n_params : sub.size;
      j["concentration_info"] = cj;
      if (staged) {
        io::Table t{{"radius"}, {}};
        for (const auto& sub : subsets) {
          t.columns.push_back(sub.name + "_sd_over_mean");
          t.columns.push_back(sub.name + "_even_sd_over_mean");
        }
        for (double r : s->conc.radii) {
          std::vector<double> row{r};
          for (const auto& sub : subsets)
            for (const auto& c : rows)
              if (c.radius == r && c.subset == sub.name) {
                row.push_back(c.sd_over_mean.value_or(NAN));
                row.push_back(c.even_sd_over_mean.value_or(NAN));
              }
          t.add_row(row);
        }
        std::vector<io::PlotSeries> series;
        for (const auto& sub : subsets) {
          series.push_back({sub.name + "_sd_over_mean", sub.name + " (rise)"});
          series.push_back({sub.name + "_even_sd_over_mean", sub.name + " (even part)"});
        }
        io::plot_lines(staged->path() / "plots", "concentration", t, "radius", series,
                       {.title = "relative spread of the loss rise over directions",
                        .xlabel = "radius r",
                        .ylabel = "SD / mean of dL",
                        .logx = true,
                        .logy = true});
      }
    } else {
      j["concentration"] = nullptr;
      j["concentration_status"] = to_string(StatusCode::kNotRun);
    }

    // Sharpness over training.
    if (s->with_sharpness) {
      landscape::SharpnessOptions so;
      so.loss = loss;
      so.iterations = s->sharpness_iterations;
      so.trace_probes = s->sharpness_trace;
      so.double_precision = s->float64;
      so.seed = s->seed;
      const auto points = landscape::sharpness_over_recording(model, *rec, rec->steps, train_set.inputs,
                                                              train_set.labels, so, progress);
      const auto& to = config->options;
      const bool sgd = to.optimizer == Optimizer::kSgd;
      j["sharpness"] = nlohmann::json::array();
      io::Table t{{"step", "lambda_max", "two_over_lr", "loss"}, {}};
      for (const auto& p : points) {
        auto pj = landscape::to_json(p);
        pj["two_over_lr"] = 2 / to.lr;
        pj["threshold"] = sgd ? nlohmann::json((2 + 2 * to.momentum) / to.lr) : nlohmann::json(nullptr);
        j["sharpness"].push_back(pj);
        t.add_row({static_cast<double>(p.step), p.lambda_max.value_or(NAN), 2 / to.lr, p.loss});
      }
      j["sharpness_info"] = {{"lr", to.lr},
                             {"momentum", sgd ? nlohmann::json(to.momentum) : nlohmann::json(nullptr)},
                             {"optimizer", to_string(to.optimizer)},
                             {"schedule", to_string(to.schedule)},
                             {"note",
                              "two_over_lr is 2/lr, the GD edge of stability; threshold is (2 + 2 "
                              "momentum)/lr for SGD with heavy-ball momentum; both use the base lr"}};
      if (staged)
        io::plot_lines(
            staged->path() / "plots", "sharpness", t, "step",
            {{"lambda_max", "lambda_max (train batch)"}, {"two_over_lr", "2 / lr"}},
            {.title = "sharpness over training", .xlabel = "step", .ylabel = "eigenvalue", .logy = true});
    } else {
      j["sharpness"] = nullptr;
      j["sharpness_status"] = to_string(StatusCode::kNotRun);
    }
    j["timing"] = timing;
    j["runtime"] = runtime_metadata(device, threads);
    if (staged) {
      io::write_json(staged->path() / "landscape.json", j);
      staged->commit("landscape.json");
    }
    if (s->json) {
      print(j.dump(2));
    } else {
      const auto& h = j["hessian"];
      std::string text = fmt::format("Hessian ({} {} examples, {} parameters): top eigenvalues {}",
                                     hess_set.labels.size(0), s->split, n_params, h["eigenvalues"].dump());
      if (!h["trace"].is_null())
        text +=
            fmt::format("; trace {:.6g} +- {:.2g}", h["trace"].get<double>(), h["trace_se"].get<double>());
      if (!h["smallest"].is_null()) text += fmt::format("; smallest {:.6g}", h["smallest"].get<double>());
      if (!out.empty()) text += "\nwritten to " + out;
      print(text);
    }
    return 0;
  };
}

}  // namespace critlab::cli
