// SPDX-License-Identifier: BSD-3-Clause
// The host reference of GLA against independent oracles: central finite differences of its own forward (for the
// hand-derived backward), the closed form of one token, and the splitting of a sequence through h0 / ht.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "gla_inputs.hpp"
#include "kernels/gla/reference.hpp"
#include "support/testing.hpp"

namespace selectiv::gla {
namespace {

using testing::GateRegime;
using ::selectiv::testing::err_ratio;
using ::selectiv::testing::finite_difference_gradient;

// Reference backward against central differences of the reference forward (fp64, h = 1e-6).
constexpr double kFiniteDifferenceTolerance = 1e-6;
// Exact identities evaluated in fp64 by two routes.
constexpr double kIdentityTolerance = 1e-12;

// All inputs of the reference, in double.
struct Tensors {
  std::vector<double> q, k, v, g, h0;
};

// L = sum(o * w_o) + sum(ht * w_ht): its gradient is the backward with do = w_o, dht = w_ht.
double weighted_loss(const Tensors& x, const std::vector<double>& w_o, const std::vector<double>& w_ht, double scale,
                     const GlaSizes& n) {
  std::vector<double> o, ht;
  gla_reference_fwd(o, ht, x.q, x.k, x.v, x.g, x.h0, scale, n);
  double loss = 0.0;
  for (std::size_t i = 0; i < o.size(); ++i) loss += o[i] * w_o[i];
  for (std::size_t i = 0; i < ht.size(); ++i) loss += ht[i] * w_ht[i];
  return loss;
}

// Finite-difference gradient of the loss with respect to one of the tensors in x.
std::vector<double> numeric_gradient(Tensors x, std::vector<double> Tensors::*member, const std::vector<double>& w_o,
                                     const std::vector<double>& w_ht, double scale, const GlaSizes& n) {
  const std::vector<double> at = x.*member;
  return finite_difference_gradient(
      [&](const std::vector<double>& values) {
        x.*member = values;
        return weighted_loss(x, w_o, w_ht, scale, n);
      },
      at);
}

void check_backward_against_finite_differences(const GlaSizes& n, GateRegime regime, unsigned seed) {
  const auto in = testing::make_inputs(n, regime, /*with_h0=*/true, /*with_dht=*/true, seed);
  const Tensors x{testing::widen(in.q), testing::widen(in.k), testing::widen(in.v), testing::widen(in.g),
                  testing::widen(in.h0)};
  const std::vector<double> w_o = testing::widen(in.do_), w_ht = testing::widen(in.dht);
  std::vector<double> dq, dk, dv, dg, dh0;
  gla_reference_bwd(dq, dk, dv, dg, dh0, w_o, w_ht, x.q, x.k, x.v, x.g, x.h0, in.scale, n);

  struct Case {
    const char* name;
    std::vector<double> Tensors::*member;
    const std::vector<double>* analytic;
  };
  const Case cases[] = {{"dq", &Tensors::q, &dq}, {"dk", &Tensors::k, &dk}, {"dv", &Tensors::v, &dv},
                        {"dg", &Tensors::g, &dg}, {"dh0", &Tensors::h0, &dh0}};
  for (const Case& c : cases) {
    const std::vector<double> numeric = numeric_gradient(x, c.member, w_o, w_ht, in.scale, n);
    const double ratio = err_ratio(numeric, *c.analytic);
    EXPECT_LE(ratio, kFiniteDifferenceTolerance) << c.name << " gate regime " << testing::gate_name(regime);
  }
}

TEST(GlaReference, BackwardMatchesFiniteDifferencesLayerGates) {
  check_backward_against_finite_differences({2, 5, 2, 3, 4}, GateRegime::kLayer, 11u);
}

TEST(GlaReference, BackwardMatchesFiniteDifferencesStrongGates) {
  check_backward_against_finite_differences({1, 6, 2, 4, 3}, GateRegime::kStrong, 12u);
}

TEST(GlaReference, BackwardMatchesFiniteDifferencesSingleToken) {
  check_backward_against_finite_differences({1, 1, 1, 2, 3}, GateRegime::kLayer, 13u);
}

// One token from h0: o = scale * (diag(e^g) h0 + k v^T)^T q, written out by hand.
TEST(GlaReference, SingleTokenMatchesClosedForm) {
  const GlaSizes n{1, 1, 1, 3, 2};
  const auto in = testing::make_inputs(n, GateRegime::kStrong, true, false, 21u);
  std::vector<double> o, ht;
  gla_reference_fwd(o, ht, testing::widen(in.q), testing::widen(in.k), testing::widen(in.v), testing::widen(in.g),
                    testing::widen(in.h0), in.scale, n);
  std::vector<double> expected_o(2, 0.0), expected_ht(6, 0.0);
  for (int kk = 0; kk < 3; ++kk)
    for (int vv = 0; vv < 2; ++vv) {
      const double state = std::exp(double(in.g[kk])) * in.h0[kk * 2 + vv] + double(in.k[kk]) * in.v[vv];
      expected_ht[kk * 2 + vv] = state;
      expected_o[vv] += double(in.scale) * state * in.q[kk];
    }
  EXPECT_LE(err_ratio(expected_o, o), kIdentityTolerance);
  EXPECT_LE(err_ratio(expected_ht, ht), kIdentityTolerance);
}

// Running T tokens at once equals running the first T1, then the rest from h0 = the first part's ht.
TEST(GlaReference, SplittingTheSequenceThroughTheStateChangesNothing) {
  const GlaSizes n{2, 9, 2, 3, 4};
  const int T1 = 4;
  const auto in = testing::make_inputs(n, GateRegime::kLayer, true, false, 31u);
  std::vector<double> o, ht;
  gla_reference_fwd(o, ht, testing::widen(in.q), testing::widen(in.k), testing::widen(in.v), testing::widen(in.g),
                    testing::widen(in.h0), in.scale, n);

  // Slice tokens [t_begin, t_end) of a (B, T, H, D) tensor.
  auto slice = [&](const std::vector<float>& x, int D, int t_begin, int t_end) {
    std::vector<double> out;
    for (int b = 0; b < n.B; ++b)
      for (int t = t_begin; t < t_end; ++t)
        for (int i = 0; i < n.H * D; ++i) out.push_back(x[(static_cast<std::size_t>(b) * n.T + t) * n.H * D + i]);
    return out;
  };
  const GlaSizes first{n.B, T1, n.H, n.K, n.V}, second{n.B, n.T - T1, n.H, n.K, n.V};
  std::vector<double> o1, ht1, o2, ht2;
  gla_reference_fwd(o1, ht1, slice(in.q, n.K, 0, T1), slice(in.k, n.K, 0, T1), slice(in.v, n.V, 0, T1),
                    slice(in.g, n.K, 0, T1), testing::widen(in.h0), in.scale, first);
  gla_reference_fwd(o2, ht2, slice(in.q, n.K, T1, n.T), slice(in.k, n.K, T1, n.T), slice(in.v, n.V, T1, n.T),
                    slice(in.g, n.K, T1, n.T), ht1, in.scale, second);
  std::vector<double> joined;
  const std::size_t row1 = static_cast<std::size_t>(T1) * n.H * n.V, row2 = static_cast<std::size_t>(n.T - T1) * n.H * n.V;
  for (int b = 0; b < n.B; ++b) {
    joined.insert(joined.end(), o1.begin() + b * row1, o1.begin() + (b + 1) * row1);
    joined.insert(joined.end(), o2.begin() + b * row2, o2.begin() + (b + 1) * row2);
  }
  EXPECT_LE(err_ratio(o, joined), kIdentityTolerance);
  EXPECT_LE(err_ratio(ht, ht2), kIdentityTolerance);
}

TEST(GlaReference, RejectsTensorsOfTheWrongSize) {
  const GlaSizes n{1, 2, 1, 2, 2};
  std::vector<double> o, ht, q(4, 0.1), v(4, 0.1), g(4, -0.1), bad(3, 0.0);
  EXPECT_THROW(gla_reference_fwd(o, ht, q, bad, v, g, {}, 1.0, n), std::invalid_argument);
}

}  // namespace
}  // namespace selectiv::gla
