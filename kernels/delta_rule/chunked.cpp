// SPDX-License-Identifier: BSD-3-Clause
// Chunkwise-parallel WY / UT forward of the delta rule (README.md §5): chunk preparation (gate cumsum, UT solve,
// W and U), state passing (one thread per state column), chunk output.
#include "kernels/delta_rule/chunked.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/delta_rule/recurrent.hpp"

namespace selectiv::delta_rule {
namespace {

using TeamPolicy = Kokkos::TeamPolicy<Exec>;
using Member = TeamPolicy::member_type;
using ScratchFloats = Kokkos::View<float*, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
using ScratchDoubles = Kokkos::View<double*, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
using LogDecayView = Kokkos::View<double***, Kokkos::LayoutRight, DeviceMem>;  // (B, R, H)

constexpr int C = kChunkRows;

struct Sizes {
  int B = 0, T = 0, H = 0, K = 0, V = 0, n = 1, R = 0, NR = 0;
};

// Row chunk of a team: league rank = (b * H + h) * NR + chunk.
struct RowChunk {
  int b, h, chunk, r0, L;
  KOKKOS_INLINE_FUNCTION RowChunk(int league_rank, const Sizes& s) {
    chunk = league_rank % s.NR;
    const int bh = league_rank / s.NR;
    h = bh % s.H;
    b = bh / s.H;
    r0 = chunk * C;
    L = s.R - r0 < C ? s.R - r0 : C;
  }
};

// 1. Per chunk: b_i = cumulative log-decay (fp64), M = strict_tril(beta_i (k_i . k_s) e^{b_i - b_s}), and by forward
// substitution through (I + M): W_i = beta_i e^{b_i} k_i - sum_{s<i} M_is W_s, U_i = beta_i v_i - sum_{s<i} M_is U_s.
struct ChunkPrepare {
  LogDecayView log_decay;
  View4 W, U;
  CView4 k, v;
  CView3 beta, g;
  Sizes s;
  bool has_g;

  static std::size_t scratch_bytes() { return ScratchDoubles::shmem_size(C) + ScratchFloats::shmem_size(C * C); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    ScratchDoubles cum(team.team_scratch(0), C);
    ScratchFloats M(team.team_scratch(0), C * C);
    Kokkos::single(Kokkos::PerTeam(team), [&]() {
      double acc = 0.0;
      for (int i = 0; i < c.L; ++i) {
        const int row = c.r0 + i;
        if (has_g && row % s.n == 0) acc += g(c.b, row / s.n, c.h);
        cum(i) = acc;
        log_decay(c.b, row, c.h) = acc;
      }
    });
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.L * c.L), [&](int p) {
      const int i = p / c.L, j = p % c.L;
      if (j >= i) return;
      float dot = 0.0f;
      for (int e = 0; e < s.K; ++e) dot += k(c.b, c.r0 + i, c.h, e) * k(c.b, c.r0 + j, c.h, e);
      M(i * C + j) = beta(c.b, c.r0 + i, c.h) * dot * static_cast<float>(kc::exp(cum(i) - cum(j)));
    });
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, s.K + s.V), [&](int col) {
      const bool key = col < s.K;
      for (int i = 0; i < c.L; ++i) {
        const int row = c.r0 + i;
        const float bi = beta(c.b, row, c.h);
        float y = key ? bi * static_cast<float>(kc::exp(cum(i))) * k(c.b, row, c.h, col) : bi * v(c.b, row, c.h, col - s.K);
        for (int j = 0; j < i; ++j) y -= M(i * C + j) * (key ? W(c.b, c.r0 + j, c.h, col) : U(c.b, c.r0 + j, c.h, col - s.K));
        if (key) {
          W(c.b, row, c.h, col) = y;
        } else {
          U(c.b, row, c.h, col - s.K) = y;
        }
      }
    });
  }
};

