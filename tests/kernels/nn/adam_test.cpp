// SPDX-License-Identifier: BSD-3-Clause
// Global-norm clipping and Adam over a flat arena: the device kernels against the double host reference over several
// steps, one step against its hand-derived value, and the clipping cases (no clip, clip, non-finite gradients).
#include "kernels/nn/adam.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/common/compat.hpp"
#include "kernels/nn/reference_train.hpp"
#include "support/testing.hpp"

namespace selectiv::nn {
namespace {

using selectiv::testing::err_ratio;

// Declared tolerances against the double reference.
constexpr double kTotalNormRelative = 1e-12;  // squares of floats summed in double, any order
// m, v and the parameter displacement after several float steps. The displacement carries the float rounding of
// parameters of size ~0.5 (3e-8) against moves of ~1e-2, so it is measured near 2e-6 here.
constexpr double kAdamStateErrRatio = 1e-5;
constexpr double kOneStepErrRatio = 1e-6;  // one step from p = m = v = 0 against the analytic value

std::vector<double> float_values(std::size_t n, double scale, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> values(n);
  for (double& v : values) v = static_cast<double>(static_cast<float>(normal(rng)));
  return values;
}

View1 to_device(const std::vector<double>& values) {
  View1 view("arena", values.size());
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host(i) = static_cast<float>(values[i]);
  Kokkos::deep_copy(view, host);
  return view;
}

std::vector<double> to_host(const View1& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.size());
}

std::vector<double> difference(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

}  // namespace

TEST(Adam, OneStepMatchesAnalyticValue) {
  // From p = m = v = 0 at step 1: m = (1 - b1) g, v = (1 - b2) g^2, so m_hat = g, v_hat = g^2 and
  // p = -lr * g / (|g| + eps). Gradients span magnitudes from far above eps to comparable with it.
  const std::vector<double> grads = {0.5, -2.0, 1e-3, -7e-6, 3e-8, -1e-8, 0.0, 42.0, 1.0 / 3.0};
  const double lr = 1e-3;
  const View1 params("params", grads.size());
  const View1 m("m", grads.size());
  const View1 v("v", grads.size());
  const std::vector<double> grads_float = to_host(to_device(grads));  // the float values the kernel sees
  adam_update(Exec(), params, m, v, to_device(grads), lr, 1);
  std::vector<double> expected(grads.size());
  for (std::size_t i = 0; i < grads.size(); ++i) {
    expected[i] = -lr * grads_float[i] / (std::fabs(grads_float[i]) + 1e-8);
  }
  EXPECT_LT(err_ratio(expected, to_host(params)), kOneStepErrRatio);
  // The far-from-eps entries move by lr, to float precision.
  EXPECT_NEAR(to_host(params)[1], lr, lr * 1e-6);
  EXPECT_EQ(to_host(params)[6], 0.0);  // zero gradient, zero step
}

TEST(Adam, SeveralClippedStepsMatchReference) {
  const std::size_t n_params = 1013;  // not a multiple of any vector width
  std::vector<double> params = float_values(n_params, 0.5, 1);
  const std::vector<double> params0 = params;
  std::vector<double> m(n_params, 0.0), v(n_params, 0.0);
  const View1 d_params = to_device(params);
  const View1 d_m("m", n_params);
  const View1 d_v("v", n_params);
  // Gradient scales chosen so that some steps clip (norm > 1) and others do not.
  const double grad_scales[] = {1.0, 1e-3, 0.2, 5e-3, 3.0, 0.02, 1e-4};
  const double lrs[] = {0.0, 1e-2, 2e-2, 5e-3, 1e-2, 3e-3, 1e-2};  // the first update has lr 0 (warmup f(0) = 0)
  int n_clipped = 0;
  for (int step = 1; step <= 7; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    std::vector<double> grads = float_values(n_params, grad_scales[step - 1], 100 + step);
    const View1 d_grads = to_device(grads);
    const double ref_norm = clip_grad_norm_reference(grads, 1.0);
    const double norm = clip_grad_norm(Exec(), d_grads, 1.0);
    EXPECT_LT(std::fabs(norm - ref_norm) / ref_norm, kTotalNormRelative);
    n_clipped += ref_norm > 1.0 ? 1 : 0;
    EXPECT_LT(err_ratio(grads, to_host(d_grads)), 1e-7);  // float rounding of the clipped gradients
    // The reference updates from the float gradients the device holds, so only the Adam arithmetic differs.
    adam_reference_update(params, m, v, to_host(d_grads), lrs[step - 1], step);
    adam_update(Exec(), d_params, d_m, d_v, d_grads, lrs[step - 1], step);
    EXPECT_LT(err_ratio(m, to_host(d_m)), kAdamStateErrRatio);
    EXPECT_LT(err_ratio(v, to_host(d_v)), kAdamStateErrRatio);
    if (step > 1) {
      EXPECT_LT(err_ratio(difference(params, params0), difference(to_host(d_params), params0)), kAdamStateErrRatio);
    } else {
      EXPECT_EQ(to_host(d_params), params0);  // lr = 0 leaves the weights untouched
    }
  }
  EXPECT_GE(n_clipped, 2);
  EXPECT_LE(n_clipped, 5);
}

TEST(ClipGradNorm, LeavesSmallGradientsUntouched) {
  const std::vector<double> grads = float_values(777, 1e-3, 2);  // norm ~ 0.03
  const View1 d_grads = to_device(grads);
  std::vector<double> ref = grads;
  const double ref_norm = clip_grad_norm_reference(ref, 1.0);
  ASSERT_LT(ref_norm, 1.0);
  EXPECT_LT(std::fabs(clip_grad_norm(Exec(), d_grads, 1.0) - ref_norm) / ref_norm, kTotalNormRelative);
  EXPECT_EQ(to_host(d_grads), grads);
}

TEST(ClipGradNorm, ScalesLargeGradientsToMaxNorm) {
  const std::size_t n = (1u << 20) + 3;
  const std::vector<double> grads = float_values(n, 1.0, 3);  // norm ~ 1024
  const View1 d_grads = to_device(grads);
  double sum_squares = 0.0;
  for (const double g : grads) sum_squares += g * g;
  const double expected_norm = std::sqrt(sum_squares);
  const double norm = clip_grad_norm(Exec(), d_grads, 1.0);
  EXPECT_LT(std::fabs(norm - expected_norm) / expected_norm, kTotalNormRelative);
  double clipped_squares = 0.0;
  for (const double g : to_host(d_grads)) clipped_squares += g * g;
  // clip_coef = 1 / (norm + 1e-6): the clipped norm is norm / (norm + 1e-6), 1 to within float rounding.
  EXPECT_NEAR(std::sqrt(clipped_squares), expected_norm / (expected_norm + 1e-6), 1e-6);
}

TEST(ClipGradNorm, ReportsNonFiniteNormAndLeavesGradients) {
  std::vector<double> grads = float_values(50, 1.0, 4);
  grads[17] = std::numeric_limits<double>::quiet_NaN();
  const View1 with_nan = to_device(grads);
  EXPECT_TRUE(std::isnan(clip_grad_norm(Exec(), with_nan, 1.0)));
  const std::vector<double> after = to_host(with_nan);
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (i != 17) EXPECT_EQ(after[i], grads[i]);
  }
  grads[17] = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(std::isinf(clip_grad_norm(Exec(), to_device(grads), 1.0)));
}

TEST(Adam, RejectsBadArguments) {
  const View1 a("a", 4), b("b", 4), c("c", 4), short_view("short", 3);
  EXPECT_THROW(adam_update(Exec(), a, b, c, b, 1e-3, 0), std::invalid_argument);  // steps count from 1
  EXPECT_THROW(adam_update(Exec(), a, b, c, short_view, 1e-3, 1), std::invalid_argument);
  EXPECT_THROW(adam_update(Exec(), a, short_view, c, b, 1e-3, 1), std::invalid_argument);
  EXPECT_THROW(clip_grad_norm(Exec(), a, 0.0), std::invalid_argument);
}

}  // namespace selectiv::nn
