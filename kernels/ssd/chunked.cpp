// SPDX-License-Identifier: BSD-3-Clause
// Chunkwise-parallel Mamba2 SSD forward and backward: one function per numbered step of README.md §2-§3, then the
// two orchestrators. Every step is a flat parallel loop, one thread per output element, looping over its chunk.
#include "kernels/ssd/chunked.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"

namespace selectiv::ssd {
namespace {

using Range = Kokkos::RangePolicy<Exec>;
using TeamPolicy = Kokkos::TeamPolicy<Exec>;
using Member = TeamPolicy::member_type;
// Chunk-local cumulative log-decays b, kept in fp64 so that the differences b_r - b_s stay exact (README.md §2).
using CumView = Kokkos::View<double***, Kokkos::LayoutRight, DeviceMem>;  // (B, T, H)

struct Sizes {
  int B, T, H, P, N, NT;
  KOKKOS_INLINE_FUNCTION int xcol(int h, int p) const { return h * P + p; }
  KOKKOS_INLINE_FUNCTION int bcol(int k) const { return H * P + k; }
  KOKKOS_INLINE_FUNCTION int ccol(int k) const { return H * P + N + k; }
  KOKKOS_INLINE_FUNCTION int chunk_end(int n) const { return (n + 1) * kChunk < T ? (n + 1) * kChunk : T; }
};

KOKKOS_INLINE_FUNCTION float exp_of(double x) { return kc::exp(static_cast<float>(x)); }
// softplus as PyTorch (x itself above 20) and its derivative
KOKKOS_INLINE_FUNCTION float softplus_of(float v) { return v > 20.0f ? v : kc::log1p(kc::exp(v)); }
KOKKOS_INLINE_FUNCTION float softplus_grad_of(float v) {
  if (v > 20.0f) return 1.0f;
  const float e = kc::exp(-kc::fabs(v));
  return v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

template <class ViewType>
ViewType workspace(const char* label, std::size_t e0, std::size_t e1, std::size_t e2) {
  return ViewType(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string(label)), e0, e1, e2);
}

// ---- forward ---------------------------------------------------------------------------------------------------

// Step 1 (also backward step 0): delta = softplus(dt + dt_bias), b_r = sum_{s<=r} -exp(A_log) delta_s within the
// chunk. One thread per (b, h, chunk).
void gate_cumsum(const Exec& exec, View3 delta, CumView cum, CView3 dt, CView1 dt_bias, CView1 A_log,
                 const Sizes s, const char* label) {
  Kokkos::parallel_for(
      label, Range(exec, 0, s.B * s.H * s.NT), KOKKOS_LAMBDA(const int i) {
        const int n = i % s.NT, h = (i / s.NT) % s.H, b = i / (s.NT * s.H);
        const double A = -static_cast<double>(kc::exp(A_log(h)));
        double acc = 0.0;
        for (int t = n * kChunk; t < s.chunk_end(n); ++t) {
          const float d = softplus_of(dt(b, t, h) + dt_bias(h));
          delta(b, t, h) = d;
          acc += A * static_cast<double>(d);
          cum(b, t, h) = acc;
        }
      });
}

// Step 2: U_n[p, k] = sum_s e^{b_L - b_s} delta_s x_s[p] B_s[k], written into states[n].
void chunk_local_states(const Exec& exec, View4 states, CView3 delta, CumView cum, CView3 xbc, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_fwd::chunk_local_states", Range(exec, 0, s.B * s.H * s.NT * s.P * s.N),
      KOKKOS_LAMBDA(const int i) {
        const int k = i % s.N, p = (i / s.N) % s.P, rest = i / (s.N * s.P);
        const int n = rest % s.NT, h = (rest / s.NT) % s.H, b = rest / (s.NT * s.H);
        const int t0 = n * kChunk, t1 = s.chunk_end(n);
        const double b_last = cum(b, t1 - 1, h);
        float acc = 0.0f;
        for (int t = t0; t < t1; ++t)
          acc += exp_of(b_last - cum(b, t, h)) * delta(b, t, h) * xbc(b, t, s.xcol(h, p)) * xbc(b, t, s.bcol(k));
        states(b, h, n * s.P + p, k) = acc;
      });
}

// Step 3: S = 0; for each chunk: states[n] <- S (was U_n); S <- e^{b_L} S + U_n. One thread per state entry.
void state_passing(const Exec& exec, View4 states, CumView cum, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_fwd::state_passing", Range(exec, 0, s.B * s.H * s.P * s.N),
      KOKKOS_LAMBDA(const int i) {
        const int k = i % s.N, p = (i / s.N) % s.P, h = (i / (s.N * s.P)) % s.H, b = i / (s.N * s.P * s.H);
        float S = 0.0f;
        for (int n = 0; n < s.NT; ++n) {
          const float U = states(b, h, n * s.P + p, k);
          states(b, h, n * s.P + p, k) = S;
          S = exp_of(cum(b, s.chunk_end(n) - 1, h)) * S + U;
        }
      });
}