// 2. One thread per state column (b, h, c), sequential over chunks: saves S, turns U into V_new = U - W S, then
// S <- e^{b_last} S + sum_i e^{b_last - b_i} k_i V_new_i.
struct StatePassing {
  View4 states, ht, U;
  CView4 W, k, h0;
  LogDecayView log_decay;
  Sizes s;
  bool has_h0, has_ht;

  KOKKOS_INLINE_FUNCTION void operator()(int idx) const {
    const int c = idx % s.V, bh = idx / s.V, h = bh % s.H, b = bh / s.H;
    float col[kMaxKeyDim];
    for (int e = 0; e < s.K; ++e) col[e] = has_h0 ? h0(b, h, e, c) : 0.0f;
    for (int chunk = 0; chunk < s.NR; ++chunk) {
      const int r0 = chunk * C, L = s.R - r0 < C ? s.R - r0 : C;
      for (int e = 0; e < s.K; ++e) states(b, h, chunk * s.K + e, c) = col[e];
      for (int i = 0; i < L; ++i) {
        float dot = 0.0f;
        for (int e = 0; e < s.K; ++e) dot += W(b, r0 + i, h, e) * col[e];
        U(b, r0 + i, h, c) -= dot;
      }
      const double last = log_decay(b, r0 + L - 1, h);
      const float decay = static_cast<float>(kc::exp(last));
      for (int e = 0; e < s.K; ++e) col[e] *= decay;
      for (int i = 0; i < L; ++i) {
        const float write = static_cast<float>(kc::exp(last - log_decay(b, r0 + i, h))) * U(b, r0 + i, h, c);
        for (int e = 0; e < s.K; ++e) col[e] += k(b, r0 + i, h, e) * write;
      }
    }
    if (has_ht)
      for (int e = 0; e < s.K; ++e) ht(b, h, e, c) = col[e];
  }
};

// 3. Per chunk, on the rows that end a token (row % n == n - 1):
// o_t = scale (e^{b_i} q_t^T S_chunk + sum_{j<=i} (q_t . k_j) e^{b_i - b_j} V_new_j).
struct ChunkOutput {
  View4 o;
  CView4 states, q, k, V_new;
  LogDecayView log_decay;
  float scale;
  Sizes s;

  static std::size_t scratch_bytes() { return ScratchFloats::shmem_size(C * C); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    ScratchFloats score(team.team_scratch(0), C * C);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.L * c.L), [&](int p) {
      const int i = p / c.L, j = p % c.L, row = c.r0 + i;
      if (j > i || row % s.n != s.n - 1) return;
      float dot = 0.0f;
      for (int e = 0; e < s.K; ++e) dot += q(c.b, row / s.n, c.h, e) * k(c.b, c.r0 + j, c.h, e);
      score(i * C + j) = dot * static_cast<float>(kc::exp(log_decay(c.b, row, c.h) - log_decay(c.b, c.r0 + j, c.h)));
    });
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.L * s.V), [&](int p) {
      const int i = p / s.V, col = p % s.V, row = c.r0 + i;
      if (row % s.n != s.n - 1) return;
      const int t = row / s.n;
      float inter = 0.0f;
      for (int e = 0; e < s.K; ++e) inter += q(c.b, t, c.h, e) * states(c.b, c.h, c.chunk * s.K + e, col);
      float acc = static_cast<float>(kc::exp(log_decay(c.b, row, c.h))) * inter;
      for (int j = 0; j <= i; ++j) acc += score(i * C + j) * V_new(c.b, c.r0 + j, c.h, col);
      o(c.b, t, c.h, col) = scale * acc;
    });
  }
};

// --- backward ------------------------------------------------------------------------------------------------

// B1. V_new = U - W S_chunk, recomputed from the saved chunk states; one thread per (b, row, h, c).
struct NewValues {
  View4 V_new;
  CView4 U, W, states;
  Sizes s;
  KOKKOS_INLINE_FUNCTION void operator()(int idx) const {
    const int c = idx % s.V;
    int rest = idx / s.V;
    const int h = rest % s.H;
    rest /= s.H;
    const int row = rest % s.R, b = rest / s.R, chunk = row / C;
    float dot = 0.0f;
    for (int e = 0; e < s.K; ++e) dot += W(b, row, h, e) * states(b, h, chunk * s.K + e, c);
    V_new(b, row, h, c) = U(b, row, h, c) - dot;
  }
};

