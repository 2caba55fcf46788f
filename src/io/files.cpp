#include "critlab/io/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "critlab/core/error.h"
#include "critlab/io/json_fields.h"

namespace critlab::io {

namespace {
fs::path temp_beside(const fs::path& path) {
  static std::atomic<int> counter{0};
  return path.parent_path() / ("." + path.filename().string() + ".tmp." + std::to_string(getpid()) + "." +
                               std::to_string(counter++));
}

void fsync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

void write_atomic_with(const fs::path& path, const std::function<void(const fs::path&)>& writer) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path tmp = temp_beside(path);
  try {
    writer(tmp);
    fsync_path(tmp);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void write_atomic(const fs::path& path, const std::string& content) {
  write_atomic_with(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw Error("cannot write '" + path.string() + "': check that the directory is writable");
    out << content;
    out.close();
    if (!out) throw Error("failed writing '" + path.string() + "' (disk full?)");
  });
}

void ensure_writable_directory(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw Error(fmt::format("{} '{}': cannot create the directory ({})", what, dir.string(),
                            ec ? ec.message() : "a file of that name exists"));
  const fs::path probe = temp_beside(dir / "write-probe");
  {
    std::ofstream out(probe, std::ios::binary);
    if (!out) throw Error(fmt::format("{} '{}': the directory is not writable", what, dir.string()));
  }
  fs::remove(probe, ec);
}

void write_json(const fs::path& path, const nlohmann::json& value, int indent) {
  // Text from users' files (a manifest's names, a table's cells) may not be UTF-8; such bytes are written as
  // U+FFFD instead of failing the whole write (found by fuzz/survey_table_fuzz.cpp).
  write_atomic(path, value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

std::string read_text(const fs::path& path, std::uintmax_t max_bytes) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw Error("cannot read '" + path.string() +
                "': " + (fs::exists(path, ec) ? "not a regular file" : "no such file"));
  const auto size = fs::file_size(path, ec);
  if (!ec && size > max_bytes)
    throw Error(
        fmt::format("'{}' is {} bytes, more than the {} this file may hold; it is not the file "
                    "critlab wrote",
                    path.string(), size, max_bytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read '" + path.string() + "': not readable");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("failed reading '" + path.string() + "'");
  return ss.str();
}

nlohmann::json read_json(const fs::path& path) {
  return parse_json(read_text(path, std::uintmax_t{256} << 20), path.string());
}

int remove_stale_temporaries(const fs::path& dir, bool recursive) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  std::vector<fs::path> stale, subdirs;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.size() > 1 && name[0] == '.' &&
        (name.find(".tmp.") != std::string::npos || name.find(".staging.") != std::string::npos ||
         (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0)))
      stale.push_back(entry.path());
    else if (recursive && entry.is_directory(ec) && !entry.is_symlink(ec))
      subdirs.push_back(entry.path());
  }
  for (const auto& p : stale)
    if (fs::remove_all(p, ec) > 0 && !ec) ++removed;
  for (const auto& d : subdirs) removed += remove_stale_temporaries(d, true);
  return removed;
}

DirectoryLock::DirectoryLock(const fs::path& dir, const std::string& purpose) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("cannot create '{}': {}", dir.string(), ec.message()));
  const auto lock = dir / ".lock";
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw Error(fmt::format("cannot write in '{}' ({}): check that the directory is writable", dir.string(),
                            std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw Error(
          fmt::format("'{}' is in use by another critlab process; wait for it to finish or choose "
                      "another directory ({})",
                      dir.string(), purpose));
    throw Error(fmt::format("cannot lock '{}': {}", lock.string(), std::strerror(err)));
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

StagedDirectory::StagedDirectory(fs::path target) : target_(std::move(target)) {
  staging_ =
      target_.parent_path() / ("." + target_.filename().string() + ".staging." + std::to_string(getpid()));
  std::error_code ec;
  fs::remove_all(staging_, ec);
  fs::create_directories(staging_, ec);
  if (ec) throw Error(fmt::format("cannot create '{}': {}", staging_.string(), ec.message()));
}

StagedDirectory::~StagedDirectory() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void StagedDirectory::commit() {
  std::error_code ec;
  const auto old =
      target_.parent_path() / ("." + target_.filename().string() + ".old.tmp." + std::to_string(getpid()));
  fs::remove_all(old, ec);
  if (fs::exists(target_)) {
    fs::rename(target_, old, ec);
    if (ec) throw Error(fmt::format("cannot replace '{}': {}", target_.string(), ec.message()));
  }
  fs::rename(staging_, target_, ec);
  if (ec) {
    std::error_code ignored;
    if (fs::exists(old)) fs::rename(old, target_, ignored);  // put the old results back
    throw Error(fmt::format("cannot move the new results into '{}': {}", target_.string(), ec.message()));
  }
  committed_ = true;
  fs::remove_all(old, ec);
}

StagedFiles::StagedFiles(fs::path dir) : dir_(std::move(dir)) {
  staging_ = dir_ / (".files.staging." + std::to_string(getpid()));
  std::error_code ec;
  fs::create_directories(staging_, ec);
  if (ec) throw Error(fmt::format("cannot write the output directory '{}': {}", dir_.string(), ec.message()));
}

StagedFiles::~StagedFiles() {
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void StagedFiles::commit(const std::string& last) {
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(staging_)) entries.push_back(e.path().filename());
  std::stable_partition(entries.begin(), entries.end(),
                        [&](const fs::path& p) { return p.string() != last; });
  for (const auto& name : entries) {
    const auto to = dir_ / name;
    std::error_code ec;
    if (fs::is_directory(staging_ / name) && fs::is_directory(to)) {
      // A subdirectory (tables/, plots/): merge file by file.
      std::vector<fs::path> files;
      for (const auto& e : fs::recursive_directory_iterator(staging_ / name))
        if (!e.is_directory()) files.push_back(fs::relative(e.path(), staging_));
      for (const auto& rel : files) {
        fs::create_directories((dir_ / rel).parent_path());
        fs::rename(staging_ / rel, dir_ / rel, ec);
        if (ec)
          throw Error(fmt::format("cannot move '{}' into place: {}", (dir_ / rel).string(), ec.message()));
      }
      continue;
    }
    if (fs::is_directory(to) != fs::is_directory(staging_ / name)) fs::remove_all(to, ec);
    fs::rename(staging_ / name, to, ec);
    if (ec) throw Error(fmt::format("cannot move '{}' into place: {}", to.string(), ec.message()));
  }
  committed_ = true;
}

}  // namespace critlab::io
