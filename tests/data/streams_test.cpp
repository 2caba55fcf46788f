// Issue 6, must-show 2 (part): the slowly-changing regression generator against its definition (flip
// schedule, target values from a reference loop), and the task streams' permutations.
#include "critlab/data/streams.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "critlab/core/error.h"

using namespace critlab;

TEST(Streams, SlowlyChangingRegressionFollowsItsDefinition) {
  const std::int64_t period = 50, n = 1000;
  data::SlowlyChangingRegression gen(3, period, 0.7);
  auto [x, y] = gen.next(n);
  ASSERT_EQ(x.sizes(), (std::vector<std::int64_t>{n, 20}));
  const auto xa = x.accessor<float, 2>();
  // Slow bits change only at multiples of the period, exactly one bit each time.
  for (std::int64_t i = 1; i < n; ++i) {
    int changed = 0;
    for (int k = 0; k < 15; ++k) changed += xa[i][k] != xa[i - 1][k];
    EXPECT_EQ(changed, i % period == 0 ? 1 : 0) << "example " << i;
  }
  // Fast bits: fair coins (5,000 draws: mean within 4 sd of 0.5).
  const double fast_mean = x.slice(1, 15, 20).mean().item<double>();
  EXPECT_NEAR(fast_mean, 0.5, 4 * 0.5 / std::sqrt(5.0 * n));
  // The target, from a reference loop over the definition.
  const auto w = gen.weights().accessor<float, 2>();
  const auto b = gen.bias_weights().accessor<float, 1>();
  const auto v = gen.output_weights().accessor<float, 1>();
  const auto theta = gen.thresholds().accessor<float, 1>();
  for (std::int64_t i = 0; i < n; i += 37) {
    double target = 0;
    for (int u = 0; u < 100; ++u) {
      double s = b[u];
      int negatives = b[u] < 0;
      for (int k = 0; k < 20; ++k) s += w[u][k] * xa[i][k], negatives += w[u][k] < 0;
      EXPECT_NEAR(theta[u], 0.7 * 21 - negatives, 1e-5);
      if (s > 0.7 * 21 - negatives) target += v[u];
    }
    EXPECT_FLOAT_EQ(y[i].item<float>(), static_cast<float>(target)) << "example " << i;
  }
  // The same seed gives the same stream; parameters are in {-1, +1}.
  data::SlowlyChangingRegression again(3, period, 0.7);
  EXPECT_TRUE(torch::equal(again.next(n).first, x));
  EXPECT_TRUE(gen.weights().abs().eq(1).all().item<bool>());
  EXPECT_THROW(data::SlowlyChangingRegression(1, 0), Error);
}

TEST(Streams, PermutedTasksAreAddressableAndPermuteWhatTheySay) {
  torch::manual_seed(0);
  data::Dataset pool{torch::rand({300, 1, 4, 4}), torch::randint(0, 10, {300}, torch::kInt64)};
  data::TaskStream pixels(pool, data::StreamKind::kPermutedPixels, 100, 7);
  const auto t3 = pixels.task(3), t3b = pixels.task(3), t4 = pixels.task(4);
  EXPECT_TRUE(torch::equal(t3.data.images, t3b.data.images));
  EXPECT_FALSE(torch::equal(t3.permutation, t4.permutation));
  EXPECT_EQ(t3.data.size(), 100);
  // Each task image is some pool image with its pixels permuted by the task's permutation.
  const auto flat = pool.images.flatten(1);
  for (std::int64_t i = 0; i < 5; ++i) {
    const auto img = t3.data.images[i].flatten();
    bool found = false;
    for (std::int64_t j = 0; j < pool.size() && !found; ++j)
      found = torch::equal(flat[j].index_select(0, t3.permutation), img) &&
              pool.labels[j].item<std::int64_t>() == t3.data.labels[i].item<std::int64_t>();
    EXPECT_TRUE(found) << "task image " << i;
  }
  data::TaskStream labels(pool, data::StreamKind::kPermutedLabels, 1000, 7);
  const auto l0 = labels.task(0);
  EXPECT_EQ(l0.data.size(), 300);  // capped at the pool
  EXPECT_EQ(std::get<0>(at::sort(l0.permutation)).equal(torch::arange(10)), true);
}