// B2. The part of dV_new from the outputs of the same chunk: dV_new_j = scale sum_{i >= j} (q_i . k_j) e^{b_i - b_j} do_i.
struct IntraValueGrad {
  View4 dV_new;
  CView4 q, k, do_;
  LogDecayView log_decay;
  float scale;
  Sizes s;

  static std::size_t scratch_bytes() { return ScratchFloats::shmem_size(C * C); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    ScratchFloats score(team.team_scratch(0), C * C);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.L * c.L), [&](int p) {
      const int i = p / c.L, j = p % c.L, row = c.r0 + i;
      float value = 0.0f;
      if (j <= i && row % s.n == s.n - 1) {
        float dot = 0.0f;
        for (int e = 0; e < s.K; ++e) dot += q(c.b, row / s.n, c.h, e) * k(c.b, c.r0 + j, c.h, e);
        value = scale * dot * static_cast<float>(kc::exp(log_decay(c.b, row, c.h) - log_decay(c.b, c.r0 + j, c.h)));
      }
      score(i * C + j) = value;
    });
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.L * s.V), [&](int p) {
      const int j = p / s.V, col = p % s.V;
      float acc = 0.0f;
      for (int i = j; i < c.L; ++i) {
        const int row = c.r0 + i;
        if (row % s.n == s.n - 1) acc += score(i * C + j) * do_(c.b, row / s.n, c.h, col);
      }
      dV_new(c.b, c.r0 + j, c.h, col) = acc;
    });
  }
};

// B3. One thread per state column, chunks last to first, dS = dL/d(state after the chunk): saves dS, completes
// dV_new_j += e^{b_last - b_j} dS^T k_j, then dS <- e^{b_last} dS + scale sum_i e^{b_i} q_i do_i^T - W^T dV_new.
struct DStatePassing {
  View4 dstates, dh0, dV_new;
  CView4 dht, W, k, q, do_;
  LogDecayView log_decay;
  float scale;
  Sizes s;
  bool has_dht, has_dh0;

  KOKKOS_INLINE_FUNCTION void operator()(int idx) const {
    const int c = idx % s.V, bh = idx / s.V, h = bh % s.H, b = bh / s.H;
    float col[kMaxKeyDim];
    for (int e = 0; e < s.K; ++e) col[e] = has_dht ? dht(b, h, e, c) : 0.0f;
    for (int chunk = s.NR - 1; chunk >= 0; --chunk) {
      const int r0 = chunk * C, L = s.R - r0 < C ? s.R - r0 : C;
      for (int e = 0; e < s.K; ++e) dstates(b, h, chunk * s.K + e, c) = col[e];
      const double last = log_decay(b, r0 + L - 1, h);
      for (int j = 0; j < L; ++j) {
        float dot = 0.0f;
        for (int e = 0; e < s.K; ++e) dot += k(b, r0 + j, h, e) * col[e];
        dV_new(b, r0 + j, h, c) += static_cast<float>(kc::exp(last - log_decay(b, r0 + j, h))) * dot;
      }
      const float decay = static_cast<float>(kc::exp(last));
      for (int e = 0; e < s.K; ++e) col[e] *= decay;
      for (int i = 0; i < L; ++i) {
        const int row = r0 + i;
        const float dvn = dV_new(b, row, h, c);
        for (int e = 0; e < s.K; ++e) col[e] -= W(b, row, h, e) * dvn;
        if (row % s.n == s.n - 1) {
          const float read = scale * static_cast<float>(kc::exp(log_decay(b, row, h))) * do_(b, row / s.n, h, c);
          for (int e = 0; e < s.K; ++e) col[e] += q(b, row / s.n, h, e) * read;
        }
      }
    }
    if (has_dh0)
      for (int e = 0; e < s.K; ++e) dh0(b, h, e, c) = col[e];
  }
};

