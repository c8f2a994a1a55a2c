// SPDX-License-Identifier: BSD-3-Clause
// Host reference twin of causal softmax attention (see reference.hpp): one (batch row, head) at a time, the full
// causal score matrix, row softmax with the row maximum subtracted, then the hand-derived backward of README.md §3.
#include "kernels/attention/reference.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace selectiv::attention {
namespace {

void require_same_shape(const HostCView4d& a, const HostCView4d& b, const char* name) {
  for (int r = 0; r < 4; ++r) {
    if (a.extent(r) != b.extent(r)) {
      throw std::invalid_argument(std::string("attention reference: ") + name + " must have the shape (B, T, H, D) of q");
    }
  }
}

void require_lse_shape(const HostView3d& lse, const HostCView4d& q) {
  if (lse.extent(0) != q.extent(0) || lse.extent(1) != q.extent(2) || lse.extent(2) != q.extent(1)) {
    throw std::invalid_argument("attention reference: lse must have the shape (B, H, T)");
  }
}

// Causal probabilities of one (b, h): p[t * T + s] = softmax_s(scale q_t.k_s) for s <= t, 0 above the diagonal.
// lse_row[t] = log sum_{s<=t} exp(scale q_t.k_s).
void causal_probabilities(std::vector<double>& p, std::vector<double>& lse_row, const HostCView4d& q,
                          const HostCView4d& k, int b, int h, double scale) {
  const int T = static_cast<int>(q.extent(1));
  const int D = static_cast<int>(q.extent(3));
  p.assign(static_cast<std::size_t>(T) * T, 0.0);
  lse_row.assign(T, 0.0);
  for (int t = 0; t < T; ++t) {
    double* row = &p[static_cast<std::size_t>(t) * T];
    double row_max = -INFINITY;
    for (int s = 0; s <= t; ++s) {
      double dot = 0.0;
      for (int d = 0; d < D; ++d) dot += q(b, t, h, d) * k(b, s, h, d);
      row[s] = scale * dot;
      row_max = std::max(row_max, row[s]);
    }
    double sum = 0.0;
    for (int s = 0; s <= t; ++s) {
      row[s] = std::exp(row[s] - row_max);
      sum += row[s];
    }
    for (int s = 0; s <= t; ++s) row[s] /= sum;
    lse_row[t] = row_max + std::log(sum);
  }
}

}  // namespace

void attention_reference_fwd(HostView4d o, HostView3d lse, HostCView4d q, HostCView4d k, HostCView4d v,
                             double scale) {
  require_same_shape(q, k, "k");
  require_same_shape(q, v, "v");
  require_same_shape(q, o, "o");
  require_lse_shape(lse, q);
  const int B = static_cast<int>(q.extent(0)), T = static_cast<int>(q.extent(1));
  const int H = static_cast<int>(q.extent(2)), D = static_cast<int>(q.extent(3));
  std::vector<double> p, lse_row;
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < H; ++h) {
      causal_probabilities(p, lse_row, q, k, b, h, scale);
      for (int t = 0; t < T; ++t) {
        lse(b, h, t) = lse_row[t];
        for (int d = 0; d < D; ++d) {
          double acc = 0.0;
          for (int s = 0; s <= t; ++s) acc += p[static_cast<std::size_t>(t) * T + s] * v(b, s, h, d);
          o(b, t, h, d) = acc;
        }
      }
    }
  }
}

// With S = scale Q K^T (causal), P = softmax_rows(S), O = P V and G = dL/dO:
//   dV = P^T G,   dP = G V^T,   dS_ts = P_ts (dP_ts - sum_u P_tu dP_tu),   dQ = scale dS K,   dK = scale dS^T Q.
void attention_reference_bwd(HostView4d dq, HostView4d dk, HostView4d dv, HostCView4d do_, HostCView4d q,
                             HostCView4d k, HostCView4d v, double scale) {
  require_same_shape(q, k, "k");
  require_same_shape(q, v, "v");
  require_same_shape(q, do_, "do_");
  require_same_shape(q, dq, "dq");
  require_same_shape(q, dk, "dk");
  require_same_shape(q, dv, "dv");
  const int B = static_cast<int>(q.extent(0)), T = static_cast<int>(q.extent(1));
  const int H = static_cast<int>(q.extent(2)), D = static_cast<int>(q.extent(3));
  std::vector<double> p, lse_row, ds(static_cast<std::size_t>(T) * T);
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < H; ++h) {
      causal_probabilities(p, lse_row, q, k, b, h, scale);
      // dS, row by row: dP_ts = G_t . v_s, then subtract the row's P-weighted mean of dP.
      for (int t = 0; t < T; ++t) {
        const double* p_row = &p[static_cast<std::size_t>(t) * T];
        double* ds_row = &ds[static_cast<std::size_t>(t) * T];
        double weighted = 0.0;
        for (int s = 0; s <= t; ++s) {
          double dp = 0.0;
          for (int d = 0; d < D; ++d) dp += do_(b, t, h, d) * v(b, s, h, d);
          ds_row[s] = dp;
          weighted += p_row[s] * dp;
        }
        for (int s = 0; s <= t; ++s) ds_row[s] = p_row[s] * (ds_row[s] - weighted);
      }
      for (int t = 0; t < T; ++t) {
        for (int d = 0; d < D; ++d) {
          double acc = 0.0;
          for (int s = 0; s <= t; ++s) acc += ds[static_cast<std::size_t>(t) * T + s] * k(b, s, h, d);
          dq(b, t, h, d) = scale * acc;
        }
      }
      for (int s = 0; s < T; ++s) {
        for (int d = 0; d < D; ++d) {
          double acc_k = 0.0, acc_v = 0.0;
          for (int t = s; t < T; ++t) {
            acc_k += ds[static_cast<std::size_t>(t) * T + s] * q(b, t, h, d);
            acc_v += p[static_cast<std::size_t>(t) * T + s] * do_(b, t, h, d);
          }
          dk(b, s, h, d) = scale * acc_k;
          dv(b, s, h, d) = acc_v;
        }
      }
    }
  }
}

}  // namespace selectiv::attention
