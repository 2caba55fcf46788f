// The options of criticality-driven training (criticality_reg.h explains each), as config.json stores them.
// Torch-free (critlab::base).
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "critlab/core/enums.h"

namespace critlab::train {

inline constexpr int kMaxCriticalityProbes = 256;

struct CriticalityOptions {
  CriticalityMode mode = CriticalityMode::kOff;
  Penalty penalty = Penalty::kLogGain;
  measure::GainMethod estimator = measure::GainMethod::kAuto;  // auto, analytic or hutchinson
  double strength = 1.0;        // regularizer: lambda; controller: correction rate k in (0, 2)
  double target_gain = 1.0;     // t
  bool local_gradient = true;   // see above; false = the full gradient of R
  std::int64_t sub_batch = 32;  // examples per step (all but the full-gradient closed form)
  int probes = 1;               // Hutchinson probe vectors per example
  std::int64_t every = 1;       // lazy regularisation (Karras et al. 2020): penalty (with lambda x every) or
                                // controller correction only on every `every`-th step
  std::int64_t warmup_steps = 0;     // lambda ramps linearly from 0 over these steps
  Decay decay = Decay::kNone;        // then decays to 0 by the last step
  std::vector<std::int64_t> layers;  // block indices to regulate; empty = every hidden block
  // Controller.
  double tolerance = 0.05;         // distance to criticality to stay below (dead band: tolerance / 2)
  double control_smoothing = 0.2;  // a: EMA weight of the newest batch estimate

  bool enabled() const { return mode != CriticalityMode::kOff; }
  bool IsValid(std::string* error) const;
};
nlohmann::json to_json(const CriticalityOptions& o);
// Throws critlab::Error naming `source` and the field when a field is missing, mistyped or out of range.
CriticalityOptions criticality_options_from_json(const nlohmann::json& j,
                                                 const std::string& source = "criticality options",
                                                 const std::string& prefix = "");

}  // namespace critlab::train
