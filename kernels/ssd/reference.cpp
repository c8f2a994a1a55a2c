// SPDX-License-Identifier: BSD-3-Clause
// Host reference of the Mamba2 SSD scan: forward token by token, backward through time (README.md §1). Serial,
// double accumulation, deliberately unoptimised.
#include "kernels/ssd/reference.hpp"

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace selectiv::ssd {
namespace {

using Index = std::size_t;

// Offsets into the row-major tensors.
struct Layout {
  SsdSizes n;
  Index row(int b, int t) const { return (static_cast<Index>(b) * n.T + t) * n.xbc_width(); }
  Index x(int b, int t, int h, int p) const { return row(b, t) + static_cast<Index>(h) * n.P + p; }
  Index bcol(int b, int t, int k) const { return row(b, t) + static_cast<Index>(n.H) * n.P + k; }
  Index ccol(int b, int t, int k) const { return row(b, t) + static_cast<Index>(n.H) * n.P + n.N + k; }
  Index head(int b, int t, int h) const { return (static_cast<Index>(b) * n.T + t) * n.H + h; }
  Index y(int b, int t, int h, int p) const { return head(b, t, h) * n.P + p; }
  Index tokens() const { return static_cast<Index>(n.B) * n.T; }
};

void check_size(const std::vector<double>& v, Index expected, const char* name) {
  if (v.size() != expected)
    throw std::invalid_argument(std::string("ssd reference: ") + name + " has " + std::to_string(v.size()) +
                                " elements, expected " + std::to_string(expected));
}

void check_inputs(const Layout& at, const std::vector<double>& xbc, const std::vector<double>& dt,
                  const std::vector<double>& dt_bias, const std::vector<double>& A_log,
                  const std::vector<double>& D) {
  const SsdSizes& n = at.n;
  if (n.B <= 0 || n.T <= 0 || n.H <= 0 || n.P <= 0 || n.N <= 0)
    throw std::invalid_argument("ssd reference: every size must be positive");
  check_size(xbc, at.tokens() * n.xbc_width(), "xbc");
  check_size(dt, at.tokens() * n.H, "dt");
  check_size(dt_bias, n.H, "dt_bias");
  check_size(A_log, n.H, "A_log");
  check_size(D, n.H, "D");
}

double softplus(double v) { return v > 20.0 ? v : std::log1p(std::exp(v)); }
double softplus_grad(double v) { return v > 20.0 ? 1.0 : 1.0 / (1.0 + std::exp(-v)); }

// The states S_0 .. S_{T-1} of one (b, h), each P x N row-major, and the per-token delta and log-decay.
struct HeadScan {
  std::vector<double> states, delta, log_decay;
};

HeadScan scan_head(const Layout& at, const std::vector<double>& xbc, const std::vector<double>& dt,
                   const std::vector<double>& dt_bias, const std::vector<double>& A_log, int b, int h) {
  const SsdSizes& n = at.n;
  const Index PN = static_cast<Index>(n.P) * n.N;
  HeadScan s;
  s.states.assign(PN * n.T, 0.0);
  s.delta.resize(n.T);
  s.log_decay.resize(n.T);
  const double A = -std::exp(A_log[h]);
  for (int t = 0; t < n.T; ++t) {
    const double delta = softplus(dt[at.head(b, t, h)] + dt_bias[h]);
    const double g = A * delta, a = std::exp(g);
    s.delta[t] = delta;
    s.log_decay[t] = g;
    double* S = s.states.data() + PN * t;
    const double* prev = t > 0 ? s.states.data() + PN * (t - 1) : nullptr;
    for (int p = 0; p < n.P; ++p) {
      const double u = delta * xbc[at.x(b, t, h, p)];
      for (int k = 0; k < n.N; ++k) {
        const Index e = static_cast<Index>(p) * n.N + k;
        S[e] = (prev ? a * prev[e] : 0.0) + u * xbc[at.bcol(b, t, k)];
      }
    }
  }
  return s;
}

}  // namespace

void ssd_reference_fwd(std::vector<double>& y, const std::vector<double>& xbc, const std::vector<double>& dt,
                       const std::vector<double>& dt_bias, const std::vector<double>& A_log,
                       const std::vector<double>& D, const SsdSizes& sizes) {
  const Layout at{sizes};
  check_inputs(at, xbc, dt, dt_bias, A_log, D);
  const SsdSizes& n = sizes;
  y.assign(at.tokens() * n.H * n.P, 0.0);
  const Index PN = static_cast<Index>(n.P) * n.N;
  for (int b = 0; b < n.B; ++b) {
    for (int h = 0; h < n.H; ++h) {
      const HeadScan s = scan_head(at, xbc, dt, dt_bias, A_log, b, h);
      for (int t = 0; t < n.T; ++t) {
        const double* S = s.states.data() + PN * t;
        for (int p = 0; p < n.P; ++p) {
          double acc = D[h] * xbc[at.x(b, t, h, p)];
          for (int k = 0; k < n.N; ++k) acc += S[static_cast<Index>(p) * n.N + k] * xbc[at.ccol(b, t, k)];
          y[at.y(b, t, h, p)] = acc;
        }
      }
    }
  }
}

void ssd_reference_bwd(std::vector<double>& dxbc, std::vector<double>& ddt, std::vector<double>& d_dt_bias,
                       std::vector<double>& dA_log, std::vector<double>& dD, const std::vector<double>& dy,
                       const std::vector<double>& xbc, const std::vector<double>& dt,
                       const std::vector<double>& dt_bias, const std::vector<double>& A_log,
                       const std::vector<double>& D, const SsdSizes& sizes) {
  const Layout at{sizes};
  check_inputs(at, xbc, dt, dt_bias, A_log, D);
  const SsdSizes& n = sizes;
  check_size(dy, at.tokens() * n.H * n.P, "dy");
  dxbc.assign(xbc.size(), 0.0);
  ddt.assign(dt.size(), 0.0);
  d_dt_bias.assign(n.H, 0.0);
  dA_log.assign(n.H, 0.0);
  dD.assign(n.H, 0.0);
  const Index PN = static_cast<Index>(n.P) * n.N;
  std::vector<double> dS(PN);
  for (int b = 0; b < n.B; ++b) {
    for (int h = 0; h < n.H; ++h) {
      const HeadScan s = scan_head(at, xbc, dt, dt_bias, A_log, b, h);
      const double A = -std::exp(A_log[h]);
      std::fill(dS.begin(), dS.end(), 0.0);  // gradient of S_t, built from t = T-1 down
      for (int t = n.T - 1; t >= 0; --t) {
        const double* S = s.states.data() + PN * t;
        const double delta = s.delta[t];
        // y_t = S_t C_t + D x_t
        for (int p = 0; p < n.P; ++p) {
          const double g_out = dy[at.y(b, t, h, p)];
          dD[h] += g_out * xbc[at.x(b, t, h, p)];
          dxbc[at.x(b, t, h, p)] += D[h] * g_out;
          for (int k = 0; k < n.N; ++k) {
            const Index e = static_cast<Index>(p) * n.N + k;
            dS[e] += g_out * xbc[at.ccol(b, t, k)];
            dxbc[at.ccol(b, t, k)] += S[e] * g_out;
          }
        }
        // S_t = a_t S_{t-1} + delta_t x_t B_t^T
        double d_delta = 0.0, d_log_decay = 0.0;
        const double* prev = t > 0 ? s.states.data() + PN * (t - 1) : nullptr;
        for (int p = 0; p < n.P; ++p) {
          const double xp = xbc[at.x(b, t, h, p)];
          double dS_B = 0.0;
          for (int k = 0; k < n.N; ++k) {
            const Index e = static_cast<Index>(p) * n.N + k;
            dS_B += dS[e] * xbc[at.bcol(b, t, k)];
            dxbc[at.bcol(b, t, k)] += delta * xp * dS[e];
            if (prev) d_log_decay += prev[e] * dS[e];
          }
          dxbc[at.x(b, t, h, p)] += delta * dS_B;
          d_delta += xp * dS_B;
        }
        const double a = std::exp(s.log_decay[t]);
        d_log_decay *= a;  // d a_t / d g_t = a_t
        for (double& e : dS) e *= a;
        // g_t = -exp(A_log) delta_t, delta_t = softplus(dt_t + dt_bias)
        d_delta += d_log_decay * A;
        dA_log[h] += d_log_decay * s.log_decay[t];
        const double g_dt = d_delta * softplus_grad(dt[at.head(b, t, h)] + dt_bias[h]);
        ddt[at.head(b, t, h)] = g_dt;
        d_dt_bias[h] += g_dt;
      }
    }
  }
}

}  // namespace selectiv::ssd
