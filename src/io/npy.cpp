#include "critlab/io/npy.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "critlab/core/error.h"
#include "critlab/io/files.h"

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
  std::string shape = fmt::format("{}", fmt::join(t.sizes(), ", "));
  if (t.dim() == 1) shape += ",";  // "(3,)", "(3, 4)", "()"
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, shape);
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in
  // \n.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>((header.size() >> 8) & 0xff));
  out += header;
  out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  write_atomic(path, out);
}

at::Tensor read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open '{}'", path.string()));
  const auto bad = [&](const std::string& why) {
    return Error(fmt::format("'{}' is not a readable .npy file: {}", path.string(), why));
  };
  char magic[8];
  if (!in.read(magic, 8) || std::string(magic, 6) != std::string("\x93NUMPY", 6)) throw bad("bad magic");
  std::size_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char l[2];
    if (!in.read(reinterpret_cast<char*>(l), 2)) throw bad("truncated header");
    header_len = l[0] | (l[1] << 8);
  } else if (magic[6] == 2 || magic[6] == 3) {
    unsigned char l[4];
    if (!in.read(reinterpret_cast<char*>(l), 4)) throw bad("truncated header");
    header_len = l[0] | (l[1] << 8) | (l[2] << 16) | (static_cast<std::size_t>(l[3]) << 24);
  } else {
    throw bad(fmt::format("unknown format version {}", static_cast<int>(magic[6])));
  }
  std::string header(header_len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len))) throw bad("truncated header");
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']+)'"))) throw bad("no descr");
  const std::string descr = m[1];
  at::ScalarType type = at::kFloat;
  bool found = false;
  for (const auto& d : kDtypes)
    if (descr == d.descr || (descr[0] == '=' && descr.substr(1) == std::string(d.descr).substr(1)))
      type = d.type, found = true;
  if (!found) throw bad(fmt::format("unsupported dtype '{}'", descr));
  if (std::regex_search(header, std::regex("'fortran_order':\\s*True")))
    throw bad("Fortran order is not supported");
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) throw bad("no shape");
  std::vector<std::int64_t> shape;
  std::stringstream ss(m[1].str());
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.find_first_not_of(" ") == std::string::npos) continue;
    try {
      shape.push_back(std::stoll(item));
    } catch (const std::exception&) {
      throw bad(fmt::format("bad shape entry '{}'", item));
    }
    if (shape.back() < 0) throw bad("negative dimension");
  }
  auto t = at::empty(shape, at::TensorOptions().dtype(type));
  const auto bytes = static_cast<std::streamsize>(t.numel() * t.element_size());
  if (bytes > 0 && !in.read(static_cast<char*>(t.data_ptr()), bytes)) throw bad("truncated data");
  return t;
}

}  // namespace critlab::io
