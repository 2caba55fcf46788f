#include "critlab/io/npy.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>

#include "critlab/core/error.h"
#include "critlab/io/files.h"
#include "critlab/io/npy_header.h"

namespace critlab::io {
namespace {

struct DtypeName {
  at::ScalarType type;
  const char* descr;
};
constexpr DtypeName kDtypes[] = {{at::kHalf, "<f2"}, {at::kFloat, "<f4"}, {at::kDouble, "<f8"},
                                 {at::kLong, "<i8"}, {at::kInt, "<i4"},   {at::kByte, "|u1"},
                                 {at::kBool, "|b1"}};

}  // namespace

void write_npy(const std::filesystem::path& path, const at::Tensor& tensor) {
  const auto t = tensor.detach().to(at::kCPU).contiguous();
  const char* descr = nullptr;
  for (const auto& d : kDtypes)
    if (d.type == t.scalar_type()) descr = d.descr;
  if (!descr)
    throw Error(fmt::format("write_npy: unsupported tensor type {} for '{}'", c10::toString(t.scalar_type()),
                            path.string()));
  std::string out =
      format_npy_header(descr, false, std::span<const std::int64_t>(t.sizes().data(), t.sizes().size()));
  out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  write_atomic(path, out);
}

at::Tensor read_npy(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open '{}'", name));
  std::error_code ec;
  const std::uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(fmt::format("cannot read '{}': {}", name, ec.message()));
  // The preamble and at most the largest header accepted: the parser rejects longer headers from their
  // length.
  std::string prefix(static_cast<std::size_t>(std::min<std::uintmax_t>(file_size, 12 + kMaxNpyHeaderBytes)),
                     '\0');
  if (!in.read(prefix.data(), static_cast<std::streamsize>(prefix.size())))
    throw Error(fmt::format("cannot read '{}'", name));
  const NpyHeader h = parse_npy_header(prefix, name);
  const auto bad = [&](const std::string& why) {
    return Error(fmt::format("'{}' is not a readable .npy file: {}", name, why));
  };
  at::ScalarType type = at::kFloat;
  bool found = false;
  for (const auto& d : kDtypes)
    if (h.descr == d.descr || (h.descr[0] == '=' && h.descr.substr(1) == std::string(d.descr).substr(1)))
      type = d.type, found = true;
  if (!found)
    throw bad(fmt::format("unsupported dtype '{}'",
                          h.descr.size() <= 40 ? h.descr : h.descr.substr(0, 40) + "..."));
  if (h.fortran_order) throw bad("Fortran order is not supported");
  check_npy_file_size(h, file_size, name);  // before allocating: the data must be there
  auto t = at::empty(h.shape, at::TensorOptions().dtype(type));
  const auto bytes = static_cast<std::streamsize>(t.numel() * t.element_size());
  in.seekg(static_cast<std::streamoff>(h.data_offset));
  if (bytes > 0 && !in.read(static_cast<char*>(t.data_ptr()), bytes)) throw bad("truncated data");
  return t;
}

}  // namespace critlab::io
