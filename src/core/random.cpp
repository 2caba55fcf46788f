#include "critlab/core/random.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace critlab {

namespace {

constexpr double kR = 3.6541528853610088;  // the base layer's right edge, 256 layers
constexpr double kV = 4.92867323399e-3;    // the area of each layer

// Marsaglia & Tsang's tables for 23-bit abscissae: k[i] (accept below), w23[i] (the abscissa per unit of
// the 23-bit integer, times 2^23), f[i] (the density at the layer's top edge).
struct Tables {
  std::array<std::uint32_t, 256> k{};
  std::array<float, 256> w23{}, f{};
  Tables() {
    const double m = 8388608.0;  // 2^23
    const auto density = [](double x) { return std::exp(-0.5 * x * x); };
    const auto w23_of = [&](double width) { return static_cast<float>(width / m) * 8388608.0f; };
    const double q = kV / density(kR);
    double dn = kR, tn = kR;
    k[0] = static_cast<std::uint32_t>((dn / q) * m);
    k[1] = 0;
    w23[0] = w23_of(q);
    w23[255] = w23_of(dn);
    f[0] = 1.0f;
    f[255] = static_cast<float>(density(dn));
    for (int i = 254; i >= 1; --i) {
      dn = std::sqrt(-2.0 * std::log(kV / dn + density(dn)));
      k[static_cast<std::size_t>(i) + 1] = static_cast<std::uint32_t>((dn / tn) * m);
      tn = dn;
      f[static_cast<std::size_t>(i)] = static_cast<float>(density(dn));
      w23[static_cast<std::size_t>(i)] = w23_of(dn);
    }
  }
};

const Tables kTables;  // built once at load time

// Bits of r: 0-7 the layer, 8 the sign, 9-31 the abscissa. The draw inside the layer's rectangle is
// rabs * w[layer] with r's sign, computed without an integer-to-float conversion (cvtsi2ss writes only part
// of its register, which chained every draw to the one before): 1.m - 1 = rabs 2^-23 exactly, times
// w[layer] 2^23 (exact), is the same single rounding of rabs * w[layer].
inline std::uint32_t abscissa(std::uint32_t r) { return (r >> 9) & 0x7fffff; }
inline bool in_rectangle(std::uint32_t r) { return abscissa(r) < kTables.k[r & 0xff]; }
inline float rectangle_value(std::uint32_t r) {
  const float unit = std::bit_cast<float>(0x3f800000u | abscissa(r)) - 1.0f;
  const float x = unit * kTables.w23[r & 0xff];
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(x) ^ ((r & 0x100u) << 23));
}

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// xoshiro256++ on a state the caller keeps (in registers, in the loops below).
inline std::uint64_t step(std::uint64_t* s) {
  const std::uint64_t result = rotl(s[0] + s[3], 23) + s[0];
  const std::uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

inline double uniform(std::uint64_t* s) { return static_cast<double>(step(s) >> 11) * 0x1.0p-53; }

// The ziggurat's rare paths (1% of draws): the wedges and the tail, retried with fresh bits until a draw is
// accepted.
[[gnu::noinline]] float slow_draw(std::uint32_t r, std::uint64_t* s) {
  const Tables& t = kTables;
  for (;;) {
    const std::size_t idx = r & 0xff;
    const float x = rectangle_value(r);
    if (in_rectangle(r)) return x;
    if (idx == 0) {
      // The tail beyond kR (Marsaglia 1964): x = -ln(U1)/r, y = -ln(U2), accepted when 2y > x^2.
      double xx, yy;
      do {
        xx = -std::log1p(-uniform(s)) / kR;
        yy = -std::log1p(-uniform(s));
      } while (yy + yy <= xx * xx);
      return static_cast<float>((r & 0x100) ? -(kR + xx) : kR + xx);
    }
    // The wedge between the rectangle and the density.
    if ((t.f[idx - 1] - t.f[idx]) * uniform(s) + t.f[idx] < std::exp(-0.5 * static_cast<double>(x) * x))
      return x;
    r = static_cast<std::uint32_t>(step(s) >> 32);
  }
}

inline float draw(std::uint32_t r, std::uint64_t* s) {
  if (in_rectangle(r)) [[likely]]  // 99% of draws
    return rectangle_value(r);
  return slow_draw(r, s);
}

}  // namespace

NormalSampler::NormalSampler(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t NormalSampler::next_u64() { return step(s_); }

double NormalSampler::uniform() { return critlab::uniform(s_); }

float NormalSampler::next() {
  if (has_spare_) {
    has_spare_ = false;
    return draw(spare_, s_);
  }
  const std::uint64_t u = step(s_);
  spare_ = static_cast<std::uint32_t>(u);
  has_spare_ = true;
  return draw(static_cast<std::uint32_t>(u >> 32), s_);
}

namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CRITLAB_RANDOM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CRITLAB_RANDOM_CLONES
#endif

// The fast path of the draws in the `count` 32-bit words r (one loop without branches, which vectorises,
// gathering from the tables): x[j] the rectangle's draw, ok[j] = 0 where the draw falls outside its
// layer's rectangle and must take the slow path.
CRITLAB_RANDOM_CLONES
void rectangle_draws(const std::uint32_t* __restrict r, std::int64_t count, float* __restrict x,
                     std::uint8_t* __restrict ok) {
  for (std::int64_t j = 0; j < count; ++j) {
    x[j] = rectangle_value(r[j]);
    ok[j] = in_rectangle(r[j]);
  }
}

}  // namespace

// Two draws per generator step, in the order next() gives them (high half first). The generator's outputs
// are made a block at a time with the state in registers and turned into rectangle draws without branches;
// the rare slow draws (wedges, tail) then take further outputs from the state itself, in order.
template <typename Put>
void NormalSampler::each(std::int64_t n, Put&& put) {
  std::int64_t i = 0;
  if (has_spare_ && n > 0) {
    has_spare_ = false;
    put(i++, draw(spare_, s_));
  }
  constexpr std::int64_t kBlock = 256;
  std::uint32_t r[2 * kBlock];
  float x[2 * kBlock];
  std::uint8_t ok[2 * kBlock];
  while (n - i >= 2) {
    const std::int64_t pairs = std::min<std::int64_t>(kBlock, (n - i) / 2);
    {
      std::uint64_t s0 = s_[0], s1 = s_[1], s2 = s_[2], s3 = s_[3];
      for (std::int64_t k = 0; k < pairs; ++k) {
        const std::uint64_t b = rotl(s0 + s3, 23) + s0;
        r[2 * k] = static_cast<std::uint32_t>(b >> 32), r[2 * k + 1] = static_cast<std::uint32_t>(b);
        const std::uint64_t t = s1 << 17;
        s2 ^= s0, s3 ^= s1, s1 ^= s2, s0 ^= s3, s2 ^= t, s3 = rotl(s3, 45);
      }
      s_[0] = s0, s_[1] = s1, s_[2] = s2, s_[3] = s3;
    }
    rectangle_draws(r, 2 * pairs, x, ok);
    for (std::int64_t j = 0; j < 2 * pairs; ++j) put(i + j, ok[j] ? x[j] : slow_draw(r[j], s_));
    i += 2 * pairs;
  }
  if (i < n) put(i, next());
}

void NormalSampler::fill(float* out, std::int64_t n, float mean, float sd) {
  each(n, [&](std::int64_t i, float z) { out[i] = mean + sd * z; });
}

void NormalSampler::add(float* out, std::int64_t n, float sd) {
  each(n, [&](std::int64_t i, float z) { out[i] += sd * z; });
}

}  // namespace critlab