// Step 4: scores(b, t, s) = C_t . B_{t0+s} for s <= r = t - t0 (0 above the diagonal), shared by all heads.
void chunk_scores(const Exec& exec, View3 scores, CView3 xbc, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_fwd::chunk_scores", Range(exec, 0, s.B * s.T * kChunk), KOKKOS_LAMBDA(const int i) {
        const int j = i % kChunk, t = (i / kChunk) % s.T, b = i / (kChunk * s.T);
        const int t0 = (t / kChunk) * kChunk;
        float acc = 0.0f;
        if (j <= t - t0)
          for (int k = 0; k < s.N; ++k) acc += xbc(b, t, s.ccol(k)) * xbc(b, t0 + j, s.bcol(k));
        scores(b, t, j) = acc;
      });
}

// Step 5: y_r[p] = e^{b_r} sum_k S_[n][p, k] C_r[k] + sum_{s<=r} scores_rs e^{b_r - b_s} delta_s x_s[p] + D x_r[p].
void chunk_output(const Exec& exec, View4 y, CView3 xbc, CView3 delta, CumView cum, CView4 states, CView3 scores,
                  CView1 D, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_fwd::chunk_output", Range(exec, 0, s.B * s.T * s.H * s.P), KOKKOS_LAMBDA(const int i) {
        const int p = i % s.P, h = (i / s.P) % s.H, t = (i / (s.P * s.H)) % s.T, b = i / (s.P * s.H * s.T);
        const int n = t / kChunk, t0 = n * kChunk;
        const double b_t = cum(b, t, h);
        float inter = 0.0f;
        for (int k = 0; k < s.N; ++k) inter += states(b, h, n * s.P + p, k) * xbc(b, t, s.ccol(k));
        float intra = 0.0f;
        for (int u = t0; u <= t; ++u)
          intra += scores(b, t, u - t0) * exp_of(b_t - cum(b, u, h)) * delta(b, u, h) * xbc(b, u, s.xcol(h, p));
        y(b, t, h, p) = exp_of(b_t) * inter + intra + D(h) * xbc(b, t, s.xcol(h, p));
      });
}

// ---- backward --------------------------------------------------------------------------------------------------

// Step 1: W_n[p, k] = sum_r e^{b_r} dy_r[p] C_r[k], written into dstates[n].
void chunk_local_dstates(const Exec& exec, View4 dstates, CumView cum, CView4 dy, CView3 xbc, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::chunk_local_dstates", Range(exec, 0, s.B * s.H * s.NT * s.P * s.N),
      KOKKOS_LAMBDA(const int i) {
        const int k = i % s.N, p = (i / s.N) % s.P, rest = i / (s.N * s.P);
        const int n = rest % s.NT, h = (rest / s.NT) % s.H, b = rest / (s.NT * s.H);
        float acc = 0.0f;
        for (int t = n * kChunk; t < s.chunk_end(n); ++t)
          acc += exp_of(cum(b, t, h)) * dy(b, t, h, p) * xbc(b, t, s.ccol(k));
        dstates(b, h, n * s.P + p, k) = acc;
      });
}

// Step 2: dS = 0; for n = NT-1..0: dstates[n] <- dS (was W_n); dS <- e^{b_L} dS + W_n. Afterwards dstates[n] is
// dS', the gradient of the state at the end of chunk n.
void dstate_passing(const Exec& exec, View4 dstates, CumView cum, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::dstate_passing", Range(exec, 0, s.B * s.H * s.P * s.N),
      KOKKOS_LAMBDA(const int i) {
        const int k = i % s.N, p = (i / s.N) % s.P, h = (i / (s.N * s.P)) % s.H, b = i / (s.N * s.P * s.H);
        float dS = 0.0f;
        for (int n = s.NT - 1; n >= 0; --n) {
          const float W = dstates(b, h, n * s.P + p, k);
          dstates(b, h, n * s.P + p, k) = dS;
          dS = exp_of(cum(b, s.chunk_end(n) - 1, h)) * dS + W;
        }
      });
}

