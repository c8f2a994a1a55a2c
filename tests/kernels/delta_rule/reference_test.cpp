// SPDX-License-Identifier: BSD-3-Clause
// The host reference of the delta rule against independent oracles: central finite differences of its own forward
// (for the hand-derived backward), the closed form of one token, and the splitting of a sequence through h0 / ht.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "delta_inputs.hpp"
#include "kernels/delta_rule/reference.hpp"
#include "support/testing.hpp"

namespace selectiv::delta_rule {
namespace {

using testing::Gate;
using ::selectiv::testing::err_ratio;
using ::selectiv::testing::finite_difference_gradient;

// Reference backward against central differences of the reference forward (fp64, h = 1e-6).
constexpr double kFiniteDifferenceTolerance = 1e-6;
// Exact identities evaluated in fp64 by two routes.
constexpr double kIdentityTolerance = 1e-12;

struct Tensors {
  std::vector<double> q, k, v, beta, g, h0;
};

// L = sum(o * w_o) + sum(ht * w_ht): its gradient is the backward with do = w_o, dht = w_ht.
double weighted_loss(const Tensors& x, const std::vector<double>& w_o, const std::vector<double>& w_ht, double scale,
                     const DeltaSizes& n) {
  std::vector<double> o, ht;
  delta_reference_fwd(o, ht, x.q, x.k, x.v, x.beta, x.g, x.h0, scale, n);
  double loss = 0.0;
  for (std::size_t i = 0; i < o.size(); ++i) loss += o[i] * w_o[i];
  for (std::size_t i = 0; i < ht.size(); ++i) loss += ht[i] * w_ht[i];
  return loss;
}

void check_backward_against_finite_differences(const DeltaSizes& n, Gate gate, double beta_max, unsigned seed) {
  const auto in = testing::make_inputs(n, gate, /*with_h0=*/true, /*with_dht=*/true, beta_max, seed);
  const Tensors x{testing::widen(in.q),    testing::widen(in.k), testing::widen(in.v),
                  testing::widen(in.beta), testing::widen(in.g), testing::widen(in.h0)};
  const std::vector<double> w_o = testing::widen(in.do_), w_ht = testing::widen(in.dht);
  std::vector<double> dq, dk, dv, dbeta, dg, dh0;
  delta_reference_bwd(dq, dk, dv, dbeta, dg, dh0, w_o, w_ht, x.q, x.k, x.v, x.beta, x.g, x.h0, in.scale, n);

  struct Case {
    const char* name;
    std::vector<double> Tensors::*member;
    const std::vector<double>* analytic;
  };
  const Case cases[] = {{"dq", &Tensors::q, &dq},          {"dk", &Tensors::k, &dk}, {"dv", &Tensors::v, &dv},
                        {"dbeta", &Tensors::beta, &dbeta}, {"dg", &Tensors::g, &dg}, {"dh0", &Tensors::h0, &dh0}};
  for (const Case& c : cases) {
    if ((x.*c.member).empty()) {
      EXPECT_TRUE(c.analytic->empty()) << c.name;
      continue;
    }
    Tensors probe = x;
    const std::vector<double> numeric = finite_difference_gradient(
        [&](const std::vector<double>& values) {
          probe.*c.member = values;
          return weighted_loss(probe, w_o, w_ht, in.scale, n);
        },
        x.*c.member);
    EXPECT_LE(err_ratio(numeric, *c.analytic), kFiniteDifferenceTolerance)
        << c.name << " gate " << testing::gate_name(gate) << " n " << n.n;
  }
}

TEST(DeltaRuleReference, BackwardMatchesFiniteDifferencesDeltaNet) {
  check_backward_against_finite_differences({2, 5, 2, 3, 4, 1}, Gate::kNone, 1.0, 11u);
}

TEST(DeltaRuleReference, BackwardMatchesFiniteDifferencesGatedDeltaNet) {
  check_backward_against_finite_differences({1, 6, 2, 4, 3, 1}, Gate::kLayer, 1.0, 12u);
}

TEST(DeltaRuleReference, BackwardMatchesFiniteDifferencesStrongGate) {
  check_backward_against_finite_differences({1, 4, 1, 3, 2, 1}, Gate::kStrong, 1.0, 13u);
}

TEST(DeltaRuleReference, BackwardMatchesFiniteDifferencesDeltaProduct) {
  check_backward_against_finite_differences({1, 4, 2, 3, 2, 3}, Gate::kLayer, 2.0, 14u);
}

TEST(DeltaRuleReference, BackwardMatchesFiniteDifferencesSingleToken) {
  check_backward_against_finite_differences({1, 1, 1, 2, 3, 2}, Gate::kStrong, 2.0, 15u);
}

// One token, one sub-step from h0: S = e^g (I - beta k k^T) h0 + beta k v^T, o = scale S^T q, written out by hand.
TEST(DeltaRuleReference, SingleTokenMatchesClosedForm) {
  const DeltaSizes n{1, 1, 1, 3, 2, 1};
  const auto in = testing::make_inputs(n, Gate::kStrong, true, false, 1.0, 21u);
  std::vector<double> o, ht;
  delta_reference_fwd(o, ht, testing::widen(in.q), testing::widen(in.k), testing::widen(in.v), testing::widen(in.beta),
                      testing::widen(in.g), testing::widen(in.h0), in.scale, n);
  const double a = std::exp(double(in.g[0])), beta = in.beta[0];
  std::vector<double> expected_o(2, 0.0), expected_ht(6, 0.0);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 2; ++c) {
      double projected = 0.0;  // ((I - beta k k^T) h0)[r, c]
      for (int e = 0; e < 3; ++e)
        projected += ((r == e ? 1.0 : 0.0) - beta * double(in.k[r]) * in.k[e]) * in.h0[e * 2 + c];
      expected_ht[r * 2 + c] = a * projected + beta * double(in.k[r]) * in.v[c];
    }
  for (int c = 0; c < 2; ++c)
    for (int r = 0; r < 3; ++r) expected_o[c] += double(in.scale) * expected_ht[r * 2 + c] * in.q[r];
  EXPECT_LE(err_ratio(expected_o, o), kIdentityTolerance);
  EXPECT_LE(err_ratio(expected_ht, ht), kIdentityTolerance);
}

// With beta = 1 and a unit key, one sub-step writes v exactly: S^T k = v afterwards (the delta rule's defining
// property), whatever the state was.
TEST(DeltaRuleReference, UnitBetaStoresTheValueExactly) {
  const DeltaSizes n{1, 3, 1, 4, 3, 1};
  auto in = testing::make_inputs(n, Gate::kLayer, true, false, 1.0, 22u);
  for (auto& b : in.beta) b = 1.0f;
  std::vector<double> k = testing::widen(in.k);  // renormalised in fp64: exactly unit up to rounding
  for (int t = 0; t < 3; ++t) {
    double sum = 0.0;
    for (int e = 0; e < 4; ++e) sum += k[t * 4 + e] * k[t * 4 + e];
    for (int e = 0; e < 4; ++e) k[t * 4 + e] /= std::sqrt(sum);
  }
  std::vector<double> o, ht;
  delta_reference_fwd(o, ht, testing::widen(in.q), k, testing::widen(in.v), testing::widen(in.beta),
                      testing::widen(in.g), testing::widen(in.h0), in.scale, n);
  std::vector<double> read(3, 0.0), stored(3);
  for (int c = 0; c < 3; ++c) {
    for (int e = 0; e < 4; ++e) read[c] += ht[e * 3 + c] * k[2 * 4 + e];
    stored[c] = in.v[2 * 3 + c];
  }
  EXPECT_LE(err_ratio(stored, read), kIdentityTolerance);
}

// Running T tokens at once equals running the first T1, then the rest from h0 = the first part's ht.
TEST(DeltaRuleReference, SplittingTheSequenceThroughTheStateChangesNothing) {
  const DeltaSizes n{2, 9, 2, 3, 4, 2};
  const int T1 = 4;
  const auto in = testing::make_inputs(n, Gate::kLayer, true, false, 2.0, 31u);
  std::vector<double> o, ht;
  delta_reference_fwd(o, ht, testing::widen(in.q), testing::widen(in.k), testing::widen(in.v), testing::widen(in.beta),
                      testing::widen(in.g), testing::widen(in.h0), in.scale, n);
  // Tokens [t_begin, t_end) of a (B, T * rows_per_token, H, D) tensor.
  auto slice = [&](const std::vector<float>& x, int rows_per_token, int D, int t_begin, int t_end) {
    std::vector<double> out;
    const std::size_t row = static_cast<std::size_t>(n.H) * D;
    for (int b = 0; b < n.B; ++b)
      for (int r = t_begin * rows_per_token; r < t_end * rows_per_token; ++r)
        for (std::size_t i = 0; i < row; ++i) out.push_back(x[(static_cast<std::size_t>(b) * n.T * rows_per_token + r) * row + i]);
    return out;
  };
  const DeltaSizes first{n.B, T1, n.H, n.K, n.V, n.n}, second{n.B, n.T - T1, n.H, n.K, n.V, n.n};
  std::vector<double> o1, ht1, o2, ht2;
  delta_reference_fwd(o1, ht1, slice(in.q, 1, n.K, 0, T1), slice(in.k, n.n, n.K, 0, T1),
                      slice(in.v, n.n, n.V, 0, T1), slice(in.beta, n.n, 1, 0, T1), slice(in.g, 1, 1, 0, T1),
                      testing::widen(in.h0), in.scale, first);
  delta_reference_fwd(o2, ht2, slice(in.q, 1, n.K, T1, n.T), slice(in.k, n.n, n.K, T1, n.T),
                      slice(in.v, n.n, n.V, T1, n.T), slice(in.beta, n.n, 1, T1, n.T), slice(in.g, 1, 1, T1, n.T),
                      ht1, in.scale, second);
  std::vector<double> joined;
  const std::size_t row1 = static_cast<std::size_t>(T1) * n.H * n.V;
  const std::size_t row2 = static_cast<std::size_t>(n.T - T1) * n.H * n.V;
  for (int b = 0; b < n.B; ++b) {
    joined.insert(joined.end(), o1.begin() + b * row1, o1.begin() + (b + 1) * row1);
    joined.insert(joined.end(), o2.begin() + b * row2, o2.begin() + (b + 1) * row2);
  }
  EXPECT_LE(err_ratio(o, joined), kIdentityTolerance);
  EXPECT_LE(err_ratio(ht, ht2), kIdentityTolerance);
}

TEST(DeltaRuleReference, RejectsTensorsOfTheWrongSize) {
  const DeltaSizes n{1, 2, 1, 2, 2, 1};
  std::vector<double> o, ht, q(4, 0.1), v(4, 0.1), beta(2, 0.5), bad(3, 0.0);
  EXPECT_THROW(delta_reference_fwd(o, ht, q, bad, v, beta, {}, {}, 1.0, n), std::invalid_argument);
  EXPECT_THROW(delta_reference_fwd(o, ht, q, q, v, bad, {}, {}, 1.0, n), std::invalid_argument);
}

}  // namespace
}  // namespace selectiv::delta_rule
