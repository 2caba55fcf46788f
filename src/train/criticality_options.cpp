#include "critlab/train/criticality_options.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "critlab/core/error.h"
#include "critlab/io/json_fields.h"

namespace critlab::train {

bool CriticalityOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (!(strength >= 0 && strength <= 1e6))
    return fail(fmt::format("criticality.strength must be in [0, 1e6], got {}", strength));
  if (mode == CriticalityMode::kController && !(strength > 0 && strength < 2))
    return fail(
        fmt::format("criticality.strength is the controller's correction rate k and must be in (0, 2), "
                    "got {}; 1 corrects fully each step, 0.2 gently",
                    strength));
  if (!(target_gain > 0 && target_gain <= 1e3))
    return fail(fmt::format("criticality.target_gain must be positive, got {}", target_gain));
  if (estimator == measure::GainMethod::kExact)
    return fail("criticality.estimator must be auto, analytic or hutchinson (exact is for measuring only)");
  if (sub_batch < 1 || sub_batch > 65536)
    return fail(fmt::format("criticality.sub_batch must be in [1, 65536], got {}", sub_batch));
  if (probes < 1 || probes > kMaxCriticalityProbes)
    return fail(fmt::format("criticality.probes must be in [1, {}] (Hutchinson vectors per example), got {}",
                            kMaxCriticalityProbes, probes));
  if (warmup_steps < 0) return fail("criticality.warmup_steps must be >= 0");
  if (every < 1) return fail(fmt::format("criticality.every must be at least 1, got {}", every));
  for (auto l : layers)
    if (l < 0) return fail(fmt::format("criticality.layers: block index {} is negative", l));
  if (!(tolerance > 0) || !std::isfinite(tolerance))
    return fail(fmt::format("criticality.tolerance must be positive, got {}", tolerance));
  if (!(control_smoothing > 0 && control_smoothing <= 1))
    return fail("controller smoothing must be in (0, 1]");
  return true;
}

nlohmann::json to_json(const CriticalityOptions& o) {
  return {{"mode", to_string(o.mode)},
          {"penalty", to_string(o.penalty)},
          {"estimator", critlab::to_string(o.estimator)},
          {"strength", o.strength},
          {"target_gain", o.target_gain},
          {"local_gradient", o.local_gradient},
          {"sub_batch", o.sub_batch},
          {"probes", o.probes},
          {"every", o.every},
          {"warmup_steps", o.warmup_steps},
          {"decay", to_string(o.decay)},
          {"layers", o.layers},
          {"tolerance", o.tolerance},
          {"control_smoothing", o.control_smoothing}};
}

CriticalityOptions criticality_options_from_json(const nlohmann::json& j, const std::string& source,
                                                 const std::string& prefix) {
  const io::JsonFields f(j, source, prefix);
  CriticalityOptions o;
  o.mode = f.choice<CriticalityMode>("mode");
  o.penalty = f.choice<Penalty>("penalty");
  o.estimator = f.choice<measure::GainMethod>("estimator");
  o.strength = f.number("strength");
  o.target_gain = f.number("target_gain");
  o.local_gradient = f.boolean("local_gradient");
  o.sub_batch = f.integer("sub_batch");
  const auto probes = f.integer("probes");
  if (probes < 1 || probes > kMaxCriticalityProbes)
    f.fail("probes", fmt::format("must be in [1, {}], found {}", kMaxCriticalityProbes, probes));
  o.probes = static_cast<int>(probes);
  o.every = f.integer_or("every", 1);
  o.warmup_steps = f.integer("warmup_steps");
  o.decay = f.choice<Decay>("decay");
  o.layers = f.integers("layers");
  o.tolerance = f.number("tolerance");
  o.control_smoothing = f.number("control_smoothing");
  std::string err;
  if (!o.IsValid(&err)) throw Error(fmt::format("'{}': {}", source, err));
  return o;
}

}  // namespace critlab::train
