#include "critlab/io/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "critlab/core/error.h"

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
    if (!out) throw Error("cannot write '" + tmp.string() + "': check that the directory is writable");
    out << content;
    out.close();
    if (!out) throw Error("failed writing '" + tmp.string() + "' (disk full?)");
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
  write_atomic(path, value.dump(indent) + "\n");
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read '" + path.string() + "': no such file or not readable");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json(const fs::path& path) {
  try {
    return nlohmann::json::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error("'" + path.string() + "' is not valid JSON (" + e.what() + ")");
  }
}

}  // namespace critlab::io
