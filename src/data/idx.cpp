#include "critlab/data/idx.h"

#include <fmt/format.h>
#include <zlib.h>

#include "critlab/core/error.h"

namespace critlab::data {

namespace {
struct GzFile {
  gzFile f;
  explicit GzFile(const std::filesystem::path& path) : f(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f) gzclose(f);
  }
};

// Reads exactly n bytes or returns the number read (short on EOF, -1 on a corrupt gzip stream).
long read_bytes(gzFile f, void* dst, std::size_t n) {
  std::size_t done = 0;
  auto* p = static_cast<unsigned char*>(dst);
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
    int got = gzread(f, p + done, chunk);
    if (got < 0) return -1;
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return static_cast<long>(done);
}
}  // namespace

IdxArray read_idx(const std::filesystem::path& path, int expected_ndims) {
  const std::string name = path.string();
  if (!std::filesystem::exists(path))
    throw Error(fmt::format("IDX file '{}' does not exist; check --data (or CRITLAB_DATA)", name));
  GzFile file(path);
  if (!file.f) throw Error(fmt::format("cannot open IDX file '{}': not readable", name));

  unsigned char magic[4];
  if (read_bytes(file.f, magic, 4) != 4)
    throw Error(fmt::format("IDX file '{}' is truncated: fewer than 4 header bytes", name));
  if (magic[0] != 0 || magic[1] != 0)
    throw Error(
        fmt::format("'{}' is not an IDX file: bad magic number {:02x}{:02x}{:02x}{:02x} (expected 0000XXYY)",
                    name, magic[0], magic[1], magic[2], magic[3]));
  if (magic[2] != 0x08)
    throw Error(fmt::format(
        "IDX file '{}' holds data type 0x{:02x}; only unsigned bytes (0x08) are supported", name, magic[2]));
  const int ndims = magic[3];
  if (ndims < 1 || ndims > 4)
    throw Error(fmt::format("IDX file '{}' declares {} dimensions; expected 1 to 4", name, ndims));
  if (expected_ndims > 0 && ndims != expected_ndims)
    throw Error(fmt::format("IDX file '{}' has {} dimensions, expected {} (wrong file for this role?)", name,
                            ndims, expected_ndims));

  IdxArray out;
  std::int64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    unsigned char b[4];
    if (read_bytes(file.f, b, 4) != 4)
      throw Error(fmt::format("IDX file '{}' is truncated inside its header", name));
    const std::int64_t size = (std::int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    if (size <= 0) throw Error(fmt::format("IDX file '{}' has dimension {} of size {}", name, d, size));
    out.dims.push_back(size);
    count *= size;
    if (count > (std::int64_t{1} << 34))
      throw Error(fmt::format("IDX file '{}' declares an absurd size", name));
  }
  out.values.resize(static_cast<std::size_t>(count));
  const long got = read_bytes(file.f, out.values.data(), out.values.size());
  if (got < 0) throw Error(fmt::format("IDX file '{}' is corrupt: the gzip stream cannot be decoded", name));
  if (got != count)
    throw Error(fmt::format("IDX file '{}' is truncated: header promises {} data bytes, file holds {}", name,
                            count, got));
  unsigned char extra;
  if (read_bytes(file.f, &extra, 1) == 1)
    throw Error(
        fmt::format("IDX file '{}' has trailing bytes after the {} promised by its header", name, count));
  return out;
}

}  // namespace critlab::data
