// SPDX-License-Identifier: BSD-3-Clause
// SwiGLU with learned beta: finite differences check the host reference's du and dbeta, analytic values its forward,
// and the reference checks the device forward and backward (dbeta accumulated) on awkward shapes.
#include "kernels/nn/swiglu.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/common/compat.hpp"
#include "kernels/nn/reference_train.hpp"
#include "support/testing.hpp"

namespace selectiv::nn {
namespace {

using selectiv::testing::err_ratio;

constexpr double kReferenceGradVsFiniteDifferences = 1e-8;
constexpr double kDeviceVsReference = 1e-6;    // out and du
constexpr double kDeviceDbetaRelative = 1e-5;  // a float-product sum of N*F terms, accumulated in double

std::vector<double> float_values(std::size_t n, double scale, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> values(n);
  for (double& v : values) v = static_cast<double>(static_cast<float>(normal(rng)));
  return values;
}

View2 to_device(const std::vector<double>& values, int rows, int cols) {
  View2 view("m", rows, cols);
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host.data()[i] = static_cast<float>(values[i]);
  Kokkos::deep_copy(view, host);
  return view;
}

View1 device_scalar(double value) {
  View1 view("scalar", 1);
  Kokkos::deep_copy(view, static_cast<float>(value));
  return view;
}

template <class View>
std::vector<double> to_host(const View& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.size());
}

}  // namespace

TEST(SwigluReference, ForwardAnalyticValues) {
  // beta = 0: sigmoid(0) = 1/2, so out = u1 * u2 / 2. beta = 1: out = silu(u1) * u2. u1 = 0 gives 0.
  const std::vector<double> u = {2.0, 0.0, -1.5, 3.0, 5.0, 7.0};  // (1, 6): u1 = {2, 0, -1.5}, u2 = {3, 5, 7}
  std::vector<double> out;
  swiglu_reference_fwd(out, u, 0.0, 1, 3);
  EXPECT_DOUBLE_EQ(out[0], 3.0);
  EXPECT_DOUBLE_EQ(out[1], 0.0);
  EXPECT_DOUBLE_EQ(out[2], -1.5 * 7.0 / 2.0);
  swiglu_reference_fwd(out, u, 1.0, 1, 3);
  EXPECT_NEAR(out[0], 2.0 / (1.0 + std::exp(-2.0)) * 3.0, 1e-15);
  EXPECT_NEAR(out[2], -1.5 / (1.0 + std::exp(1.5)) * 7.0, 1e-15);
}

TEST(SwigluReference, BackwardMatchesFiniteDifferences) {
  const int N = 3, F = 5;
  const std::vector<double> u = float_values(N * 2 * F, 1.5, 1), dout = float_values(N * F, 1.0, 2);
  for (const double beta : {1.0, 0.37, -0.8}) {
    SCOPED_TRACE("beta=" + std::to_string(beta));
    std::vector<double> du;
    double dbeta = 0.0;
    swiglu_reference_bwd(du, &dbeta, dout, u, beta, N, F);
    // Variables: u followed by beta; L = sum(dout * out).
    std::vector<double> variables = u;
    variables.push_back(beta);
    const auto numeric = selectiv::testing::finite_difference_gradient(
        [&](const std::vector<double>& v) {
          const std::vector<double> u_only(v.begin(), v.end() - 1);
          std::vector<double> out;
          swiglu_reference_fwd(out, u_only, v.back(), N, F);
          double loss = 0.0;
          for (std::size_t i = 0; i < out.size(); ++i) loss += dout[i] * out[i];
          return loss;
        },
        variables);
    std::vector<double> analytic = du;
    analytic.push_back(dbeta);
    EXPECT_LT(err_ratio(numeric, analytic), kReferenceGradVsFiniteDifferences);
    EXPECT_NEAR(numeric.back(), dbeta, 1e-7 * std::fabs(dbeta));
  }
}

namespace {

void expect_device_matches_reference(int N, int F, double beta) {
  SCOPED_TRACE("N=" + std::to_string(N) + " F=" + std::to_string(F) + " beta=" + std::to_string(beta));
  const std::vector<double> u = float_values(static_cast<std::size_t>(N) * 2 * F, 2.0, 3 + N);
  const std::vector<double> dout = float_values(static_cast<std::size_t>(N) * F, 1.0, 4 + F);
  const double beta_float = static_cast<double>(static_cast<float>(beta));
  std::vector<double> out_ref, du_ref;
  const double dbeta_before = 0.25;  // dbeta accumulates
  double dbeta_ref = dbeta_before;
  swiglu_reference_fwd(out_ref, u, beta_float, N, F);
  swiglu_reference_bwd(du_ref, &dbeta_ref, dout, u, beta_float, N, F);

  const View2 u_d = to_device(u, N, 2 * F);
  const View1 beta_d = device_scalar(beta);
  View2 out("out", N, F), du("du", N, 2 * F);
  Kokkos::deep_copy(du, 9.0f);  // assigned, so stale values must vanish
  const View1 dbeta = device_scalar(dbeta_before);
  swiglu_fwd(Exec(), out, u_d, beta_d);
  swiglu_bwd(Exec(), du, dbeta, to_device(dout, N, F), u_d, beta_d);
  EXPECT_LT(err_ratio(out_ref, to_host(out)), kDeviceVsReference);
  EXPECT_LT(err_ratio(du_ref, to_host(du)), kDeviceVsReference);
  const double dbeta_out = to_host(dbeta)[0];
  EXPECT_LT(std::fabs(dbeta_out - dbeta_ref) / std::fabs(dbeta_ref - dbeta_before), kDeviceDbetaRelative)
      << dbeta_ref << " vs " << dbeta_out;
}

}  // namespace

TEST(SwigluDevice, MatchesReferenceOnAwkwardShapes) {
  expect_device_matches_reference(1, 1, 1.0);
  expect_device_matches_reference(5, 7, 1.0);
  expect_device_matches_reference(33, 129, 0.6);
  expect_device_matches_reference(64, 256, 1.0);  // d = 64: F = 4d = 256 as in the golden transformer
  expect_device_matches_reference(7, 50, -2.5);   // negative beta
}

TEST(SwigluDevice, RejectsBadShapes) {
  const View1 beta("beta", 1), dbeta("dbeta", 1);
  EXPECT_THROW(swiglu_fwd(Exec(), View2("out", 3, 4), View2("u", 3, 7), beta), std::invalid_argument);
  EXPECT_THROW(swiglu_fwd(Exec(), View2("out", 3, 4), View2("u", 2, 8), beta), std::invalid_argument);
  EXPECT_THROW(swiglu_fwd(Exec(), View2("out", 3, 4), View2("u", 3, 8), View1("b", 2)), std::invalid_argument);
  EXPECT_THROW(swiglu_bwd(Exec(), View2("du", 3, 7), dbeta, View2("dout", 3, 4), View2("u", 3, 8), beta),
               std::invalid_argument);
}

}  // namespace selectiv::nn