// Step 3: dyx(b, t, h, s) = dy_r . x_s for s <= r = t - t0 (0 above the diagonal).
void output_input_dots(const Exec& exec, View4 dyx, CView4 dy, CView3 xbc, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::output_input_dots", Range(exec, 0, s.B * s.T * s.H * kChunk),
      KOKKOS_LAMBDA(const int i) {
        const int j = i % kChunk, h = (i / kChunk) % s.H, t = (i / (kChunk * s.H)) % s.T;
        const int b = i / (kChunk * s.H * s.T);
        const int t0 = (t / kChunk) * kChunk;
        float acc = 0.0f;
        if (j <= t - t0)
          for (int p = 0; p < s.P; ++p) acc += dy(b, t, h, p) * xbc(b, t0 + j, s.xcol(h, p));
        dyx(b, t, h, j) = acc;
      });
}

// Step 4: dx_s[p] = delta_s (sum_{r>=s} scores_rs e^{b_r - b_s} dy_r[p] + e^{b_L - b_s} (dS' B_s)[p]) + D dy_s[p].
void dx_step(const Exec& exec, View3 dxbc, CView3 delta, CumView cum, CView4 dstates, CView3 scores, CView4 dy,
             CView3 xbc, CView1 D, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::dx", Range(exec, 0, s.B * s.T * s.H * s.P), KOKKOS_LAMBDA(const int i) {
        const int p = i % s.P, h = (i / s.P) % s.H, t = (i / (s.P * s.H)) % s.T, b = i / (s.P * s.H * s.T);
        const int n = t / kChunk, t0 = n * kChunk, t1 = s.chunk_end(n);
        const double b_t = cum(b, t, h);
        float intra = 0.0f;
        for (int r = t; r < t1; ++r) intra += scores(b, r, t - t0) * exp_of(cum(b, r, h) - b_t) * dy(b, r, h, p);
        float state = 0.0f;
        for (int k = 0; k < s.N; ++k) state += dstates(b, h, n * s.P + p, k) * xbc(b, t, s.bcol(k));
        dxbc(b, t, s.xcol(h, p)) =
            delta(b, t, h) * (intra + exp_of(cum(b, t1 - 1, h) - b_t) * state) + D(h) * dy(b, t, h, p);
      });
}

// Step 5: dB and dC, summed over heads (README.md §3).
void dbc_step(const Exec& exec, View3 dxbc, CView3 delta, CumView cum, CView4 states, CView4 dstates, CView4 dyx,
              CView4 dy, CView3 xbc, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::dB_dC", Range(exec, 0, s.B * s.T * s.N), KOKKOS_LAMBDA(const int i) {
        const int k = i % s.N, t = (i / s.N) % s.T, b = i / (s.N * s.T);
        const int n = t / kChunk, t0 = n * kChunk, t1 = s.chunk_end(n);
        float dB = 0.0f, dC = 0.0f;
        for (int h = 0; h < s.H; ++h) {
          const double b_t = cum(b, t, h);
          float inter_c = 0.0f, state_b = 0.0f;
          for (int p = 0; p < s.P; ++p) {
            inter_c += states(b, h, n * s.P + p, k) * dy(b, t, h, p);
            state_b += dstates(b, h, n * s.P + p, k) * xbc(b, t, s.xcol(h, p));
          }
          float intra_c = 0.0f;
          for (int u = t0; u <= t; ++u)
            intra_c += exp_of(b_t - cum(b, u, h)) * delta(b, u, h) * dyx(b, t, h, u - t0) * xbc(b, u, s.bcol(k));
          float intra_b = 0.0f;
          for (int r = t; r < t1; ++r) intra_b += exp_of(cum(b, r, h) - b_t) * dyx(b, r, h, t - t0) * xbc(b, r, s.ccol(k));
          dC += exp_of(b_t) * inter_c + intra_c;
          dB += delta(b, t, h) * (intra_b + exp_of(cum(b, t1 - 1, h) - b_t) * state_b);
        }
        dxbc(b, t, s.bcol(k)) = dB;
        dxbc(b, t, s.ccol(k)) = dC;
      });
}

