#include "critlab/data/idx.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "critlab/core/error.h"

namespace critlab::data {

namespace {

// zlib's reader over a file descriptor it owns; closed (and the close checked) by finish(), else by the
// destructor on an error path.
class GzReader {
 public:
  GzReader(int fd, const std::string& name) : name_(name) {
    f_ = gzdopen(fd, "rb");
    if (!f_) {
      ::close(fd);
      throw Error(fmt::format("cannot read IDX file '{}': zlib could not open it", name_));
    }
    gzbuffer(f_, 1u << 17);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  ~GzReader() {
    if (f_) gzclose(f_);
  }

  // Reads up to n bytes; returns how many (fewer only at the end of the data). A corrupt gzip stream (bad
  // data, CRC or length) or a read error throws.
  std::size_t read(void* dst, std::size_t n) {
    std::size_t done = 0;
    auto* p = static_cast<unsigned char*>(dst);
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
      const int got = gzread(f_, p + done, chunk);
      if (got < 0) throw corrupt();
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    // gzread reports a stream that ends early as Z_BUF_ERROR ("unexpected end of file") only through gzerror.
    if (done < n) check_stream();
    return done;
  }
  bool direct() { return gzdirect(f_) != 0; }  // a plain file (valid after the first read)
  void finish() {
    const int rc = gzclose(f_);
    f_ = nullptr;
    if (rc != Z_OK)
      throw Error(fmt::format(
          "IDX file '{}' is corrupt: the gzip stream does not end properly (zlib error {})", name_, rc));
  }

 private:
  void check_stream() {
    int errnum = Z_OK;
    gzerror(f_, &errnum);
    if (errnum != Z_OK) throw corrupt();
  }
  Error corrupt() {
    int errnum = Z_OK;
    const char* msg = gzerror(f_, &errnum);
    if (errnum == Z_ERRNO)
      return Error(fmt::format("cannot read IDX file '{}': {}", name_, std::strerror(errno)));
    if (errnum == Z_BUF_ERROR)  // zlib's "unexpected end of file": the compressed stream is cut short
      return Error(fmt::format("IDX file '{}' is truncated: the gzip stream ends early", name_));
    return Error(fmt::format("IDX file '{}' is corrupt: the gzip stream cannot be decoded ({})", name_,
                             msg ? msg : "unknown zlib error"));
  }

  std::string name_;
  gzFile f_ = nullptr;
};

IdxArray read_idx_fd(int fd, const std::string& name, int expected_ndims) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(fmt::format("cannot read IDX file '{}': {}", name, std::strerror(err)));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("IDX file '{}' is a directory", name));
  }
  GzReader file(fd, name);

  unsigned char magic[4];
  if (file.read(magic, 4) != 4)
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
    if (file.read(b, 4) != 4) throw Error(fmt::format("IDX file '{}' is truncated inside its header", name));
    const std::int64_t size = (std::int64_t{b[0]} << 24) | (std::int64_t{b[1]} << 16) |
                              (std::int64_t{b[2]} << 8) | std::int64_t{b[3]};
    if (size <= 0) throw Error(fmt::format("IDX file '{}' has dimension {} of size {}", name, d, size));
    out.dims.push_back(size);
    // count <= kMaxIdxBytes here, so the product is only formed when it cannot overflow.
    if (size > kMaxIdxBytes / count)
      throw Error(
          fmt::format("IDX file '{}' declares dimensions {}{}: more than the {} data bytes (2 GiB) an IDX "
                      "file may hold here",
                      name, fmt::join(out.dims, " x "), d + 1 < ndims ? " x ..." : "", kMaxIdxBytes));
    count *= size;
  }
  const std::int64_t header_bytes = 4 + 4 * std::int64_t{ndims};

  // A plain file's size says what it holds: compare before allocating anything.
  if (file.direct() && S_ISREG(st.st_mode)) {
    const std::int64_t holds = static_cast<std::int64_t>(st.st_size) - header_bytes;
    if (holds < count)
      throw Error(fmt::format("IDX file '{}' is truncated: header promises {} data bytes, file holds {}",
                              name, count, holds));
    if (holds > count)
      throw Error(fmt::format("IDX file '{}' has {} trailing bytes after the {} promised by its header", name,
                              holds - count, count));
  }

  // Inflate in chunks that grow with what has been read, so a header that promises more than the stream
  // holds costs at most about twice the real data (and 1 MiB) before it fails.
  const std::size_t want = static_cast<std::size_t>(count);
  std::size_t done = 0;
  while (done < want) {
    const std::size_t chunk = std::min(want - done, std::max<std::size_t>(done, std::size_t{1} << 20));
    out.values.resize(done + chunk);
    const std::size_t got = file.read(out.values.data() + done, chunk);
    done += got;
    if (got < chunk)
      throw Error(fmt::format("IDX file '{}' is truncated: header promises {} data bytes, file holds {}",
                              name, count, done));
  }

  // Read on to the end of the stream: that is where zlib checks the gzip CRC and length.
  unsigned char extra[256];
  if (const std::size_t more = file.read(extra, sizeof(extra)); more > 0)
    throw Error(
        fmt::format("IDX file '{}' has trailing bytes after the {} promised by its header", name, count));
  file.finish();
  return out;
}

}  // namespace

IdxArray read_idx(const std::filesystem::path& path, int expected_ndims) {
  const std::string name = path.string();
  if (!std::filesystem::exists(path))
    throw Error(fmt::format("IDX file '{}' does not exist; check --data (or CRITLAB_DATA)", name));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot open IDX file '{}': {}", name, std::strerror(errno)));
  return read_idx_fd(fd, name, expected_ndims);
}

IdxArray read_idx_bytes(std::string_view bytes, const std::string& source_name, int expected_ndims) {
  const int fd = memfd_create("critlab-idx", MFD_CLOEXEC);
  if (fd < 0)
    throw Error(fmt::format("cannot read '{}': memfd_create: {}", source_name, std::strerror(errno)));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw Error(
          fmt::format("cannot read '{}': writing the memory file: {}", source_name, std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) {
    ::close(fd);
    throw Error(fmt::format("cannot read '{}': lseek on the memory file failed", source_name));
  }
  return read_idx_fd(fd, source_name, expected_ndims);
}

}  // namespace critlab::data