// B4. Per chunk, everything else (README.md §5, backward steps 4-8): dq; dk from the outputs and the state
// write; back substitution through (I + M)^T for dY_w, dY_u; dbeta, dv, the M part of dk; the log-decay gradient
// db per row and its reverse cumsum into dg.
struct ChunkGrads {
  View4 dq, dk, dv, dY_w, dY_u;
  View3 dbeta, dg;
  CView4 states, dstates, q, k, v, W, U, V_new, dV_new, do_;
  CView3 beta;
  LogDecayView log_decay;
  float scale;
  Sizes s;
  bool has_g;

  static std::size_t scratch_bytes() {
    return ScratchDoubles::shmem_size(C) + 2 * ScratchFloats::shmem_size(C * C) + ScratchFloats::shmem_size(C);
  }

  KOKKOS_INLINE_FUNCTION float gamma(const RowChunk& c, int i) const {
    return static_cast<float>(kc::exp(log_decay(c.b, c.r0 + i, c.h)));
  }
  KOKKOS_INLINE_FUNCTION float Gamma(const RowChunk& c, int i, int j) const {
    return static_cast<float>(kc::exp(log_decay(c.b, c.r0 + i, c.h) - log_decay(c.b, c.r0 + j, c.h)));
  }
  KOKKOS_INLINE_FUNCTION float kdot(const RowChunk& c, int i, int j) const {
    float dot = 0.0f;
    for (int e = 0; e < s.K; ++e) dot += k(c.b, c.r0 + i, c.h, e) * k(c.b, c.r0 + j, c.h, e);
    return dot;
  }
  KOKKOS_INLINE_FUNCTION float qkdot(const RowChunk& c, int i, int j) const {
    float dot = 0.0f;
    const int t = (c.r0 + i) / s.n;
    for (int e = 0; e < s.K; ++e) dot += q(c.b, t, c.h, e) * k(c.b, c.r0 + j, c.h, e);
    return dot;
  }
  KOKKOS_INLINE_FUNCTION bool is_output(const RowChunk& c, int i) const { return (c.r0 + i) % s.n == s.n - 1; }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    const int L = c.L, K = s.K, V = s.V;
    ScratchDoubles db(team.team_scratch(0), C);
    ScratchFloats M(team.team_scratch(0), C * C), G(team.team_scratch(0), C * C), Q(team.team_scratch(0), C);
    // s1. M_ij = beta_i (k_i . k_j) Gamma_ij (j < i); G_ij = Gamma_ij (V_new_j . do_i) on output rows (j <= i)
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * L), [&](int p) {
      const int i = p / L, j = p % L;
      M(i * C + j) = j < i ? beta(c.b, c.r0 + i, c.h) * kdot(c, i, j) * Gamma(c, i, j) : 0.0f;
      float value = 0.0f;
      if (j <= i && is_output(c, i)) {
        const int t = (c.r0 + i) / s.n;
        for (int col = 0; col < V; ++col) value += V_new(c.b, c.r0 + j, c.h, col) * do_(c.b, t, c.h, col);
        value *= Gamma(c, i, j);
      }
      G(i * C + j) = value;
    });
    // s2. Q_j = Gamma_Lj k_j^T dS_end V_new_j (the state write's share of b)
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int j) {
      float acc = 0.0f;
      for (int e = 0; e < K; ++e) {
        float row = 0.0f;
        for (int col = 0; col < V; ++col) row += dstates(c.b, c.h, c.chunk * K + e, col) * V_new(c.b, c.r0 + j, c.h, col);
        acc += k(c.b, c.r0 + j, c.h, e) * row;
      }
      Q(j) = Gamma(c, L - 1, j) * acc;
    });
    float carried = 0.0f;  // e^{b_last} <S_chunk, dS_end>
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(team, K * V),
        [&](int p, float& acc) {
          acc += states(c.b, c.h, c.chunk * K + p / V, p % V) * dstates(c.b, c.h, c.chunk * K + p / V, p % V);
        },
        carried);
    team.team_barrier();
    // s3. db from the outputs and the state write
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) {
      double acc = -static_cast<double>(Q(i));
      if (i == L - 1) {
        acc += static_cast<double>(gamma(c, L - 1)) * carried;
        for (int j = 0; j < L; ++j) acc += Q(j);
      }
      if (is_output(c, i)) {
        const int t = (c.r0 + i) / s.n;
        float inter = 0.0f;
        for (int e = 0; e < K; ++e) {
          float row = 0.0f;
          for (int col = 0; col < V; ++col) row += states(c.b, c.h, c.chunk * K + e, col) * do_(c.b, t, c.h, col);
          inter += q(c.b, t, c.h, e) * row;
        }
        acc += static_cast<double>(scale) * gamma(c, i) * inter;
        for (int j = 0; j < i; ++j) acc += static_cast<double>(scale) * qkdot(c, i, j) * G(i * C + j);
      }
      for (int m = i + 1; m < L; ++m)
        if (is_output(c, m)) acc -= static_cast<double>(scale) * qkdot(c, m, i) * G(m * C + i);
      db(i) = acc;
    });
    // s4. dq on output rows; dk from the outputs and the state write
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * K), [&](int p) {
      const int i = p / K, e = p % K, row = c.r0 + i;
      if (is_output(c, i)) {
        const int t = row / s.n;
        float inter = 0.0f;
        for (int col = 0; col < V; ++col) inter += states(c.b, c.h, c.chunk * K + e, col) * do_(c.b, t, c.h, col);
        float acc = gamma(c, i) * inter;
        for (int j = 0; j <= i; ++j) acc += G(i * C + j) * k(c.b, c.r0 + j, c.h, e);
        dq(c.b, t, c.h, e) = scale * acc;
      }
      float from_outputs = 0.0f;
      for (int m = i; m < L; ++m)
        if (is_output(c, m)) from_outputs += G(m * C + i) * q(c.b, (c.r0 + m) / s.n, c.h, e);
      float write = 0.0f;
      for (int col = 0; col < V; ++col) write += dstates(c.b, c.h, c.chunk * K + e, col) * V_new(c.b, row, c.h, col);
      dk(c.b, row, c.h, e) = scale * from_outputs + Gamma(c, L - 1, i) * write;
    });
    team.team_barrier();
    // s5. back substitution through (I + M)^T: dY_i = dX_i - sum_{m > i} M_mi dY_m, dX = (-S dV_new, dV_new)
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, K + V), [&](int colw) {
      const bool key = colw < K;
      for (int i = L - 1; i >= 0; --i) {
        const int row = c.r0 + i;
        float y;
        if (key) {
          y = 0.0f;
          for (int col = 0; col < V; ++col) y -= states(c.b, c.h, c.chunk * K + colw, col) * dV_new(c.b, row, c.h, col);
        } else {
          y = dV_new(c.b, row, c.h, colw - K);
        }
        for (int m = i + 1; m < L; ++m) y -= M(m * C + i) * (key ? dY_w(c.b, c.r0 + m, c.h, colw) : dY_u(c.b, c.r0 + m, c.h, colw - K));
        if (key) {
          dY_w(c.b, row, c.h, colw) = y;
        } else {
          dY_u(c.b, row, c.h, colw - K) = y;
        }
      }
    });
    team.team_barrier();
    // s6. dM_ij = -(dY_w_i . W_j + dY_u_i . U_j), j < i (into G, no longer needed)
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * L), [&](int p) {
      const int i = p / L, j = p % L;
      float value = 0.0f;
      if (j < i) {
        for (int e = 0; e < K; ++e) value -= dY_w(c.b, c.r0 + i, c.h, e) * W(c.b, c.r0 + j, c.h, e);
        for (int col = 0; col < V; ++col) value -= dY_u(c.b, c.r0 + i, c.h, col) * U(c.b, c.r0 + j, c.h, col);
      }
      G(i * C + j) = value;
    });
    team.team_barrier();
    // s7. dbeta, dv, db and dk through Y_w = beta e^b k, Y_u = beta v and M
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) {
      const int row = c.r0 + i;
      const float bi = beta(c.b, row, c.h), gi = gamma(c, i);
      float k_dyw = 0.0f, v_dyu = 0.0f;
      for (int e = 0; e < K; ++e) k_dyw += k(c.b, row, c.h, e) * dY_w(c.b, row, c.h, e);
      for (int col = 0; col < V; ++col) v_dyu += v(c.b, row, c.h, col) * dY_u(c.b, row, c.h, col);
      float d_beta = gi * k_dyw + v_dyu;
      double d_b = static_cast<double>(bi) * gi * k_dyw;
      for (int j = 0; j < i; ++j) {
        d_beta += G(i * C + j) * kdot(c, i, j) * Gamma(c, i, j);
        d_b += static_cast<double>(G(i * C + j)) * M(i * C + j);
      }
      for (int m = i + 1; m < L; ++m) d_b -= static_cast<double>(G(m * C + i)) * M(m * C + i);
      dbeta(c.b, row, c.h) = d_beta;
      db(i) += d_b;
    });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * V), [&](int p) {
      const int i = p / V, col = p % V, row = c.r0 + i;
      dv(c.b, row, c.h, col) = beta(c.b, row, c.h) * dY_u(c.b, row, c.h, col);
    });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * K), [&](int p) {
      const int i = p / K, e = p % K, row = c.r0 + i;
      const float bi = beta(c.b, row, c.h);
      float acc = bi * gamma(c, i) * dY_w(c.b, row, c.h, e);
      for (int j = 0; j < i; ++j) acc += G(i * C + j) * bi * Gamma(c, i, j) * k(c.b, c.r0 + j, c.h, e);
      for (int m = i + 1; m < L; ++m)
        acc += G(m * C + i) * beta(c.b, c.r0 + m, c.h) * Gamma(c, m, i) * k(c.b, c.r0 + m, c.h, e);
      dk(c.b, row, c.h, e) += acc;
    });
    team.team_barrier();
    // s8. b_i = sum of the row gates g_r for r <= i in the chunk: dg_r = sum_{i >= r} db_i, on sub-step 0 rows
    if (has_g) {
      Kokkos::single(Kokkos::PerTeam(team), [&]() {
        double acc = 0.0;
        for (int i = L - 1; i >= 0; --i) {
          acc += db(i);
          if ((c.r0 + i) % s.n == 0) dg(c.b, (c.r0 + i) / s.n, c.h) = static_cast<float>(acc);
        }
      });
    }
  }
};