// Step 6: per token and head, alpha_t = e^{b_t} dy_t . (S_[n] C_t), beta_t = delta_t e^{b_L - b_t} x_t . (dS' B_t),
// the direct delta gradient x_t . du_t and dy_t . x_t (for dD).
void token_terms(const Exec& exec, View3 alpha, View3 beta, View3 ddelta, View3 dD_part, CView3 delta, CumView cum,
                 CView4 states, CView4 dstates, CView3 scores, CView4 dyx, CView4 dy, CView3 xbc, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::token_terms", Range(exec, 0, s.B * s.T * s.H), KOKKOS_LAMBDA(const int i) {
        const int h = i % s.H, t = (i / s.H) % s.T, b = i / (s.H * s.T);
        const int n = t / kChunk, t0 = n * kChunk, t1 = s.chunk_end(n);
        const double b_t = cum(b, t, h);
        float a = 0.0f, bt = 0.0f, dd = 0.0f;
        for (int p = 0; p < s.P; ++p) {
          float sc = 0.0f, dsb = 0.0f;
          for (int k = 0; k < s.N; ++k) {
            sc += states(b, h, n * s.P + p, k) * xbc(b, t, s.ccol(k));
            dsb += dstates(b, h, n * s.P + p, k) * xbc(b, t, s.bcol(k));
          }
          a += dy(b, t, h, p) * sc;
          bt += xbc(b, t, s.xcol(h, p)) * dsb;
          dd += dy(b, t, h, p) * xbc(b, t, s.xcol(h, p));
        }
        bt *= exp_of(cum(b, t1 - 1, h) - b_t);
        float direct = bt;
        for (int r = t; r < t1; ++r) direct += scores(b, r, t - t0) * exp_of(cum(b, r, h) - b_t) * dyx(b, r, h, t - t0);
        alpha(b, t, h) = exp_of(b_t) * a;
        beta(b, t, h) = delta(b, t, h) * bt;
        ddelta(b, t, h) = direct;
        dD_part(b, t, h) = dd;
      });
}

// Step 7: gamma_n = e^{b_L} <dS', S_[n]> per (b, h, chunk).
void chunk_gamma(const Exec& exec, View3 gamma, CumView cum, CView4 states, CView4 dstates, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::chunk_gamma", Range(exec, 0, s.B * s.H * s.NT), KOKKOS_LAMBDA(const int i) {
        const int n = i % s.NT, h = (i / s.NT) % s.H, b = i / (s.NT * s.H);
        float acc = 0.0f;
        for (int p = 0; p < s.P; ++p)
          for (int k = 0; k < s.N; ++k) acc += dstates(b, h, n * s.P + p, k) * states(b, h, n * s.P + p, k);
        gamma(b, h, n) = exp_of(cum(b, s.chunk_end(n) - 1, h)) * acc;
      });
}

// Step 8: dg_t = sum_{r>=t} alpha_r + sum_{r>=t, s<t} scores_rs e^{b_r - b_s} delta_s dyx_rs + gamma + sum_{s<t}
// beta_s; then ddt = (ddelta + dg A) softplus'(dt + dt_bias) and the per-token parts of dA_log.
void decay_grads(const Exec& exec, View3 ddt, View3 dA_part, CView3 alpha, CView3 beta, CView3 ddelta, CView3 gamma,
                 CView3 delta, CumView cum, CView3 scores, CView4 dyx, CView3 dt, CView1 dt_bias, CView1 A_log,
                 const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::decay_grads", Range(exec, 0, s.B * s.T * s.H), KOKKOS_LAMBDA(const int i) {
        const int h = i % s.H, t = (i / s.H) % s.T, b = i / (s.H * s.T);
        const int n = t / kChunk, t0 = n * kChunk, t1 = s.chunk_end(n);
        float dg = gamma(b, h, n);
        for (int r = t; r < t1; ++r) dg += alpha(b, r, h);
        for (int u = t0; u < t; ++u) dg += beta(b, u, h);
        for (int r = t; r < t1; ++r) {
          const double b_r = cum(b, r, h);
          float row = 0.0f;
          for (int u = t0; u < t; ++u)
            row += scores(b, r, u - t0) * exp_of(b_r - cum(b, u, h)) * delta(b, u, h) * dyx(b, r, h, u - t0);
          dg += row;
        }
        const float A = -kc::exp(A_log(h));
        const float d_delta = ddelta(b, t, h) + dg * A;
        ddt(b, t, h) = d_delta * softplus_grad_of(dt(b, t, h) + dt_bias(h));
        dA_part(b, t, h) = dg * A * delta(b, t, h);  // dg * d(g_t)/d(A_log), g_t = A delta_t
      });
}

