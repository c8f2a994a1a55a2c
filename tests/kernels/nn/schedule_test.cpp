// SPDX-License-Identifier: BSD-3-Clause
// Warmup + cosine schedule: its key values against the analytic formula of reference-spec §4.
#include "kernels/nn/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace selectiv::nn {
namespace {
constexpr double kExact = 1e-15;  // double arithmetic on a handful of operations
}  // namespace

TEST(WarmupCosineSchedule, KeyValuesOfASmallSchedule) {
  // W = 4 warmup updates, S = 12 updates in all.
  EXPECT_EQ(warmup_cosine_factor(0, 4, 12), 0.0);  // the first update has lr 0
  EXPECT_NEAR(warmup_cosine_factor(1, 4, 12), 0.25, kExact);
  EXPECT_NEAR(warmup_cosine_factor(2, 4, 12), 0.5, kExact);                         // W / 2
  EXPECT_NEAR(warmup_cosine_factor(4, 4, 12), 1.0, kExact);                         // end of warmup: cos(0)
  EXPECT_NEAR(warmup_cosine_factor(6, 4, 12), 0.5 + std::sqrt(2.0) / 4.0, kExact);  // a quarter: cos(pi / 4)
  EXPECT_NEAR(warmup_cosine_factor(8, 4, 12), 0.5, kExact);   // midpoint of the decay: cos(pi / 2)
  EXPECT_NEAR(warmup_cosine_factor(12, 4, 12), 0.0, kExact);  // S: cos(pi)
}

TEST(WarmupCosineSchedule, ReferenceSweepValues) {
  // The reference's S = 200000 // 64 = 3125 updates and W = 476 (and 1000).
  const std::int64_t S = 3125;
  for (const std::int64_t W : {476, 1000}) {
    SCOPED_TRACE("W=" + std::to_string(W));
    EXPECT_EQ(warmup_cosine_factor(0, W, S), 0.0);
    EXPECT_NEAR(warmup_cosine_factor(W / 2, W, S), 0.5, kExact);
    EXPECT_NEAR(warmup_cosine_factor(W - 1, W, S), static_cast<double>(W - 1) / static_cast<double>(W), kExact);
    EXPECT_NEAR(warmup_cosine_factor(W, W, S), 1.0, kExact);
    const double pi = std::acos(-1.0);
    const std::int64_t mid = W + (S - W) / 2;  // S - W is odd: the midpoint falls half an update early
    EXPECT_NEAR(warmup_cosine_factor(mid, W, S),
                0.5 * (1.0 + std::cos(pi * static_cast<double>(mid - W) / static_cast<double>(S - W))), kExact);
    EXPECT_NEAR(warmup_cosine_factor(mid, W, S), 0.5, pi / 4.0 / static_cast<double>(S - W) * 1.0001);
    EXPECT_NEAR(warmup_cosine_factor(S, W, S), 0.0, kExact);
    // Monotone: up during warmup, down afterwards; the last update (s = S - 1) is tiny but positive.
    for (std::int64_t s = 1; s < S; ++s) {
      const double previous = warmup_cosine_factor(s - 1, W, S);
      const double current = warmup_cosine_factor(s, W, S);
      if (s <= W) {
        ASSERT_GT(current, previous) << "s=" << s;
      } else {
        ASSERT_LT(current, previous) << "s=" << s;
      }
    }
    EXPECT_GT(warmup_cosine_factor(S - 1, W, S), 0.0);
    EXPECT_NEAR(warmup_cosine_lr(2e-3, W, W, S), 2e-3, kExact);
    EXPECT_NEAR(warmup_cosine_lr(2e-3, W / 2, W, S), 1e-3, kExact);
  }
}

TEST(WarmupCosineSchedule, NoWarmupStartsAtFullRate) {
  EXPECT_EQ(warmup_cosine_factor(0, 0, 10), 1.0);
  EXPECT_NEAR(warmup_cosine_factor(5, 0, 10), 0.5, kExact);
}

TEST(WarmupCosineSchedule, RejectsBadArguments) {
  EXPECT_THROW(warmup_cosine_factor(-1, 4, 12), std::invalid_argument);
  EXPECT_THROW(warmup_cosine_factor(0, -1, 12), std::invalid_argument);
  EXPECT_THROW(warmup_cosine_factor(0, 12, 12), std::invalid_argument);  // no room for the decay
}

}  // namespace selectiv::nn
