// SPDX-License-Identifier: BSD-3-Clause
// The host SSD reference: forward against an independently written quadratic (attention) form, backward against
// central finite differences of the forward for every input and parameter.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "kernels/ssd/reference.hpp"
#include "ssd_inputs.hpp"
#include "support/testing.hpp"

namespace selectiv::ssd {
namespace {

using ::selectiv::testing::err_ratio;
using ::selectiv::testing::finite_difference_gradient;
using testing::DecayRegime;
using testing::widen;

// y_t = sum_{s<=t} (C_t . B_s) exp(sum_{s<u<=t} g_u) delta_s x_s + D x_t, written without any state.
std::vector<double> quadratic_form(const testing::SsdInputs& in) {
  const SsdSizes& n = in.n;
  const int W = n.xbc_width();
  std::vector<double> y(static_cast<std::size_t>(n.B) * n.T * n.H * n.P, 0.0);
  for (int b = 0; b < n.B; ++b)
    for (int h = 0; h < n.H; ++h) {
      std::vector<double> delta(n.T), g(n.T);
      for (int t = 0; t < n.T; ++t) {
        const double v = double(in.dt[(std::size_t(b) * n.T + t) * n.H + h]) + in.dt_bias[h];
        delta[t] = std::log1p(std::exp(v));
        g[t] = -std::exp(double(in.A_log[h])) * delta[t];
      }
      for (int t = 0; t < n.T; ++t) {
        const float* row_t = in.xbc.data() + (std::size_t(b) * n.T + t) * W;
        for (int p = 0; p < n.P; ++p) {
          double acc = double(in.D[h]) * row_t[h * n.P + p];
          double log_decay = 0.0;  // sum_{s<u<=t} g_u
          for (int s = t; s >= 0; --s) {
            const float* row_s = in.xbc.data() + (std::size_t(b) * n.T + s) * W;
            double cb = 0.0;
            for (int k = 0; k < n.N; ++k) cb += double(row_t[n.H * n.P + n.N + k]) * row_s[n.H * n.P + k];
            acc += cb * std::exp(log_decay) * delta[s] * row_s[h * n.P + p];
            log_decay += g[s];
          }
          y[((std::size_t(b) * n.T + t) * n.H + h) * n.P + p] = acc;
        }
      }
    }
  return y;
}

TEST(SsdReference, ForwardEqualsTheQuadraticForm) {
  for (DecayRegime regime : {DecayRegime::kLayer, DecayRegime::kStrong}) {
    const testing::SsdInputs in = testing::make_inputs(SsdSizes{2, 9, 3, 4, 5}, regime, 11);
    std::vector<double> y;
    ssd_reference_fwd(y, widen(in.xbc), widen(in.dt), widen(in.dt_bias), widen(in.A_log), widen(in.D), in.n);
    EXPECT_LE(err_ratio(quadratic_form(in), y), 1e-12) << testing::regime_name(regime);
  }
}

TEST(SsdReference, SingleTokenIsDeltaTimesXTimesBDotCPlusDx) {
  const testing::SsdInputs in = testing::make_inputs(SsdSizes{1, 1, 2, 3, 4}, DecayRegime::kLayer, 5);
  std::vector<double> y;
  ssd_reference_fwd(y, widen(in.xbc), widen(in.dt), widen(in.dt_bias), widen(in.A_log), widen(in.D), in.n);
  double bc = 0.0;
  for (int k = 0; k < 4; ++k) bc += double(in.xbc[6 + k]) * in.xbc[10 + k];
  for (int h = 0; h < 2; ++h) {
    const double delta = std::log1p(std::exp(double(in.dt[h]) + in.dt_bias[h]));
    for (int p = 0; p < 3; ++p) {
      const double x = in.xbc[h * 3 + p];
      EXPECT_NEAR(y[h * 3 + p], delta * x * bc + double(in.D[h]) * x, 1e-12);
    }
  }
}

// L = sum(dy * y): its gradient with respect to every input is what ssd_reference_bwd returns.
TEST(SsdReference, BackwardMatchesFiniteDifferences) {
  for (DecayRegime regime : {DecayRegime::kLayer, DecayRegime::kStrong}) {
    const testing::SsdInputs in = testing::make_inputs(SsdSizes{2, 7, 2, 3, 2}, regime, 23);
    const std::vector<double> xbc = widen(in.xbc), dt = widen(in.dt), bias = widen(in.dt_bias);
    const std::vector<double> A_log = widen(in.A_log), D = widen(in.D), dy = widen(in.dy);
    std::vector<double> dxbc, ddt, dbias, dA, dD;
    ssd_reference_bwd(dxbc, ddt, dbias, dA, dD, dy, xbc, dt, bias, A_log, D, in.n);
    auto loss = [&](const std::vector<double>& xbc_, const std::vector<double>& dt_, const std::vector<double>& b_,
                    const std::vector<double>& A_, const std::vector<double>& D_) {
      std::vector<double> y;
      ssd_reference_fwd(y, xbc_, dt_, b_, A_, D_, in.n);
      double l = 0.0;
      for (std::size_t i = 0; i < y.size(); ++i) l += dy[i] * y[i];
      return l;
    };
    const char* name = testing::regime_name(regime);
    // dA_log is small in the strong regime (every state decays to ~0 within a token), so its central difference
    // is dominated by round-off at h = 1e-6 (err 1.4e-6); h = 1e-5 makes it truncation-limited again.
    EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(v, dt, bias, A_log, D); }, xbc), dxbc), 1e-6) << name << " dxbc";
    EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(xbc, v, bias, A_log, D); }, dt), ddt), 1e-6) << name << " ddt";
    EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(xbc, dt, v, A_log, D); }, bias), dbias), 1e-6) << name << " d_dt_bias";
    EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(xbc, dt, bias, v, D); }, A_log, 1e-5), dA), 1e-6) << name << " dA_log";
    EXPECT_LE(err_ratio(finite_difference_gradient([&](const std::vector<double>& v) { return loss(xbc, dt, bias, A_log, v); }, D), dD), 1e-6) << name << " dD";
  }
}

}  // namespace
}  // namespace selectiv::ssd