// Step 9: the parameter gradients, reduced over (b, t) by one team per head and accumulated.
void parameter_grads(const Exec& exec, View1 d_dt_bias, View1 dA_log, View1 dD, CView3 ddt, CView3 dA_part,
                     CView3 dD_part, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::parameter_grads", TeamPolicy(exec, s.H, Kokkos::AUTO),
      KOKKOS_LAMBDA(const Member& team) {
        const int h = team.league_rank();
        const int BT = s.B * s.T;
        double sum_dt = 0.0, sum_A = 0.0, sum_D = 0.0;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, BT),
            [&](const int j, double& acc) { acc += ddt(j / s.T, j % s.T, h); }, sum_dt);
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, BT),
            [&](const int j, double& acc) { acc += dA_part(j / s.T, j % s.T, h); }, sum_A);
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, BT),
            [&](const int j, double& acc) { acc += dD_part(j / s.T, j % s.T, h); }, sum_D);
        Kokkos::single(Kokkos::PerTeam(team), [&]() {
          d_dt_bias(h) += static_cast<float>(sum_dt);
          dA_log(h) += static_cast<float>(sum_A);
          dD(h) += static_cast<float>(sum_D);
        });
      });
}

Sizes sizes_of(const char* who, const CView3& xbc, int H, int P, const CView3& dt, const CView1& dt_bias,
               const CView1& A_log, const CView1& D) {
  Sizes s{};
  s.B = static_cast<int>(xbc.extent(0));
  s.T = static_cast<int>(xbc.extent(1));
  s.H = H;
  s.P = P;
  const int width = static_cast<int>(xbc.extent(2));
  if (H <= 0 || P <= 0 || width <= H * P || (width - H * P) % 2 != 0)
    throw std::invalid_argument(std::string(who) + ": xbc width " + std::to_string(width) +
                                " is not H*P + 2N for H = " + std::to_string(H) + ", P = " + std::to_string(P));
  s.N = (width - H * P) / 2;
  s.NT = ssd_num_chunks(s.T);
  if (static_cast<int>(dt.extent(0)) != s.B || static_cast<int>(dt.extent(1)) != s.T ||
      static_cast<int>(dt.extent(2)) != H || static_cast<int>(dt_bias.extent(0)) != H ||
      static_cast<int>(A_log.extent(0)) != H || static_cast<int>(D.extent(0)) != H)
    throw std::invalid_argument(std::string(who) + ": dt must be (B, T, H) and dt_bias, A_log, D (H)");
  return s;
}

void check_saved(const char* who, const Sizes& s, const CView4& states, const CView3& scores) {
  if (static_cast<int>(states.extent(0)) != s.B || static_cast<int>(states.extent(1)) != s.H ||
      static_cast<int>(states.extent(2)) != s.NT * s.P || static_cast<int>(states.extent(3)) != s.N ||
      static_cast<int>(scores.extent(0)) != s.B || static_cast<int>(scores.extent(1)) != s.T ||
      static_cast<int>(scores.extent(2)) != kChunk)
    throw std::invalid_argument(std::string(who) + ": states / scores do not match (B, T, H, P, N)");
}

}  // namespace

int ssd_num_chunks(int T) { return (T + kChunk - 1) / kChunk; }

View4 ssd_allocate_states(int B, int T, int H, int P, int N) {
  return View4("selectiv::ssd::states", B, H, static_cast<std::size_t>(ssd_num_chunks(T)) * P, N);
}

View3 ssd_allocate_scores(int B, int T) { return View3("selectiv::ssd::scores", B, T, kChunk); }

