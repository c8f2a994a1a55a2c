// SPDX-License-Identifier: BSD-3-Clause
// The two elementwise ops around the scan: the output gate out = y * silu(z) (forward against the formula in
// double, backward against central finite differences of it) and the decay rates A = -exp(A_log) (forward against
// std::exp, backward against the analytic derivative, accumulating).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/views.hpp"
#include "kernels/selective_scan/decay_rate.hpp"
#include "kernels/selective_scan/gate.hpp"
#include "support/device_data.hpp"
#include "support/testing.hpp"

namespace selectiv::selective_scan {
namespace {

using ::selectiv::testing::err_ratio;
using ::selectiv::testing::to_device;
using ::selectiv::testing::to_host;

// fp32 device ops against fp64 host formulas.
constexpr double kElementwiseTolerance = 1e-6;
// fp32 device gradients against fp64 central differences (h = 1e-6) of the fp64 formula.
constexpr double kFiniteDifferenceTolerance = 1e-6;

std::vector<float> normal_values(std::size_t n, double scale, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<float> v(n);
  for (auto& e : v) e = static_cast<float>(normal(rng));
  return v;
}

double silu(double x) { return x / (1.0 + std::exp(-x)); }

TEST(SiluGate, ForwardAndBackwardMatchTheFormulaAndFiniteDifferences) {
  const std::size_t n = 1000;
  // z spans the tails too (|z| up to ~24), where silu' must not lose precision.
  const std::vector<float> y = normal_values(n, 1.0, 1u), z = normal_values(n, 6.0, 2u), dout = normal_values(n, 1.0, 3u);
  const View1 y_d = to_device(y, View1("y", y.size())), z_d = to_device(z, View1("z", z.size())),
              dout_d = to_device(dout, View1("dout", dout.size()));
  View1 out("out", n), dy("dy", n), dz("dz", n);
  const Exec exec;
  silu_gate_fwd(exec, out, y_d, z_d);
  silu_gate_bwd(exec, dy, dz, dout_d, y_d, z_d);
  std::vector<double> expected_out(n), expected_dy(n), numeric_dz(n);
  const double h = 1e-6;
  for (std::size_t i = 0; i < n; ++i) {
    expected_out[i] = y[i] * silu(z[i]);
    expected_dy[i] = dout[i] * silu(z[i]);  // out is linear in y
    numeric_dz[i] = dout[i] * y[i] * (silu(z[i] + h) - silu(z[i] - h)) / (2.0 * h);
  }
  EXPECT_LE(err_ratio(expected_out, to_host(out)), kElementwiseTolerance);
  EXPECT_LE(err_ratio(expected_dy, to_host(dy)), kElementwiseTolerance);
  EXPECT_LE(err_ratio(numeric_dz, to_host(dz)), kFiniteDifferenceTolerance);
}

TEST(DecayRate, ForwardIsMinusExpAndBackwardAccumulatesTheChainRule) {
  const int rows = 7, cols = 5;
  std::vector<float> a_log(rows * cols);
  for (int c = 0; c < rows; ++c)
    for (int n = 0; n < cols; ++n) a_log[c * cols + n] = static_cast<float>(std::log(n + 1.0) + 0.1 * c - 0.3);
  const std::vector<float> dA = normal_values(a_log.size(), 1.0, 4u);
  const View1 a_log_flat = to_device(a_log, View1("A_log", a_log.size())),
              dA_flat = to_device(dA, View1("dA", dA.size()));
  const View2 a_log_d(a_log_flat.data(), rows, cols), dA_d(dA_flat.data(), rows, cols);
  View2 A("A", rows, cols), dA_log("dA_log", rows, cols);
  Kokkos::deep_copy(dA_log, 0.5f);
  const Exec exec;
  decay_rate_fwd(exec, A, a_log_d);
  decay_rate_bwd(exec, dA_log, dA_d, A);
  std::vector<double> expected_A(a_log.size()), expected_dA_log(a_log.size());
  for (std::size_t i = 0; i < a_log.size(); ++i) {
    expected_A[i] = -std::exp(static_cast<double>(a_log[i]));
    expected_dA_log[i] = 0.5 + dA[i] * expected_A[i];  // d(-exp(u))/du = -exp(u), added to what was there
  }
  EXPECT_LE(err_ratio(expected_A, to_host(A)), kElementwiseTolerance);
  EXPECT_LE(err_ratio(expected_dA_log, to_host(dA_log)), kElementwiseTolerance);
}

}  // namespace
}  // namespace selectiv::selective_scan
