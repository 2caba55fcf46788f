// The one status every critlab result carries (STYLE.md: "every estimator returns a result struct ... a
// status and a message"), and the rule for results that were not obtained.
//
// A result struct holds its figures as plain numbers where they always exist and as std::optional where
// they may not (a fit that failed, a bootstrap that was not run, a transition that was not found); beside
// them one Status says why. In JSON an empty optional is `null`, never 0, -1 or NaN, and the object that
// holds it carries "status" (the code's name) and "message":
//
//   {"alpha": null, "status": "insufficient-data", "message": "only 3 values at or above xmin; need 10"}
#pragma once
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "critlab/core/enums.h"

namespace critlab {

enum class StatusCode {
  kOk,                // the result was obtained
  kNotRun,            // not requested (e.g. no bootstrap asked for); not a failure
  kInsufficientData,  // too few points, samples, runs or steps for the estimate
  kNotApplicable,     // the estimate does not apply to this model or data (e.g. mean-field theory for a CNN)
  kNotFound,          // the feature sought is absent (no transition, a flat response, no fixed point)
  kNoConvergence,     // an iterative method stopped before converging
  kNonFinite,         // the computation met NaN or Inf (a diverged network, an overflow)
  kInvalidInput,      // the data violate the estimator's assumptions (values <= 0, alpha <= 1, ...)
};
CRITLAB_ENUM_NAMES(StatusCode, "status", {StatusCode::kOk, "ok"}, {StatusCode::kNotRun, "not-run"},
                   {StatusCode::kInsufficientData, "insufficient-data"},
                   {StatusCode::kNotApplicable, "not-applicable"}, {StatusCode::kNotFound, "not-found"},
                   {StatusCode::kNoConvergence, "no-convergence"}, {StatusCode::kNonFinite, "non-finite"},
                   {StatusCode::kInvalidInput, "invalid-input"})

struct Status {
  StatusCode code = StatusCode::kOk;
  std::string message;  // what happened and, where there is one, the fix; when ok: empty, or a caveat

  bool ok() const { return code == StatusCode::kOk; }
  static Status Ok() { return {}; }
  // "ok", or "<code>: <message>".
  std::string to_string() const;
};

inline Status make_status(StatusCode code, std::string message) { return {code, std::move(message)}; }

// Writes "status" and "message" into a result's JSON object.
void put_status(nlohmann::json& j, const Status& s);
// Reads them back (a missing "status" reads as ok, so older files stay readable).
Status status_from_json(const nlohmann::json& j);

// A value or JSON null: the one way an optional result is written.
template <typename T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
// A finite number, or null for NaN/Inf (for figures computed as doubles that may degenerate).
inline nlohmann::json finite_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}
// Writes j[key] = the value, or null with j[key + "_status"] and j[key + "_message"] saying why (`why`).
template <typename T>
void put_result(nlohmann::json& j, const std::string& key, const std::optional<T>& v, const Status& why) {
  j[key] = or_null(v);
  if (!v) {
    j[key + "_status"] = critlab::to_string(why.code);
    j[key + "_message"] = why.message;
  }
}

// An optional read back from JSON (null or absent -> empty).
template <typename T>
std::optional<T> optional_from_json(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<T>();
}

}  // namespace critlab
