// libFuzzer target for the torch-free graph statistics on arbitrary numbers: full-resolution percolation
// (graph/scaling.h: fine_sweep, fit_scaling, collapse), the sweeps and sort of graph/percolation.h, and the
// Hebbian, drift/diffusion and redistribution tests of graph/hebbian.h. The input's bytes become node
// indices, weights (any float bit pattern: NaN, inf, negative zero) and arrays. Any input must give a result
// or critlab::Error; any other exception, a crash or a sanitizer report is a finding. Seeds:
// fuzz/corpus/graph_scaling/.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "critlab/core/error.h"
#include "critlab/graph/hebbian.h"
#include "critlab/graph/percolation.h"
#include "critlab/graph/scaling.h"

namespace {

struct Reader {
  const uint8_t* p;
  size_t n;
  template <typename T>
  T take() {
    T v{};
    if (n >= sizeof(T)) {
      std::memcpy(&v, p, sizeof(T));
      p += sizeof(T), n -= sizeof(T);
    } else {
      n = 0;
    }
    return v;
  }
};

template <typename F>
void guarded(F&& f) {
  try {
    f();
  } catch (const critlab::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 14) return 0;
  using namespace critlab::graph;
  Reader r{data, size};
  const auto nodes = static_cast<std::int64_t>(r.take<uint8_t>() % 40);
  const auto m = static_cast<std::size_t>(r.take<uint8_t>());
  std::vector<WeightedEdge> edges;
  for (std::size_t i = 0; i < m && r.n > 0; ++i) {
    const auto u = static_cast<std::int32_t>(r.take<uint8_t>()) - 2,
               v = static_cast<std::int32_t>(r.take<uint8_t>()) - 2;
    edges.push_back({u % (static_cast<std::int32_t>(nodes) + 1), v % (static_cast<std::int32_t>(nodes) + 1),
                     r.take<float>()});
  }
  guarded([&] { (void)fine_sweep(nodes, edges); });
  guarded([&] { (void)percolation_sweep(nodes, edges, {0.0, 0.5, -1.0, 1e30}); });
  guarded([&] {
    auto copy = edges;
    sort_by_weight_descending(copy);
  });
  // Scaling fits and a collapse from the remaining numbers.
  std::vector<double> xs;
  while (r.n >= sizeof(float) && xs.size() < 64) xs.push_back(static_cast<double>(r.take<float>()));
  if (xs.size() >= 2) {
    const std::size_t half = xs.size() / 2;
    const std::vector<double> a(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(half)),
        b(xs.begin() + static_cast<std::ptrdiff_t>(half), xs.begin() + static_cast<std::ptrdiff_t>(2 * half));
    guarded([&] { (void)fit_scaling(a, b); });
    std::vector<CollapseCurve> curves;
    for (std::size_t c = 0; c < 3 && c * 4 + 4 <= xs.size(); ++c) {
      CollapseCurve k{.size = xs[c * 4]};
      for (std::size_t i = 0; i < 3; ++i)
        k.x.push_back(xs[c * 4 + 1 + i] + static_cast<double>(i)), k.y.push_back(xs[i]);
      curves.push_back(k);
    }
    guarded([&] { (void)collapse(curves); });
    // The Hebbian family on a small layer.
    const std::int64_t out = 2 + static_cast<std::int64_t>(xs.size() % 4), in = 6;  // >= 10 pairs
    std::vector<float> dw(static_cast<std::size_t>(out * in)), co(dw.size()), w2(dw.size());
    for (std::size_t i = 0; i < dw.size(); ++i)
      dw[i] = static_cast<float>(xs[i % xs.size()]), co[i] = static_cast<float>(xs[(i + 1) % xs.size()]),
      w2[i] = static_cast<float>(xs[(i + 2) % xs.size()]);
    guarded([&] { (void)hebbian_test(dw.data(), co.data(), out, in, {.shuffles = 3, .bootstrap = 3}); });
    guarded([&] {
      (void)drift_diffusion({0.0, 1.0, xs[0]}, {dw.data(), co.data(), w2.data()}, {0, 1, out * in - 1});
    });
    guarded([&] {
      (void)redistribution_test({0.0, 2.0}, {dw.data(), co.data()}, out, in, {0}, {1}, {.shuffles = 3});
    });
  }
  return 0;
}
