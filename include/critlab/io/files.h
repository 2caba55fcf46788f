// Atomic file output: every result file is written to a temporary beside its target and renamed over it,
// so a reader (or a kill) never sees a partial file.
#pragma once
#include <cstdint>
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
// Reads a regular file whole; throws critlab::Error naming the file when it is missing, not a regular file,
// unreadable or larger than `max_bytes`.
std::string read_text(const fs::path& path, std::uintmax_t max_bytes = std::uintmax_t{1} << 30);
// read_text (at most 256 MiB) parsed as JSON; errors name the file.
nlohmann::json read_json(const fs::path& path);

// Removes the temporaries that write_atomic* and StagedDirectory leave when a process is killed
// (".<name>.tmp.<pid>.<n>", ".<name>.staging.<pid>", ".<name>.tmp") inside `dir` (and, if `recursive`, its
// subdirectories). Call it only while holding the directory's lock, so that no live writer's temporary is
// removed. Returns how many were removed.
int remove_stale_temporaries(const fs::path& dir, bool recursive = false);

// An exclusive advisory lock (flock) on `dir`/.lock, held while the object lives; the kernel releases it
// when the process dies, so a killed run never leaves a stale lock. Creates `dir` if needed. Throws
// critlab::Error naming the directory when another process holds it.
class DirectoryLock {
 public:
  DirectoryLock(const fs::path& dir, const std::string& purpose);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

// A directory of results written as a whole: everything goes into a staging directory beside `target`, and
// commit() swaps it in (the old `target`, if any, is removed only after the new one is complete). If the
// object is destroyed without commit() (an error while writing), the staging directory is removed and
// `target` is untouched, so a failed command never leaves partial results beside old ones.
class StagedDirectory {
 public:
  explicit StagedDirectory(fs::path target);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;
  const fs::path& path() const { return staging_; }  // write here
  void commit();

 private:
  fs::path target_, staging_;
  bool committed_ = false;
};

// The result files of one command, written into `dir`, which may also hold other files (so it is never
// replaced whole): they go into a hidden staging directory inside `dir`, and commit() moves each into place,
// the file named `last` (the summary) last. Constructing it creates `dir` and so checks that the output can
// be written before any work is done. Destroyed without commit(): the staged files are removed.
class StagedFiles {
 public:
  explicit StagedFiles(fs::path dir);
  ~StagedFiles();
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  const fs::path& path() const { return staging_; }  // write here
  void commit(const std::string& last = "");

 private:
  fs::path dir_, staging_;
  bool committed_ = false;
};

}  // namespace critlab::io
