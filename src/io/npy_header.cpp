#include "critlab/io/npy_header.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <limits>

#include "critlab/core/error.h"

namespace critlab::io {

namespace {

// The first characters of something long, for error messages.
std::string shorten(std::string_view s) {
  if (s.size() <= 40) return std::string(s);
  return fmt::format("{}... ({} characters)", s.substr(0, 40), s.size());
}

// A cursor over the dict literal. Every method throws through bad() on malformed input.
class Scanner {
 public:
  Scanner(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  Error bad(const std::string& why) const {
    return Error(fmt::format("'{}' is not a readable .npy file: {}", name_, why));
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool accept(char c) {
    skip_space();
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c, const char* where) {
    if (!accept(c))
      throw bad(at_end() ? fmt::format("header ends where '{}' was expected {}", c, where)
                         : fmt::format("expected '{}' {}, found '{}' at header byte {}", c, where,
                                       shorten(s_.substr(pos_, 1)), pos_));
  }
  std::string string_literal(const char* what) {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') throw bad(fmt::format("{} is not a quoted string", what));
    const auto end = s_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) throw bad(fmt::format("{} is an unterminated string", what));
    const auto text = s_.substr(pos_ + 1, end - pos_ - 1);
    if (text.find('\\') != std::string_view::npos)
      throw bad(fmt::format("{} '{}' has an escape sequence", what, shorten(text)));
    pos_ = end + 1;
    return std::string(text);
  }
  bool boolean(const char* what) {
    skip_space();
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {"False", false}})
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    throw bad(fmt::format("{} is not True or False", what));
  }
  std::int64_t integer() {
    skip_space();
    if (at_end()) throw bad("header ends inside the shape");
    if (peek() == '-') throw bad("the shape has a negative dimension");
    if (peek() < '0' || peek() > '9') throw bad(fmt::format("bad shape entry at header byte {}", pos_));
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = peek() - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10)
        throw bad("a shape entry does not fit in 64 bits");
      v = v * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2's long literals, as old numpy wrote them
    return v;
  }
  // ( int, int, ... ) with an optional trailing comma; "(3,)" and "()" included.
  std::vector<std::int64_t> shape() {
    expect('(', "to open the shape");
    std::vector<std::int64_t> out;
    while (!accept(')')) {
      if (out.size() == kMaxNpyDims)
        throw bad(fmt::format("the shape has more than {} dimensions", kMaxNpyDims));
      out.push_back(integer());
      if (!accept(',')) {
        expect(')', "after a shape entry");
        break;
      }
    }
    return out;
  }

 private:
  std::string_view s_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

}  // namespace

NpyHeader parse_npy_header(std::string_view bytes, const std::string& source_name) {
  const auto bad = [&](const std::string& why) {
    return Error(fmt::format("'{}' is not a readable .npy file: {}", source_name, why));
  };
  if (bytes.size() < 8 || bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6)) throw bad("bad magic");
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, preamble = 0;
  if (major == 1) {
    if (bytes.size() < 10) throw bad("truncated header");
    header_len = static_cast<unsigned char>(bytes[8]) |
                 (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    preamble = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw bad("truncated header");
    for (int k = 3; k >= 0; --k) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + k]);
    preamble = 12;
  } else {
    throw bad(fmt::format("unknown format version {}", static_cast<int>(major)));
  }
  if (header_len > kMaxNpyHeaderBytes)
    throw bad(
        fmt::format("the header claims {} bytes; at most {} are accepted", header_len, kMaxNpyHeaderBytes));
  if (bytes.size() - preamble < header_len)
    throw bad(
        fmt::format("truncated header: {} bytes promised, {} present", header_len, bytes.size() - preamble));

  Scanner sc(bytes.substr(preamble, header_len), source_name);
  NpyHeader h;
  h.data_offset = preamble + header_len;
  bool seen_descr = false, seen_order = false, seen_shape = false;
  sc.expect('{', "to open the header");
  while (!sc.accept('}')) {
    const std::string key = sc.string_literal("a header key");
    sc.expect(':', fmt::format("after '{}'", shorten(key)).c_str());
    const auto once = [&](bool& seen) {
      if (seen) throw bad(fmt::format("the header has '{}' twice", key));
      seen = true;
    };
    if (key == "descr") {
      once(seen_descr);
      sc.skip_space();
      if (sc.peek() == '[') throw bad("structured dtypes (a list as 'descr') are not supported");
      h.descr = sc.string_literal("'descr'");
      if (h.descr.empty()) throw bad("'descr' is empty");
    } else if (key == "fortran_order") {
      once(seen_order);
      h.fortran_order = sc.boolean("'fortran_order'");
    } else if (key == "shape") {
      once(seen_shape);
      h.shape = sc.shape();
    } else {
      throw bad(fmt::format("unknown header key '{}'", shorten(key)));
    }
    if (!sc.accept(',')) {
      sc.expect('}', "to close the header");
      break;
    }
  }
  sc.skip_space();
  if (!sc.at_end()) throw bad("the header has text after its closing '}'");
  if (!seen_descr) throw bad("no descr");
  if (!seen_order) throw bad("no fortran_order");
  if (!seen_shape) throw bad("no shape");
  return h;
}

