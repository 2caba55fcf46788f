// Atomic file output: every result file is written to a temporary beside its target and renamed over it,
// so a reader (or a kill) never sees a partial file.
#pragma once
#include <filesystem>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace critlab::io {

namespace fs = std::filesystem;

// Writes `content` to `path` atomically (temp file + fsync + rename). Creates parent directories.
void write_atomic(const fs::path& path, const std::string& content);

// Calls `writer(tmp_path)` to produce the file, then renames it over `path` (for writers that need a path,
// such as torch::save). The temp file is removed if the writer throws.
void write_atomic_with(const fs::path& path, const std::function<void(const fs::path&)>& writer);

// Creates `dir` (and its parents) and checks that a file can be written in it, before any work whose result
// goes there; throws critlab::Error "<what> '<dir>': ..." otherwise (e.g. what = "--out").
void ensure_writable_directory(const fs::path& dir, const std::string& what);

void write_json(const fs::path& path, const nlohmann::json& value, int indent = 2);
nlohmann::json read_json(const fs::path& path);
std::string read_text(const fs::path& path);

}  // namespace critlab::io
