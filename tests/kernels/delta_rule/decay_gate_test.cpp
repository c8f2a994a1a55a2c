// SPDX-License-Identifier: BSD-3-Clause
// The decay gate g = -exp(A_log) softplus(x + dt_bias) on the device against a host fp64 evaluation of the formula,
// and its backward (dx, dA_log, ddt_bias) against central differences of that host formula; inputs span the
// softplus threshold (x + dt_bias > 20) and the Gated DeltaNet initialisation range.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/views.hpp"
#include "kernels/delta_rule/decay_gate.hpp"
#include "support/testing.hpp"

namespace selectiv::delta_rule {
namespace {

using ::selectiv::testing::err_ratio;
using ::selectiv::testing::finite_difference_gradient;

// fp32 kernel against fp64 formulas.
constexpr double kGateTolerance = 1e-6;
// Central differences of an fp64 function, h = 1e-6 (the threshold kink is avoided by the inputs).
constexpr double kGradTolerance = 1e-5;

double softplus(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

// L = sum(g * w) as a function of all inputs packed [x (N*H), A_log (H), dt_bias (H)].
double weighted_gate_sum(const std::vector<double>& packed, const std::vector<double>& w, int N, int H) {
  double loss = 0.0;
  for (int row = 0; row < N; ++row)
    for (int h = 0; h < H; ++h) {
      const double x = packed[row * H + h], A_log = packed[N * H + h], dt_bias = packed[N * H + H + h];
      loss += w[row * H + h] * -std::exp(A_log) * softplus(x + dt_bias);
    }
  return loss;
}

template <class ViewType>
std::vector<double> to_host(const ViewType& x) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  return std::vector<double>(host.data(), host.data() + host.size());
}

template <class ViewType>
void fill(const ViewType& out, const std::vector<double>& values) {
  auto host = Kokkos::create_mirror_view(out);
  for (std::size_t i = 0; i < values.size(); ++i) host.data()[i] = static_cast<float>(values[i]);
  Kokkos::deep_copy(out, host);
}

TEST(DeltaRuleDecayGate, ForwardAndBackwardMatchTheFormula) {
  const int N = 37, H = 3;
  std::mt19937 rng(5u);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> packed(N * H + 2 * H), w(N * H);
  for (int i = 0; i < N * H; ++i) {
    packed[i] = i % 11 == 0 ? 25.0 + normal(rng) : 3.0 * normal(rng);  // some above the softplus threshold
    w[i] = normal(rng);
  }
  for (int h = 0; h < H; ++h) {
    packed[N * H + h] = std::log(16.0 * (0.05 + 0.95 * unit(rng)));  // A_log = log U(0, 16)
    packed[N * H + H + h] = -4.0 + normal(rng);                      // dt_bias ~ softplus^-1(1e-3 .. 0.1)
  }
  // round the inputs to float first, so host and device see the same values
  for (auto& e : packed) e = static_cast<double>(static_cast<float>(e));
  for (auto& e : w) e = static_cast<double>(static_cast<float>(e));
  const std::vector<double> x_host(packed.begin(), packed.begin() + N * H);
  const std::vector<double> A_host(packed.begin() + N * H, packed.begin() + N * H + H);
  const std::vector<double> dt_host(packed.begin() + N * H + H, packed.end());

  View2 x("x", N, H), g("g", N, H), dg("dg", N, H), dx("dx", N, H);
  View1 A_log("A_log", H), dt_bias("dt_bias", H), dA_log("dA_log", H), ddt_bias("ddt_bias", H);
  fill(x, x_host);
  fill(A_log, A_host);
  fill(dt_bias, dt_host);
  fill(dg, w);
  fill(dA_log, std::vector<double>(H, 0.5));  // parameter gradients accumulate onto what is there
  fill(ddt_bias, std::vector<double>(H, -0.25));
  const Exec exec;
  decay_gate_fwd(exec, g, x, A_log, dt_bias);
  decay_gate_bwd(exec, dx, dA_log, ddt_bias, dg, x, A_log, dt_bias);
  exec.fence();

  std::vector<double> expected_g(N * H);
  for (int row = 0; row < N; ++row)
    for (int h = 0; h < H; ++h)
      expected_g[row * H + h] = -std::exp(A_host[h]) * softplus(x_host[row * H + h] + dt_host[h]);
  EXPECT_LE(err_ratio(expected_g, to_host(g)), kGateTolerance);

  const std::vector<double> numeric =
      finite_difference_gradient([&](const std::vector<double>& p) { return weighted_gate_sum(p, w, N, H); }, packed);
  const std::vector<double> dx_ref(numeric.begin(), numeric.begin() + N * H);
  std::vector<double> dA_ref(numeric.begin() + N * H, numeric.begin() + N * H + H);
  std::vector<double> ddt_ref(numeric.begin() + N * H + H, numeric.end());
  for (int h = 0; h < H; ++h) {
    dA_ref[h] += 0.5;
    ddt_ref[h] -= 0.25;
  }
  EXPECT_LE(err_ratio(dx_ref, to_host(dx)), kGradTolerance);
  EXPECT_LE(err_ratio(dA_ref, to_host(dA_log)), kGradTolerance);
  EXPECT_LE(err_ratio(ddt_ref, to_host(ddt_bias)), kGradTolerance);
}

}  // namespace
}  // namespace selectiv::delta_rule