void ssd_chunked_fwd(const Exec& exec, View4 y, View4 states, View3 scores, CView3 xbc, CView3 dt, CView1 dt_bias,
                     CView1 A_log, CView1 D) {
  const Sizes s = sizes_of("ssd_chunked_fwd", xbc, static_cast<int>(y.extent(2)), static_cast<int>(y.extent(3)), dt,
                           dt_bias, A_log, D);
  if (static_cast<int>(y.extent(0)) != s.B || static_cast<int>(y.extent(1)) != s.T)
    throw std::invalid_argument("ssd_chunked_fwd: y must be (B, T, H, P)");
  check_saved("ssd_chunked_fwd", s, states, scores);
  View3 delta = workspace<View3>("selectiv::ssd::delta", s.B, s.T, s.H);
  CumView cum = workspace<CumView>("selectiv::ssd::cum", s.B, s.T, s.H);
  gate_cumsum(exec, delta, cum, dt, dt_bias, A_log, s, "selectiv::ssd::chunked_fwd::gate_cumsum");
  chunk_local_states(exec, states, delta, cum, xbc, s);
  state_passing(exec, states, cum, s);
  chunk_scores(exec, scores, xbc, s);
  chunk_output(exec, y, xbc, delta, cum, states, scores, D, s);
}

void ssd_chunked_bwd(const Exec& exec, View3 dxbc, View3 ddt, View1 d_dt_bias, View1 dA_log, View1 dD,
                     CView4 states, CView3 scores, CView4 dy, CView3 xbc, CView3 dt, CView1 dt_bias, CView1 A_log,
                     CView1 D) {
  const Sizes s = sizes_of("ssd_chunked_bwd", xbc, static_cast<int>(dy.extent(2)), static_cast<int>(dy.extent(3)),
                           dt, dt_bias, A_log, D);
  check_saved("ssd_chunked_bwd", s, states, scores);
  if (dxbc.extent(0) != xbc.extent(0) || dxbc.extent(1) != xbc.extent(1) || dxbc.extent(2) != xbc.extent(2) ||
      ddt.extent(0) != dt.extent(0) || ddt.extent(1) != dt.extent(1) || ddt.extent(2) != dt.extent(2) ||
      static_cast<int>(d_dt_bias.extent(0)) != s.H || static_cast<int>(dA_log.extent(0)) != s.H ||
      static_cast<int>(dD.extent(0)) != s.H)
    throw std::invalid_argument("ssd_chunked_bwd: gradient shapes do not match their inputs");
  View3 delta = workspace<View3>("selectiv::ssd::delta", s.B, s.T, s.H);
  CumView cum = workspace<CumView>("selectiv::ssd::cum", s.B, s.T, s.H);
  View4 dstates(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("selectiv::ssd::dstates")), s.B, s.H,
                static_cast<std::size_t>(s.NT) * s.P, s.N);
  View4 dyx(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("selectiv::ssd::dyx")), s.B, s.T, s.H,
            kChunk);
  View3 alpha = workspace<View3>("selectiv::ssd::alpha", s.B, s.T, s.H);
  View3 beta = workspace<View3>("selectiv::ssd::beta", s.B, s.T, s.H);
  View3 ddelta = workspace<View3>("selectiv::ssd::ddelta", s.B, s.T, s.H);
  View3 dD_part = workspace<View3>("selectiv::ssd::dD_part", s.B, s.T, s.H);
  View3 dA_part = workspace<View3>("selectiv::ssd::dA_part", s.B, s.T, s.H);
  View3 gamma = workspace<View3>("selectiv::ssd::gamma", s.B, s.H, s.NT);

  gate_cumsum(exec, delta, cum, dt, dt_bias, A_log, s, "selectiv::ssd::chunked_bwd::gate_cumsum");
  chunk_local_dstates(exec, dstates, cum, dy, xbc, s);
  dstate_passing(exec, dstates, cum, s);
  output_input_dots(exec, dyx, dy, xbc, s);
  dx_step(exec, dxbc, delta, cum, dstates, scores, dy, xbc, D, s);
  dbc_step(exec, dxbc, delta, cum, states, dstates, dyx, dy, xbc, s);
  token_terms(exec, alpha, beta, ddelta, dD_part, delta, cum, states, dstates, scores, dyx, dy, xbc, s);
  chunk_gamma(exec, gamma, cum, states, dstates, s);
  decay_grads(exec, ddt, dA_part, alpha, beta, ddelta, gamma, delta, cum, scores, dyx, dt, dt_bias, A_log, s);
  parameter_grads(exec, d_dt_bias, dA_log, dD, ddt, dA_part, dD_part, s);
}

}  // namespace selectiv::ssd
