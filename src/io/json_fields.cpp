#include "critlab/io/json_fields.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "critlab/core/error.h"

namespace critlab::io {

namespace {
std::string type_name(const nlohmann::json& j) {
  if (j.is_number_integer()) return "an integer";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "a boolean";
  if (j.is_array()) return "an array";
  if (j.is_object()) return "an object";
  if (j.is_null()) return "null";
  return "a " + std::string(j.type_name());
}
}  // namespace

JsonFields::JsonFields(const nlohmann::json& object, std::string source, std::string prefix)
    : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {
  if (!object_.is_object())
    throw Error(prefix_.empty()
                    ? fmt::format("'{}' must hold a JSON object, found {}", source_, type_name(object_))
                    : fmt::format("'{}': field '{}' must be an object, found {}", source_, prefix_,
                                  type_name(object_)));
}

std::string JsonFields::path(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

void JsonFields::fail(std::string_view key, std::string_view why) const {
  throw Error(fmt::format("'{}': field '{}' {}", source_, path(key), why));
}

bool JsonFields::has(std::string_view key) const {
  const auto it = object_.find(key);
  return it != object_.end() && !it->is_null();
}

const nlohmann::json& JsonFields::raw(std::string_view key) const {
  const auto it = object_.find(key);
  if (it == object_.end()) fail(key, "is missing");
  return *it;
}

JsonFields JsonFields::object(std::string_view key) const {
  const auto& j = raw(key);
  if (!j.is_object()) fail(key, "must be an object, found " + type_name(j));
  return JsonFields(j, source_, path(key));
}

std::string JsonFields::string(std::string_view key) const {
  const auto& j = raw(key);
  if (!j.is_string()) fail(key, "must be a string, found " + type_name(j));
  return j.get<std::string>();
}

bool JsonFields::boolean(std::string_view key) const {
  const auto& j = raw(key);
  if (!j.is_boolean()) fail(key, "must be true or false, found " + type_name(j));
  return j.get<bool>();
}

double JsonFields::number(std::string_view key) const {
  const auto& j = raw(key);
  if (!j.is_number()) fail(key, "must be a number, found " + type_name(j));
  return j.get<double>();
}

namespace {
// An integer held as a JSON integer, or as a float with a whole value inside [lo, hi].
template <typename T>
std::optional<T> whole(const nlohmann::json& j) {
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
    return static_cast<T>(v);
  }
  if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if (std::is_unsigned_v<T> && v < 0) return std::nullopt;
    return static_cast<T>(v);
  }
  if (j.is_number_float()) {
    const double v = j.get<double>();
    // 2^63 and 2^64 are exact doubles; values at or beyond them do not fit.
    const double limit = std::is_unsigned_v<T> ? 18446744073709551616.0 : 9223372036854775808.0;
    const double low = std::is_unsigned_v<T> ? 0.0 : -limit;
    if (!(v >= low && v < limit) || v != std::floor(v)) return std::nullopt;
    return static_cast<T>(v);
  }
  return std::nullopt;
}
}  // namespace

std::int64_t JsonFields::integer(std::string_view key) const {
  const auto& j = raw(key);
  if (!j.is_number()) fail(key, "must be an integer, found " + type_name(j));
  const auto v = whole<std::int64_t>(j);
  if (!v) fail(key, fmt::format("must be a whole number within 64-bit range, found {}", j.dump()));
  return *v;
}

std::uint64_t JsonFields::unsigned_integer(std::string_view key) const {
  const auto& j = raw(key);
  if (!j.is_number()) fail(key, "must be an integer, found " + type_name(j));
  const auto v = whole<std::uint64_t>(j);
  if (!v) fail(key, fmt::format("must be a whole number in [0, 2^64), found {}", j.dump()));
  return *v;
}

std::vector<std::int64_t> JsonFields::integers(std::string_view key) const {
  const auto& j = raw(key);
  if (!j.is_array()) fail(key, "must be an array of integers, found " + type_name(j));
  std::vector<std::int64_t> out;
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto v = whole<std::int64_t>(j[i]);
    if (!v) fail(key, fmt::format("must be an array of integers; entry {} is {}", i, j[i].dump()));
    out.push_back(*v);
  }
  return out;
}

std::vector<std::string> JsonFields::strings(std::string_view key) const {
  const auto& j = raw(key);
  if (!j.is_array()) fail(key, "must be an array of strings, found " + type_name(j));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string())
      fail(key, fmt::format("must be an array of strings; entry {} is {}", i, j[i].dump()));
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

std::string JsonFields::string_or(std::string_view key, std::string fallback) const {
  return has(key) ? string(key) : fallback;
}
bool JsonFields::boolean_or(std::string_view key, bool fallback) const {
  return has(key) ? boolean(key) : fallback;
}
double JsonFields::number_or(std::string_view key, double fallback) const {
  return has(key) ? number(key) : fallback;
}
std::int64_t JsonFields::integer_or(std::string_view key, std::int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

nlohmann::json parse_json(std::string_view text, const std::string& source) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(
        fmt::format("'{}' is not valid JSON (syntax error at byte {}); the file is damaged", source, e.byte));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("'{}' is not valid JSON ({})", source, e.what()));
  }
}

}  // namespace critlab::io