void require_extents(const CView4& x, int e0, int e1, int e2, int e3, const char* name) {
  if (static_cast<int>(x.extent(0)) != e0 || static_cast<int>(x.extent(1)) != e1 ||
      static_cast<int>(x.extent(2)) != e2 || static_cast<int>(x.extent(3)) != e3)
    throw std::invalid_argument(std::string("selectiv::delta_rule::chunked: wrong extents of ") + name);
}

// Sizes from q (B, T, H, K), v (.., V) and k (B, T * n, ..); checks k, v, beta and g.
Sizes chunked_sizes(const CView4& q, const CView4& k, const CView4& v, const CView3& beta, const CView3& g) {
  Sizes s;
  s.B = static_cast<int>(q.extent(0));
  s.T = static_cast<int>(q.extent(1));
  s.H = static_cast<int>(q.extent(2));
  s.K = static_cast<int>(q.extent(3));
  s.V = static_cast<int>(v.extent(3));
  if (s.T < 1 || k.extent(1) % s.T != 0) throw std::invalid_argument("selectiv::delta_rule::chunked: k rows not T * n");
  s.n = static_cast<int>(k.extent(1)) / s.T;
  s.R = s.T * s.n;
  s.NR = delta_num_row_chunks(s.R);
  if (s.K > kMaxKeyDim) throw std::invalid_argument("selectiv::delta_rule::chunked: key dim above 128");
  const bool has_g = g.data() != nullptr;
  require_extents(k, s.B, s.R, s.H, s.K, "k");
  require_extents(v, s.B, s.R, s.H, s.V, "v");
  if (static_cast<int>(beta.extent(0)) != s.B || static_cast<int>(beta.extent(1)) != s.R ||
      static_cast<int>(beta.extent(2)) != s.H)
    throw std::invalid_argument("selectiv::delta_rule::chunked: wrong extents of beta");
  if (has_g && (static_cast<int>(g.extent(0)) != s.B || static_cast<int>(g.extent(1)) != s.T ||
                static_cast<int>(g.extent(2)) != s.H))
    throw std::invalid_argument("selectiv::delta_rule::chunked: wrong extents of g");
  return s;
}

}  // namespace

