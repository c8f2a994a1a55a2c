// SPDX-License-Identifier: BSD-3-Clause
// The host reference of causal attention against independent oracles: central finite differences for the backward,
// closed forms (uniform scores, one step, one-hot softmax) for the forward.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "attention_fixtures.hpp"
#include "kernels/attention/reference.hpp"
#include "support/testing.hpp"

namespace selectiv::attention {
namespace {

using test::Shape;

// Central differences in double with h = 1e-6 have truncation error ~h^2 and rounding error ~1e-16 / h, both far
// below this on O(1) inputs.
constexpr double kFiniteDifferenceTolerance = 1e-6;
// Closed forms are evaluated in double on both sides.
constexpr double kClosedFormTolerance = 1e-12;

// The scalar loss sum(weights * o) for q, k, v packed one after the other in x.
double weighted_output(const std::vector<double>& x, const std::vector<double>& weights, const Shape& s,
                       double scale) {
  const std::size_t n = s.size();
  std::vector<double> q(x.begin(), x.begin() + n), k(x.begin() + n, x.begin() + 2 * n), v(x.begin() + 2 * n, x.end());
  std::vector<double> o(n), lse(s.rows());
  attention_reference_fwd(test::view4(o, s), test::view_lse(lse, s), test::cview4(q, s), test::cview4(k, s),
                          test::cview4(v, s), scale);
  double loss = 0.0;
  for (std::size_t i = 0; i < n; ++i) loss += weights[i] * o[i];
  return loss;
}

TEST(AttentionReference, BackwardMatchesFiniteDifferences) {
  const Shape s{2, 6, 2, 3};
  const std::size_t n = s.size();
  const double scale = 1.0 / std::sqrt(3.0);
  std::vector<double> x = test::random_tensor(3 * n, 11, 1.5);  // q, k, v
  const std::vector<double> weights = test::random_tensor(n, 12);  // = dL/do

  const std::vector<double> fd = testing::finite_difference_gradient(
      [&](const std::vector<double>& point) { return weighted_output(point, weights, s, scale); }, x);

  std::vector<double> q(x.begin(), x.begin() + n), k(x.begin() + n, x.begin() + 2 * n), v(x.begin() + 2 * n, x.end());
  std::vector<double> dq(n), dk(n), dv(n);
  attention_reference_bwd(test::view4(dq, s), test::view4(dk, s), test::view4(dv, s), test::cview4(weights, s),
                          test::cview4(q, s), test::cview4(k, s), test::cview4(v, s), scale);

  const std::vector<double> fd_q(fd.begin(), fd.begin() + n), fd_k(fd.begin() + n, fd.begin() + 2 * n),
      fd_v(fd.begin() + 2 * n, fd.end());
  EXPECT_LE(testing::err_ratio(fd_q, dq), kFiniteDifferenceTolerance);
  EXPECT_LE(testing::err_ratio(fd_k, dk), kFiniteDifferenceTolerance);
  EXPECT_LE(testing::err_ratio(fd_v, dv), kFiniteDifferenceTolerance);
}

// q = 0 makes every visible score 0: o_t is the mean of v_0..v_t and lse_t = log(t + 1).
TEST(AttentionReference, UniformScoresAverageThePrefix) {
  const Shape s{2, 9, 3, 4};
  std::vector<double> q(s.size(), 0.0), k = test::random_tensor(s.size(), 21), v = test::random_tensor(s.size(), 22);
  std::vector<double> o(s.size()), lse(s.rows());
  attention_reference_fwd(test::view4(o, s), test::view_lse(lse, s), test::cview4(q, s), test::cview4(k, s),
                          test::cview4(v, s), 0.5);

  std::vector<double> expected_o(s.size()), expected_lse(s.rows());
  auto v_at = test::cview4(v, s);
  auto expected_view = test::view4(expected_o, s);
  auto expected_lse_view = test::view_lse(expected_lse, s);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int t = 0; t < s.length; ++t) {
        expected_lse_view(b, h, t) = std::log(t + 1.0);
        for (int d = 0; d < s.head_dim; ++d) {
          double sum = 0.0;
          for (int u = 0; u <= t; ++u) sum += v_at(b, u, h, d);
          expected_view(b, t, h, d) = sum / (t + 1);
        }
      }
  EXPECT_LE(testing::err_ratio(expected_o, o), kClosedFormTolerance);
  EXPECT_LE(testing::err_ratio(expected_lse, lse), kClosedFormTolerance);
}

// T = 1: the softmax has one entry, so o = v, lse = scale q.k, and the gradients are dq = dk = 0, dv = do.
TEST(AttentionReference, SingleStepPassesValueThrough) {
  const Shape s{2, 1, 3, 5};
  const double scale = 0.3;
  const auto q = test::random_tensor(s.size(), 31), k = test::random_tensor(s.size(), 32),
             v = test::random_tensor(s.size(), 33), g = test::random_tensor(s.size(), 34);
  std::vector<double> o(s.size()), lse(s.rows()), dq(s.size()), dk(s.size()), dv(s.size());
  attention_reference_fwd(test::view4(o, s), test::view_lse(lse, s), test::cview4(q, s), test::cview4(k, s),
                          test::cview4(v, s), scale);
  attention_reference_bwd(test::view4(dq, s), test::view4(dk, s), test::view4(dv, s), test::cview4(g, s),
                          test::cview4(q, s), test::cview4(k, s), test::cview4(v, s), scale);
  std::vector<double> expected_lse(s.rows());
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h) {
      double dot = 0.0;
      for (int d = 0; d < s.head_dim; ++d) {
        const std::size_t i = (static_cast<std::size_t>(b) * s.heads + h) * s.head_dim + d;
        dot += q[i] * k[i];
      }
      expected_lse[static_cast<std::size_t>(b) * s.heads + h] = scale * dot;
    }
  EXPECT_LE(testing::err_ratio(v, o), kClosedFormTolerance);
  EXPECT_LE(testing::err_ratio(g, dv), kClosedFormTolerance);
  EXPECT_LE(testing::err_ratio(expected_lse, lse), kClosedFormTolerance);
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(dq[i], 0.0);
    EXPECT_EQ(dk[i], 0.0);
  }
}

