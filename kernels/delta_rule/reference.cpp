// SPDX-License-Identifier: BSD-3-Clause
// Host twin of the delta rule: token by token in double, forward and backward through time (README.md §1).
#include "kernels/delta_rule/reference.hpp"

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace selectiv::delta_rule {
namespace {

// Flat offsets into the row-major tensors of reference.hpp.
struct Index {
  DeltaSizes s;
  std::size_t q(int b, int t, int h, int e) const { return ((std::size_t(b) * s.T + t) * s.H + h) * s.K + e; }
  std::size_t k(int b, int r, int h, int e) const {
    return ((std::size_t(b) * s.T * s.n + r) * s.H + h) * s.K + e;
  }
  std::size_t v(int b, int r, int h, int c) const {
    return ((std::size_t(b) * s.T * s.n + r) * s.H + h) * s.V + c;
  }
  std::size_t o(int b, int t, int h, int c) const { return ((std::size_t(b) * s.T + t) * s.H + h) * s.V + c; }
  std::size_t beta(int b, int r, int h) const { return (std::size_t(b) * s.T * s.n + r) * s.H + h; }
  std::size_t g(int b, int t, int h) const { return (std::size_t(b) * s.T + t) * s.H + h; }
  std::size_t state(int b, int h) const { return (std::size_t(b) * s.H + h) * s.K * s.V; }
};

// u = v_r - S^T k_r for sub-step row r of (b, h).
void residual(std::vector<double>& u, const std::vector<double>& S, const std::vector<double>& k,
              const std::vector<double>& v, const Index& at, int b, int r, int h) {
  const int K = at.s.K, V = at.s.V;
  for (int c = 0; c < V; ++c) {
    double dot = 0.0;
    for (int e = 0; e < K; ++e) dot += S[std::size_t(e) * V + c] * k[at.k(b, r, h, e)];
    u[c] = v[at.v(b, r, h, c)] - dot;
  }
}

// Runs the recurrence of (b, h) from h0. When `pre` is given it receives, for every sub-step row r, the state just
// before the rank-one update of r (after the decay for the first sub-step of a token): pre[r * K * V + ...].
void run_head(std::vector<double>& S, std::vector<double>* o, std::vector<double>* pre, const std::vector<double>& q,
              const std::vector<double>& k, const std::vector<double>& v, const std::vector<double>& beta,
              const std::vector<double>& g, const std::vector<double>& h0, double scale, const Index& at, int b,
              int h) {
  const DeltaSizes& s = at.s;
  const std::size_t KV = std::size_t(s.K) * s.V;
  S.assign(KV, 0.0);
  if (!h0.empty()) std::copy(h0.begin() + at.state(b, h), h0.begin() + at.state(b, h) + KV, S.begin());
  std::vector<double> u(s.V);
  for (int t = 0; t < s.T; ++t) {
    if (!g.empty()) {
      const double decay = std::exp(g[at.g(b, t, h)]);
      for (double& x : S) x *= decay;
    }
    for (int j = 0; j < s.n; ++j) {
      const int r = t * s.n + j;
      if (pre) std::copy(S.begin(), S.end(), pre->begin() + std::size_t(r) * KV);
      residual(u, S, k, v, at, b, r, h);
      const double bt = beta[at.beta(b, r, h)];
      for (int e = 0; e < s.K; ++e) {
        const double ke = k[at.k(b, r, h, e)];
        for (int c = 0; c < s.V; ++c) S[std::size_t(e) * s.V + c] += ke * bt * u[c];
      }
    }
    if (o) {
      for (int c = 0; c < s.V; ++c) {
        double dot = 0.0;
        for (int e = 0; e < s.K; ++e) dot += S[std::size_t(e) * s.V + c] * q[at.q(b, t, h, e)];
        (*o)[at.o(b, t, h, c)] = scale * dot;
      }
    }
  }
}

void require_size(const std::vector<double>& x, std::size_t expected, const char* name, bool optional = false) {
  if (optional && x.empty()) return;
  if (x.size() != expected)
    throw std::invalid_argument(std::string("selectiv::delta_rule reference: wrong size of ") + name);
}

void require_sizes(const DeltaSizes& s, const std::vector<double>& q, const std::vector<double>& k,
                   const std::vector<double>& v, const std::vector<double>& beta, const std::vector<double>& g,
                   const std::vector<double>& h0) {
  if (s.B < 1 || s.T < 1 || s.H < 1 || s.K < 1 || s.V < 1 || s.n < 1)
    throw std::invalid_argument("selectiv::delta_rule reference: sizes must be positive");
  const std::size_t rows = std::size_t(s.B) * s.T * s.H, sub_rows = rows * s.n;
  require_size(q, rows * s.K, "q");
  require_size(k, sub_rows * s.K, "k");
  require_size(v, sub_rows * s.V, "v");
  require_size(beta, sub_rows, "beta");
  require_size(g, rows, "g", true);
  require_size(h0, std::size_t(s.B) * s.H * s.K * s.V, "h0", true);
}

}  // namespace

void delta_reference_fwd(std::vector<double>& o, std::vector<double>& ht, const std::vector<double>& q,
                         const std::vector<double>& k, const std::vector<double>& v, const std::vector<double>& beta,
                         const std::vector<double>& g, const std::vector<double>& h0, double scale,
                         const DeltaSizes& sizes) {
  require_sizes(sizes, q, k, v, beta, g, h0);
  const Index at{sizes};
  const std::size_t KV = std::size_t(sizes.K) * sizes.V;
  o.assign(std::size_t(sizes.B) * sizes.T * sizes.H * sizes.V, 0.0);
  ht.assign(std::size_t(sizes.B) * sizes.H * KV, 0.0);
  std::vector<double> S;
  for (int b = 0; b < sizes.B; ++b) {
    for (int h = 0; h < sizes.H; ++h) {
      run_head(S, &o, nullptr, q, k, v, beta, g, h0, scale, at, b, h);
      std::copy(S.begin(), S.end(), ht.begin() + at.state(b, h));
    }
  }
}

void delta_reference_bwd(std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv,
                         std::vector<double>& dbeta, std::vector<double>& dg, std::vector<double>& dh0,
                         const std::vector<double>& do_, const std::vector<double>& dht, const std::vector<double>& q,
                         const std::vector<double>& k, const std::vector<double>& v, const std::vector<double>& beta,
                         const std::vector<double>& g, const std::vector<double>& h0, double scale,
                         const DeltaSizes& sizes) {
  require_sizes(sizes, q, k, v, beta, g, h0);
  require_size(do_, std::size_t(sizes.B) * sizes.T * sizes.H * sizes.V, "do");
  require_size(dht, std::size_t(sizes.B) * sizes.H * sizes.K * sizes.V, "dht", true);
  const Index at{sizes};
  const int K = sizes.K, V = sizes.V, n = sizes.n;
  const std::size_t KV = std::size_t(K) * V;
  dq.assign(q.size(), 0.0);
  dk.assign(k.size(), 0.0);
  dv.assign(v.size(), 0.0);
  dbeta.assign(beta.size(), 0.0);
  dg.assign(g.size(), 0.0);
  dh0.assign(std::size_t(sizes.B) * sizes.H * KV, 0.0);
  std::vector<double> S, pre(std::size_t(sizes.T) * n * KV), dS(KV), u(V), w(V), du(V), St(KV);
  for (int b = 0; b < sizes.B; ++b) {
    for (int h = 0; h < sizes.H; ++h) {
      run_head(S, nullptr, &pre, q, k, v, beta, g, h0, scale, at, b, h);
      if (dht.empty()) {
        dS.assign(KV, 0.0);
      } else {
        std::copy(dht.begin() + at.state(b, h), dht.begin() + at.state(b, h) + KV, dS.begin());
      }
      for (int t = sizes.T - 1; t >= 0; --t) {
        // o_t = scale S_t^T q_t, S_t = the last pre-state plus its rank-one update.
        {
          const int r = t * n + n - 1;
          const double* P = pre.data() + std::size_t(r) * KV;
          std::copy(P, P + KV, St.begin());
          residual(u, St, k, v, at, b, r, h);
          const double bt = beta[at.beta(b, r, h)];
          for (int e = 0; e < K; ++e)
            for (int c = 0; c < V; ++c) St[std::size_t(e) * V + c] += k[at.k(b, r, h, e)] * bt * u[c];
        }
        for (int e = 0; e < K; ++e) {
          double acc = 0.0;
          for (int c = 0; c < V; ++c) acc += St[std::size_t(e) * V + c] * do_[at.o(b, t, h, c)];
          dq[at.q(b, t, h, e)] = scale * acc;
          for (int c = 0; c < V; ++c) dS[std::size_t(e) * V + c] += scale * q[at.q(b, t, h, e)] * do_[at.o(b, t, h, c)];
        }
        // Sub-steps in reverse: S = P + k (beta u)^T with u = v - P^T k.
        for (int j = n - 1; j >= 0; --j) {
          const int r = t * n + j;
          std::vector<double> P(pre.begin() + std::size_t(r) * KV, pre.begin() + std::size_t(r + 1) * KV);
          residual(u, P, k, v, at, b, r, h);
          const double bt = beta[at.beta(b, r, h)];
          double db = 0.0;
          for (int c = 0; c < V; ++c) {
            double acc = 0.0;
            for (int e = 0; e < K; ++e) acc += dS[std::size_t(e) * V + c] * k[at.k(b, r, h, e)];
            w[c] = acc;                 // dL/d(beta u)
            du[c] = bt * acc;
            db += u[c] * acc;
            dv[at.v(b, r, h, c)] = du[c];
          }
          dbeta[at.beta(b, r, h)] = db;
          for (int e = 0; e < K; ++e) {
            double acc = 0.0;
            for (int c = 0; c < V; ++c) acc += dS[std::size_t(e) * V + c] * bt * u[c] - P[std::size_t(e) * V + c] * du[c];
            dk[at.k(b, r, h, e)] = acc;
          }
          for (int e = 0; e < K; ++e)
            for (int c = 0; c < V; ++c) dS[std::size_t(e) * V + c] -= k[at.k(b, r, h, e)] * du[c];
        }
        // Decay: A = exp(g) S_{t-1} is the first pre-state; dg = <dA, A>, dS_{t-1} = exp(g) dA.
        if (!g.empty()) {
          const double* A = pre.data() + std::size_t(t) * n * KV;
          double acc = 0.0;
          for (std::size_t i = 0; i < KV; ++i) acc += dS[i] * A[i];
          dg[at.g(b, t, h)] = acc;
          const double decay = std::exp(g[at.g(b, t, h)]);
          for (double& x : dS) x *= decay;
        }
      }
      std::copy(dS.begin(), dS.end(), dh0.begin() + at.state(b, h));
    }
  }
}

}  // namespace selectiv::delta_rule