std::size_t npy_element_size(std::string_view descr) {
  if (!descr.empty() && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '='))
    descr.remove_prefix(1);
  if (descr.size() < 2 || descr.size() > 3) return 0;
  const char kind = descr[0];
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f' && kind != 'c') return 0;
  std::size_t n = 0;
  for (const char c : descr.substr(1)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n != 1 && n != 2 && n != 4 && n != 8 && n != 16) return 0;
  return n;
}

std::uint64_t npy_data_bytes(const NpyHeader& h, const std::string& source_name) {
  const auto bad = [&](const std::string& why) {
    return Error(fmt::format("'{}' is not a readable .npy file: {}", source_name, why));
  };
  const std::size_t elem = npy_element_size(h.descr);
  if (elem == 0) throw bad(fmt::format("unsupported dtype '{}'", shorten(h.descr)));
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t product = elem;  // of the non-zero dimensions
  bool zero = false;
  for (const auto d : h.shape) {
    if (d < 0) throw bad("the shape has a negative dimension");
    if (d == 0) {
      zero = true;
      continue;
    }
    if (static_cast<std::uint64_t>(d) > kMax / product)
      throw bad(
          fmt::format("the shape ({}) times {} bytes overflows 64 bits", fmt::join(h.shape, ", "), elem));
    product *= static_cast<std::uint64_t>(d);
  }
  return zero ? 0 : product;
}

void check_npy_file_size(const NpyHeader& h, std::uint64_t file_size, const std::string& source_name) {
  const std::uint64_t data = npy_data_bytes(h, source_name);
  const std::uint64_t holds = file_size >= h.data_offset ? file_size - h.data_offset : 0;
  if (holds < data)
    throw Error(
        fmt::format("'{}' is not a readable .npy file: truncated data: the header promises {} bytes (shape "
                    "({}) of '{}'), the "
                    "file holds {}",
                    source_name, data, fmt::join(h.shape, ", "), shorten(h.descr), holds));
  if (holds > data)
    throw Error(fmt::format("'{}' is not a readable .npy file: {} bytes after the {} the header promises",
                            source_name, holds - data, data));
}

std::string format_npy_header(std::string_view descr, bool fortran_order,
                              std::span<const std::int64_t> shape) {
  std::string dims = fmt::format("{}", fmt::join(shape, ", "));
  if (shape.size() == 1) dims += ",";  // "(3,)", "(3, 4)", "()"
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': ({}), }}", descr,
                                   fortran_order ? "True" : "False", dims);
  // Magic (6) + version (2) + header length (2 or 4) + header, padded with spaces so that the data starts at
  // a multiple of 64, ending in \n. Version 2.0 only when the padded header does not fit in 2 bytes.
  const auto padded = [&](std::size_t preamble) {
    const std::size_t unpadded = preamble + header.size() + 1;
    return header.size() + 1 + (64 - unpadded % 64) % 64;
  };
  const bool v2 = padded(10) > 65535;
  const std::size_t preamble = v2 ? 12 : 10, header_len = padded(preamble);
  header.append(header_len - header.size() - 1, ' ');
  header.push_back('\n');
  std::string out(v2 ? std::string_view("\x93NUMPY\x02\x00", 8) : std::string_view("\x93NUMPY\x01\x00", 8));
  for (std::size_t k = 0; k < preamble - 8; ++k)
    out.push_back(static_cast<char>((header_len >> (8 * k)) & 0xff));
  return out + header;
}

}  // namespace critlab::io
