// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/selective_scan/reference.hpp"

#include <cmath>
#include <cstddef>

namespace selectiv::selective_scan {
namespace {

struct Index {
  const ScanSizes& s;
  std::size_t chan(int b, int t, int c) const { return (static_cast<std::size_t>(b) * s.T + t) * s.Din + c; }
  std::size_t state(int b, int t, int n) const { return (static_cast<std::size_t>(b) * s.T + t) * s.N + n; }
  std::size_t param(int c, int n) const { return static_cast<std::size_t>(c) * s.N + n; }
};

// s_t for every token of batch row b: states[(t * Din + c) * N + n].
std::vector<double> all_states(const std::vector<double>& x, const std::vector<double>& dt,
                               const std::vector<double>& A, const std::vector<double>& Bm, int b,
                               const ScanSizes& s) {
  const Index at{s};
  const std::size_t per_token = static_cast<std::size_t>(s.Din) * s.N;
  std::vector<double> states(static_cast<std::size_t>(s.T) * per_token, 0.0);
  for (int t = 0; t < s.T; ++t) {
    for (int c = 0; c < s.Din; ++c) {
      const double step = dt[at.chan(b, t, c)], input = x[at.chan(b, t, c)];
      for (int n = 0; n < s.N; ++n) {
        const double previous = t > 0 ? states[(t - 1) * per_token + at.param(c, n)] : 0.0;
        states[t * per_token + at.param(c, n)] =
            std::exp(step * A[at.param(c, n)]) * previous + step * Bm[at.state(b, t, n)] * input;
      }
    }
  }
  return states;
}

}  // namespace

void selective_scan_reference_fwd(std::vector<double>& y, std::vector<double>& ht, const std::vector<double>& x,
                                  const std::vector<double>& dt, const std::vector<double>& A,
                                  const std::vector<double>& Bm, const std::vector<double>& Cm,
                                  const std::vector<double>& D, const ScanSizes& s) {
  const Index at{s};
  const std::size_t per_token = static_cast<std::size_t>(s.Din) * s.N;
  y.assign(static_cast<std::size_t>(s.B) * s.T * s.Din, 0.0);
  ht.assign(static_cast<std::size_t>(s.B) * per_token, 0.0);
  for (int b = 0; b < s.B; ++b) {
    const std::vector<double> states = all_states(x, dt, A, Bm, b, s);
    for (int t = 0; t < s.T; ++t) {
      for (int c = 0; c < s.Din; ++c) {
        double sum = D[c] * x[at.chan(b, t, c)];
        for (int n = 0; n < s.N; ++n) sum += Cm[at.state(b, t, n)] * states[t * per_token + at.param(c, n)];
        y[at.chan(b, t, c)] = sum;
      }
    }
    if (s.T > 0)
      for (std::size_t i = 0; i < per_token; ++i) ht[b * per_token + i] = states[(s.T - 1) * per_token + i];
  }
}

void selective_scan_reference_bwd(std::vector<double>& dx, std::vector<double>& ddt, std::vector<double>& dA,
                                  std::vector<double>& dB, std::vector<double>& dC, std::vector<double>& dD,
                                  const std::vector<double>& dy, const std::vector<double>& x,
                                  const std::vector<double>& dt, const std::vector<double>& A,
                                  const std::vector<double>& Bm, const std::vector<double>& Cm,
                                  const std::vector<double>& D, const ScanSizes& s) {
  const Index at{s};
  const std::size_t per_token = static_cast<std::size_t>(s.Din) * s.N;
  dx.assign(static_cast<std::size_t>(s.B) * s.T * s.Din, 0.0);
  ddt.assign(dx.size(), 0.0);
  dA.assign(per_token, 0.0);
  dB.assign(static_cast<std::size_t>(s.B) * s.T * s.N, 0.0);
  dC.assign(dB.size(), 0.0);
  dD.assign(s.Din, 0.0);
  for (int b = 0; b < s.B; ++b) {
    const std::vector<double> states = all_states(x, dt, A, Bm, b, s);
    std::vector<double> ds(per_token, 0.0);  // dL/ds_t, built from t = T-1 down
    for (int t = s.T - 1; t >= 0; --t) {
      for (int c = 0; c < s.Din; ++c) {
        const double g = dy[at.chan(b, t, c)], input = x[at.chan(b, t, c)], step = dt[at.chan(b, t, c)];
        // y_t[c] = sum_n C_t[n] s_t[c, n] + D[c] x_t[c]
        dD[c] += g * input;
        dx[at.chan(b, t, c)] += D[c] * g;
        for (int n = 0; n < s.N; ++n) {
          const std::size_t cn = at.param(c, n);
          const double state = states[t * per_token + cn];
          const double previous = t > 0 ? states[(t - 1) * per_token + cn] : 0.0;
          dC[at.state(b, t, n)] += g * state;
          ds[cn] += Cm[at.state(b, t, n)] * g;
          // s_t = a s_{t-1} + dt B x with a = exp(dt A)
          const double decay = std::exp(step * A[cn]);
          const double d = ds[cn];
          dB[at.state(b, t, n)] += d * step * input;
          dx[at.chan(b, t, c)] += d * step * Bm[at.state(b, t, n)];
          ddt[at.chan(b, t, c)] += d * (Bm[at.state(b, t, n)] * input + A[cn] * decay * previous);
          dA[cn] += d * step * decay * previous;
          ds[cn] = decay * d;  // now dL/ds_{t-1} through s_t
        }
      }
    }
  }
}

}  // namespace selectiv::selective_scan