int delta_num_row_chunks(int rows) { return (rows + C - 1) / C; }

View4 delta_allocate_chunk_states(int B, int rows, int H, int K, int V) {
  return View4(Kokkos::view_alloc(Kokkos::WithoutInitializing, "selectiv::delta_rule::chunk_states"), B, H,
               delta_num_row_chunks(rows) * K, V);
}

void delta_chunked_fwd(const Exec& exec, View4 o, View4 ht, View4 states, CView4 q, CView4 k, CView4 v, CView3 beta,
                       CView3 g, CView4 h0, float scale) {
  const Sizes s = chunked_sizes(q, k, v, beta, g);
  const bool has_g = g.data() != nullptr, has_h0 = h0.data() != nullptr, has_ht = ht.data() != nullptr;
  require_extents(o, s.B, s.T, s.H, s.V, "o");
  require_extents(states, s.B, s.H, s.NR * s.K, s.V, "states");
  if (has_h0) require_extents(h0, s.B, s.H, s.K, s.V, "h0");
  if (has_ht) require_extents(ht, s.B, s.H, s.K, s.V, "ht");

  LogDecayView log_decay(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::delta_rule::log_decay"),
                         s.B, s.R, s.H);
  View4 W(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::delta_rule::wy_w"), s.B, s.R, s.H, s.K);
  View4 U(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::delta_rule::wy_u"), s.B, s.R, s.H, s.V);
  const int chunks = s.B * s.H * s.NR;
  Kokkos::parallel_for("selectiv::delta_rule::chunked_fwd::prepare",
                       TeamPolicy(exec, chunks, Kokkos::AUTO)
                           .set_scratch_size(0, Kokkos::PerTeam(ChunkPrepare::scratch_bytes())),
                       ChunkPrepare{log_decay, W, U, k, v, beta, g, s, has_g});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_fwd::state_passing",
                       Kokkos::RangePolicy<Exec>(exec, 0, s.B * s.H * s.V),
                       StatePassing{states, ht, U, W, k, h0, log_decay, s, has_h0, has_ht});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_fwd::output",
                       TeamPolicy(exec, chunks, Kokkos::AUTO)
                           .set_scratch_size(0, Kokkos::PerTeam(ChunkOutput::scratch_bytes())),
                       ChunkOutput{o, states, q, k, U, log_decay, scale, s});
  // The workspaces are freed on return: wait for the kernels that use them.
  kc::fence(exec, "selectiv::delta_rule::chunked_fwd");
}


