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

void require_extents(const CView4& x, int e0, int e1, int e2, int e3, const char* name) {
  if (static_cast<int>(x.extent(0)) != e0 || static_cast<int>(x.extent(1)) != e1 ||
      static_cast<int>(x.extent(2)) != e2 || static_cast<int>(x.extent(3)) != e3)
    throw std::invalid_argument(std::string("selectiv::delta_rule::chunked: wrong extents of ") + name);
}

}  // namespace

int delta_num_row_chunks(int rows) { return (rows + C - 1) / C; }

View4 delta_allocate_chunk_states(int B, int rows, int H, int K, int V) {
  return View4(Kokkos::view_alloc(Kokkos::WithoutInitializing, "selectiv::delta_rule::chunk_states"), B, H,
               delta_num_row_chunks(rows) * K, V);
}

void delta_chunked_fwd(const Exec& exec, View4 o, View4 ht, View4 states, CView4 q, CView4 k, CView4 v, CView3 beta,
                       CView3 g, CView4 h0, float scale) {
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
  const bool has_g = g.data() != nullptr, has_h0 = h0.data() != nullptr, has_ht = ht.data() != nullptr;
  require_extents(k, s.B, s.R, s.H, s.K, "k");
  require_extents(v, s.B, s.R, s.H, s.V, "v");
  if (static_cast<int>(beta.extent(0)) != s.B || static_cast<int>(beta.extent(1)) != s.R ||
      static_cast<int>(beta.extent(2)) != s.H)
    throw std::invalid_argument("selectiv::delta_rule::chunked: wrong extents of beta");
  if (has_g && (static_cast<int>(g.extent(0)) != s.B || static_cast<int>(g.extent(1)) != s.T ||
                static_cast<int>(g.extent(2)) != s.H))
    throw std::invalid_argument("selectiv::delta_rule::chunked: wrong extents of g");
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

}  // namespace selectiv::delta_rule