// Scores 1000 units apart make each softmax one-hot to double precision: o_t is the value of the best visible key,
// and nothing overflows although exp(score) alone would (scores up to 11000 > 709).
TEST(AttentionReference, HugeScoresGiveTheValueOfTheBestKey) {
  const Shape s{1, 12, 2, 2};
  std::vector<double> q(s.size()), k(s.size()), v = test::random_tensor(s.size(), 41);
  auto qv = test::view4(q, s);
  auto kv = test::view4(k, s);
  for (int t = 0; t < s.length; ++t)
    for (int h = 0; h < s.heads; ++h) {
      qv(0, t, h, 0) = 40.0;
      qv(0, t, h, 1) = h == 0 ? 1.0 : -1.0;
      kv(0, t, h, 0) = 25.0 * ((t * 5 + h * 3) % 12);  // a permutation of 0..11 per head: one best key per prefix
      kv(0, t, h, 1) = 0.0;
    }
  std::vector<double> o(s.size()), lse(s.rows());
  attention_reference_fwd(test::view4(o, s), test::view_lse(lse, s), test::cview4(q, s), test::cview4(k, s),
                          test::cview4(v, s), 1.0);
  std::vector<double> expected(s.size()), expected_lse(s.rows());
  auto vv = test::cview4(v, s);
  auto ev = test::view4(expected, s);
  auto expected_lse_view = test::view_lse(expected_lse, s);
  for (int t = 0; t < s.length; ++t)
    for (int h = 0; h < s.heads; ++h) {
      int best = 0;
      for (int u = 1; u <= t; ++u)
        if (kv(0, u, h, 0) > kv(0, best, h, 0)) best = u;
      for (int d = 0; d < s.head_dim; ++d) ev(0, t, h, d) = vv(0, best, h, d);
      expected_lse_view(0, h, t) = 40.0 * kv(0, best, h, 0);
    }
  for (double x : o) ASSERT_TRUE(std::isfinite(x));
  EXPECT_LE(testing::err_ratio(expected, o), kClosedFormTolerance);
  EXPECT_LE(testing::err_ratio(expected_lse, lse), kClosedFormTolerance);
}

TEST(AttentionReference, RejectsMismatchedShapes) {
  const Shape s{1, 4, 2, 3}, wrong{1, 5, 2, 3};
  std::vector<double> q(s.size()), k(wrong.size()), v(s.size()), o(s.size()), lse(s.rows());
  EXPECT_THROW(attention_reference_fwd(test::view4(o, s), test::view_lse(lse, s), test::cview4(q, s),
                                       test::cview4(k, wrong), test::cview4(v, s), 1.0),
               std::invalid_argument);
}

}  // namespace
}  // namespace selectiv::attention
