// Reading critlab's own JSON files (config.json, state.json, meta.json, ...) field by field, with errors
// that name the file and the field: "'run/config.json': field 'train.lr' must be a number, found a string".
// Every reader of a run directory goes through this instead of nlohmann::json's at()/get(), whose
// exceptions name neither ("[json.exception.type_error.302] type must be number, but is string").
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "critlab/core/enums.h"

namespace critlab::io {

class JsonFields {
 public:
  // `source` names the file in messages; `prefix` is the dotted path of `object` inside it ("" at the top).
  // Throws critlab::Error unless `object` is a JSON object.
  JsonFields(const nlohmann::json& object, std::string source, std::string prefix = "");

  bool has(std::string_view key) const;  // present and not null
  // The nested object `key` (required).
  JsonFields object(std::string_view key) const;

  // Required fields; each throws critlab::Error naming the file and field when it is missing or of the
  // wrong type. Integers must be whole numbers within the type's range; doubles may be any JSON number
  // (finite: JSON has no NaN or infinity).
  std::string string(std::string_view key) const;
  bool boolean(std::string_view key) const;
  double number(std::string_view key) const;
  std::int64_t integer(std::string_view key) const;
  std::uint64_t unsigned_integer(std::string_view key) const;
  std::vector<std::int64_t> integers(std::string_view key) const;
  std::vector<std::string> strings(std::string_view key) const;
  const nlohmann::json& raw(std::string_view key) const;  // any type, present
  template <typename E>
  E choice(std::string_view key) const {
    const auto name = string(key);
    try {
      return from_string<E>(name);
    } catch (const Error& e) {
      fail(key, e.what());
    }
  }

  // Optional fields: the fallback when absent (or null), else as the required reader.
  std::string string_or(std::string_view key, std::string fallback) const;
  bool boolean_or(std::string_view key, bool fallback) const;
  double number_or(std::string_view key, double fallback) const;
  std::int64_t integer_or(std::string_view key, std::int64_t fallback) const;

  // Throws critlab::Error "'<source>': field '<path>' <why>".
  [[noreturn]] void fail(std::string_view key, std::string_view why) const;
  std::string path(std::string_view key) const;
  const std::string& source() const { return source_; }

 private:
  const nlohmann::json& object_;
  std::string source_, prefix_;
};

// Parses `text` as JSON; throws critlab::Error naming `source` and the position of the syntax error.
nlohmann::json parse_json(std::string_view text, const std::string& source);

}  // namespace critlab::io
