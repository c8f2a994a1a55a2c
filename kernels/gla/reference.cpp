// SPDX-License-Identifier: BSD-3-Clause
// Host reference of the GLA recurrence: forward token by token, backward through time (README.md §1). Serial,
// double accumulation, deliberately unoptimised.
#include "kernels/gla/reference.hpp"

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace selectiv::gla {
namespace {

using Index = std::size_t;

// Offsets into the row-major (B, T, H, D) and (B, H, K, V) tensors.
struct Layout {
  GlaSizes n;
  Index token(int b, int t, int h, int d, int D) const {
    return ((static_cast<Index>(b) * n.T + t) * n.H + h) * D + d;
  }
  Index qk(int b, int t, int h, int kk) const { return token(b, t, h, kk, n.K); }
  Index tv(int b, int t, int h, int vv) const { return token(b, t, h, vv, n.V); }
  Index state(int b, int h, int kk, int vv) const {
    return ((static_cast<Index>(b) * n.H + h) * n.K + kk) * n.V + vv;
  }
  Index tokens_k() const { return static_cast<Index>(n.B) * n.T * n.H * n.K; }
  Index tokens_v() const { return static_cast<Index>(n.B) * n.T * n.H * n.V; }
  Index states() const { return static_cast<Index>(n.B) * n.H * n.K * n.V; }
};

void check_size(const std::vector<double>& x, Index expected, const char* name, bool optional) {
  if (optional && x.empty()) return;
  if (x.size() != expected)
    throw std::invalid_argument(std::string("gla reference: ") + name + " has " + std::to_string(x.size()) +
                                " elements, expected " + std::to_string(expected));
}

void check_inputs(const Layout& at, const std::vector<double>& q, const std::vector<double>& k,
                  const std::vector<double>& v, const std::vector<double>& g, const std::vector<double>& h0) {
  check_size(q, at.tokens_k(), "q", false);
  check_size(k, at.tokens_k(), "k", false);
  check_size(v, at.tokens_v(), "v", false);
  check_size(g, at.tokens_k(), "g", false);
  check_size(h0, at.states(), "h0", true);
}

// All states of one (b, h): states[(t + 1) * K * V + kk * V + vv] = S_t[kk, vv] for t = -1 .. T-1.
std::vector<double> states_through_time(const Layout& at, int b, int h, const std::vector<double>& k,
                                        const std::vector<double>& v, const std::vector<double>& g,
                                        const std::vector<double>& h0) {
  const GlaSizes& n = at.n;
  const Index KV = static_cast<Index>(n.K) * n.V;
  std::vector<double> states((static_cast<Index>(n.T) + 1) * KV, 0.0);
  if (!h0.empty())
    for (int kk = 0; kk < n.K; ++kk)
      for (int vv = 0; vv < n.V; ++vv) states[kk * n.V + vv] = h0[at.state(b, h, kk, vv)];
  for (int t = 0; t < n.T; ++t) {
    const double* prev = &states[t * KV];
    double* next = &states[(t + 1) * KV];
    for (int kk = 0; kk < n.K; ++kk) {
      const double decay = std::exp(g[at.qk(b, t, h, kk)]);
      const double key = k[at.qk(b, t, h, kk)];
      for (int vv = 0; vv < n.V; ++vv)
        next[kk * n.V + vv] = decay * prev[kk * n.V + vv] + key * v[at.tv(b, t, h, vv)];
    }
  }
  return states;
}

}  // namespace

void gla_reference_fwd(std::vector<double>& o, std::vector<double>& ht, const std::vector<double>& q,
                       const std::vector<double>& k, const std::vector<double>& v, const std::vector<double>& g,
                       const std::vector<double>& h0, double scale, const GlaSizes& sizes) {
  const Layout at{sizes};
  check_inputs(at, q, k, v, g, h0);
  const GlaSizes& n = sizes;
  const Index KV = static_cast<Index>(n.K) * n.V;
  o.assign(at.tokens_v(), 0.0);
  ht.assign(at.states(), 0.0);
  for (int b = 0; b < n.B; ++b)
    for (int h = 0; h < n.H; ++h) {
      const std::vector<double> states = states_through_time(at, b, h, k, v, g, h0);
      for (int t = 0; t < n.T; ++t) {
        const double* state = &states[(t + 1) * KV];  // S_t
        for (int vv = 0; vv < n.V; ++vv) {
          double acc = 0.0;
          for (int kk = 0; kk < n.K; ++kk) acc += state[kk * n.V + vv] * q[at.qk(b, t, h, kk)];
          o[at.tv(b, t, h, vv)] = scale * acc;
        }
      }
      for (int kk = 0; kk < n.K; ++kk)
        for (int vv = 0; vv < n.V; ++vv) ht[at.state(b, h, kk, vv)] = states[n.T * KV + kk * n.V + vv];
    }
}

void gla_reference_bwd(std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv,
                       std::vector<double>& dg, std::vector<double>& dh0, const std::vector<double>& do_,
                       const std::vector<double>& dht, const std::vector<double>& q, const std::vector<double>& k,
                       const std::vector<double>& v, const std::vector<double>& g, const std::vector<double>& h0,
                       double scale, const GlaSizes& sizes) {
  const Layout at{sizes};
  check_inputs(at, q, k, v, g, h0);
  check_size(do_, at.tokens_v(), "do", false);
  check_size(dht, at.states(), "dht", true);
  const GlaSizes& n = sizes;
  const Index KV = static_cast<Index>(n.K) * n.V;
  dq.assign(at.tokens_k(), 0.0);
  dk.assign(at.tokens_k(), 0.0);
  dv.assign(at.tokens_v(), 0.0);
  dg.assign(at.tokens_k(), 0.0);
  dh0.assign(at.states(), 0.0);
  std::vector<double> dstate(KV);  // gradient of the current state S_t, (K, V)
  for (int b = 0; b < n.B; ++b)
    for (int h = 0; h < n.H; ++h) {
      const std::vector<double> states = states_through_time(at, b, h, k, v, g, h0);
      for (int kk = 0; kk < n.K; ++kk)
        for (int vv = 0; vv < n.V; ++vv)
          dstate[kk * n.V + vv] = dht.empty() ? 0.0 : dht[at.state(b, h, kk, vv)];
      for (int t = n.T - 1; t >= 0; --t) {
        const double* state = &states[(t + 1) * KV];  // S_t
        const double* prev = &states[t * KV];         // S_{t-1}
        // o_t = scale * S_t^T q_t: its gradient reaches S_t.
        for (int kk = 0; kk < n.K; ++kk)
          for (int vv = 0; vv < n.V; ++vv)
            dstate[kk * n.V + vv] += scale * q[at.qk(b, t, h, kk)] * do_[at.tv(b, t, h, vv)];
        for (int kk = 0; kk < n.K; ++kk) {
          double dq_acc = 0.0, dk_acc = 0.0, dg_acc = 0.0;
          for (int vv = 0; vv < n.V; ++vv) {
            dq_acc += state[kk * n.V + vv] * do_[at.tv(b, t, h, vv)];
            dk_acc += dstate[kk * n.V + vv] * v[at.tv(b, t, h, vv)];
            dg_acc += prev[kk * n.V + vv] * dstate[kk * n.V + vv];
          }
          const double decay = std::exp(g[at.qk(b, t, h, kk)]);
          dq[at.qk(b, t, h, kk)] = scale * dq_acc;
          dk[at.qk(b, t, h, kk)] = dk_acc;
          dg[at.qk(b, t, h, kk)] = decay * dg_acc;
        }
        for (int vv = 0; vv < n.V; ++vv) {
          double acc = 0.0;
          for (int kk = 0; kk < n.K; ++kk) acc += dstate[kk * n.V + vv] * k[at.qk(b, t, h, kk)];
          dv[at.tv(b, t, h, vv)] = acc;
        }
        // S_t = diag(exp(g_t)) S_{t-1} + ...: pass the gradient on to S_{t-1}.
        for (int kk = 0; kk < n.K; ++kk) {
          const double decay = std::exp(g[at.qk(b, t, h, kk)]);
          for (int vv = 0; vv < n.V; ++vv) dstate[kk * n.V + vv] *= decay;
        }
      }
      for (int kk = 0; kk < n.K; ++kk)
        for (int vv = 0; vv < n.V; ++vv) dh0[at.state(b, h, kk, vv)] = dstate[kk * n.V + vv];
    }
}

}  // namespace selectiv::gla