void delta_chunked_bwd(const Exec& exec, View4 dq, View4 dk, View4 dv, View3 dbeta, View3 dg, View4 dh0,
                       CView4 states, CView4 do_, CView4 dht, CView4 q, CView4 k, CView4 v, CView3 beta, CView3 g,
                       float scale) {
  const Sizes s = chunked_sizes(q, k, v, beta, g);
  const bool has_g = g.data() != nullptr, has_dht = dht.data() != nullptr, has_dh0 = dh0.data() != nullptr;
  if (has_g != (dg.data() != nullptr)) throw std::invalid_argument("selectiv::delta_rule::chunked: dg must match g");
  require_extents(dq, s.B, s.T, s.H, s.K, "dq");
  require_extents(dk, s.B, s.R, s.H, s.K, "dk");
  require_extents(dv, s.B, s.R, s.H, s.V, "dv");
  require_extents(do_, s.B, s.T, s.H, s.V, "do");
  require_extents(states, s.B, s.H, s.NR * s.K, s.V, "states");
  if (static_cast<int>(dbeta.extent(0)) != s.B || static_cast<int>(dbeta.extent(1)) != s.R ||
      static_cast<int>(dbeta.extent(2)) != s.H)
    throw std::invalid_argument("selectiv::delta_rule::chunked: wrong extents of dbeta");
  if (has_g && (static_cast<int>(dg.extent(0)) != s.B || static_cast<int>(dg.extent(1)) != s.T ||
                static_cast<int>(dg.extent(2)) != s.H))
    throw std::invalid_argument("selectiv::delta_rule::chunked: wrong extents of dg");
  if (has_dht) require_extents(dht, s.B, s.H, s.K, s.V, "dht");
  if (has_dh0) require_extents(dh0, s.B, s.H, s.K, s.V, "dh0");

  auto alloc4 = [&](const char* label, int last) {
    return View4(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, std::string(label)), s.B, s.R, s.H, last);
  };
  LogDecayView log_decay(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::delta_rule::log_decay"),
                         s.B, s.R, s.H);
  View4 W = alloc4("selectiv::delta_rule::wy_w", s.K), U = alloc4("selectiv::delta_rule::wy_u", s.V);
  View4 V_new = alloc4("selectiv::delta_rule::v_new", s.V), dV_new = alloc4("selectiv::delta_rule::dv_new", s.V);
  View4 dY_w = alloc4("selectiv::delta_rule::dy_w", s.K), dY_u = alloc4("selectiv::delta_rule::dy_u", s.V);
  View4 dstates(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::delta_rule::dstates"), s.B, s.H,
                s.NR * s.K, s.V);
  const int chunks = s.B * s.H * s.NR;
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::prepare",
                       TeamPolicy(exec, chunks, Kokkos::AUTO)
                           .set_scratch_size(0, Kokkos::PerTeam(ChunkPrepare::scratch_bytes())),
                       ChunkPrepare{log_decay, W, U, k, v, beta, g, s, has_g});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::new_values",
                       Kokkos::RangePolicy<Exec>(exec, 0, s.B * s.R * s.H * s.V), NewValues{V_new, U, W, states, s});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::intra_value_grad",
                       TeamPolicy(exec, chunks, Kokkos::AUTO)
                           .set_scratch_size(0, Kokkos::PerTeam(IntraValueGrad::scratch_bytes())),
                       IntraValueGrad{dV_new, q, k, do_, log_decay, scale, s});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::dstate_passing",
                       Kokkos::RangePolicy<Exec>(exec, 0, s.B * s.H * s.V),
                       DStatePassing{dstates, dh0, dV_new, dht, W, k, q, do_, log_decay, scale, s, has_dht, has_dh0});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::chunk_grads",
                       TeamPolicy(exec, chunks, Kokkos::AUTO)
                           .set_scratch_size(0, Kokkos::PerTeam(ChunkGrads::scratch_bytes())),
                       ChunkGrads{dq, dk, dv, dY_w, dY_u, dbeta, dg, states, dstates, q, k, v, W, U, V_new, dV_new,
                                  do_, beta, log_decay, scale, s, has_g});
  // The workspaces are freed on return: wait for the kernels that use them.
  kc::fence(exec, "selectiv::delta_rule::chunked_bwd");
}

}  // namespace selectiv::delta_rule
