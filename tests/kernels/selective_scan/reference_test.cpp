// SPDX-License-Identifier: BSD-3-Clause
// The host reference of the selective scan against independent oracles: central finite differences of its own
// forward (for the hand-derived backward) and the closed form of a constant input (a geometric series).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/selective_scan/reference.hpp"
#include "scan_inputs.hpp"
#include "support/testing.hpp"

namespace selectiv::selective_scan {
namespace {

using testing::StepRegime;
using ::selectiv::testing::err_ratio;
using ::selectiv::testing::finite_difference_gradient;

// Reference backward against central differences of the reference forward (fp64, h = 1e-6).
constexpr double kFiniteDifferenceTolerance = 1e-6;
// Closed forms evaluated in fp64.
constexpr double kClosedFormTolerance = 1e-12;

struct Tensors {
  std::vector<double> x, dt, A, Bm, Cm, D;
};

// L = sum(y * w): its gradient is the backward with dy = w.
double weighted_loss(const Tensors& in, const std::vector<double>& w, const ScanSizes& n) {
  std::vector<double> y, ht;
  selective_scan_reference_fwd(y, ht, in.x, in.dt, in.A, in.Bm, in.Cm, in.D, n);
  double loss = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) loss += y[i] * w[i];
  return loss;
}

void check_backward_against_finite_differences(const ScanSizes& n, StepRegime regime, unsigned seed) {
  const testing::ScanInputs raw = testing::make_inputs(n, regime, seed);
  using testing::widen;
  const Tensors in{widen(raw.x), widen(raw.dt), widen(raw.A), widen(raw.Bm), widen(raw.Cm), widen(raw.D)};
  const std::vector<double> w = widen(raw.dy);
  std::vector<double> dx, ddt, dA, dB, dC, dD;
  selective_scan_reference_bwd(dx, ddt, dA, dB, dC, dD, w, in.x, in.dt, in.A, in.Bm, in.Cm, in.D, n);
  struct Case {
    const char* name;
    std::vector<double> Tensors::*member;
    const std::vector<double>* analytic;
  };
  const Case cases[] = {{"dx", &Tensors::x, &dx},   {"ddt", &Tensors::dt, &ddt}, {"dA", &Tensors::A, &dA},
                        {"dB", &Tensors::Bm, &dB},  {"dC", &Tensors::Cm, &dC},   {"dD", &Tensors::D, &dD}};
  for (const Case& c : cases) {
    Tensors moved = in;
    const std::vector<double> numeric = finite_difference_gradient(
        [&](const std::vector<double>& values) {
          moved.*c.member = values;
          return weighted_loss(moved, w, n);
        },
        in.*c.member);
    EXPECT_LE(err_ratio(numeric, *c.analytic), kFiniteDifferenceTolerance)
        << c.name << ", step regime " << testing::step_name(regime);
  }
}

TEST(SelectiveScanReference, BackwardMatchesFiniteDifferencesLayerSteps) {
  check_backward_against_finite_differences({2, 6, 3, 4}, StepRegime::kLayer, 3u);
}

TEST(SelectiveScanReference, BackwardMatchesFiniteDifferencesStrongSteps) {
  check_backward_against_finite_differences({2, 5, 3, 5}, StepRegime::kStrong, 4u);
}

TEST(SelectiveScanReference, BackwardMatchesFiniteDifferencesOneToken) {
  check_backward_against_finite_differences({3, 1, 2, 3}, StepRegime::kLayer, 5u);
}

// x = 1, B = C = 1, D = 0, constant dt and A: s_t = dt (1 - a^{t+1}) / (1 - a) with a = exp(dt A), summed over the
// state entries for y_t; ht = s_{T-1}.
TEST(SelectiveScanReference, ConstantInputIsAGeometricSeries) {
  const ScanSizes n{1, 40, 2, 3};
  const double step[] = {0.05, 0.7};
  std::vector<double> x(n.T * n.Din, 1.0), dt(n.T * n.Din), A(n.Din * n.N), Bm(n.T * n.N, 1.0), Cm(n.T * n.N, 1.0),
      D(n.Din, 0.0);
  for (int t = 0; t < n.T; ++t)
    for (int c = 0; c < n.Din; ++c) dt[t * n.Din + c] = step[c];
  for (int c = 0; c < n.Din; ++c)
    for (int s = 0; s < n.N; ++s) A[c * n.N + s] = -0.5 * (s + 1);
  std::vector<double> y, ht;
  selective_scan_reference_fwd(y, ht, x, dt, A, Bm, Cm, D, n);
  std::vector<double> expected_y(y.size(), 0.0), expected_ht(ht.size());
  for (int c = 0; c < n.Din; ++c) {
    for (int s = 0; s < n.N; ++s) {
      const double a = std::exp(step[c] * A[c * n.N + s]);
      for (int t = 0; t < n.T; ++t) expected_y[t * n.Din + c] += step[c] * (1.0 - std::pow(a, t + 1)) / (1.0 - a);
      expected_ht[c * n.N + s] = step[c] * (1.0 - std::pow(a, n.T)) / (1.0 - a);
    }
  }
  EXPECT_LE(err_ratio(expected_y, y), kClosedFormTolerance);
  EXPECT_LE(err_ratio(expected_ht, ht), kClosedFormTolerance);
}

}  // namespace
}  // namespace selectiv::selective_scan
