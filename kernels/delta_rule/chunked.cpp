// SPDX-License-Identifier: BSD-3-Clause
// Chunkwise-parallel WY / UT forward and backward of the delta rule (README.md §5): chunk preparation (gate
// cumsum, UT transform, W and U), state passing, chunk output, and the backward's gradient steps. Every matrix
// product runs as a batched GEMM over (b, h) or (b, h, chunk) (kernels/common/batched_gemm.hpp); the kernels here do
// what lies between them: the UT inversion and the masks of the chunk x chunk matrices (one team per chunk), and the
// per-row dot products and updates (one warp per row).
#include "kernels/delta_rule/chunked.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/batched_gemm.hpp"
#include "kernels/common/compat.hpp"
#include "kernels/common/precision.hpp"
#include "kernels/common/quad.hpp"
#include "kernels/common/reductions.hpp"
#include "kernels/common/workspace.hpp"
#include "kernels/delta_rule/recurrent.hpp"

namespace selectiv::delta_rule {
namespace {

using TeamPolicy = Kokkos::TeamPolicy<Exec>;
using Member = TeamPolicy::member_type;
using ScratchMatrix = Kokkos::View<float**, Kokkos::LayoutRight, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
using ScratchFloats = Kokkos::View<float*, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
using ScratchDoubles = Kokkos::View<double*, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
using LogDecayView = Kokkos::View<double***, Kokkos::LayoutRight, DeviceMem>;  // (B, R, H)
using ChunkMatrices = Kokkos::View<float***, Kokkos::LayoutRight, DeviceMem>;  // (B * H * NR, C, C)
using ChunkDoubles = Kokkos::View<double**, Kokkos::LayoutRight, DeviceMem>;   // (B * H * NR, C)
using ChunkFloats = Kokkos::View<float**, Kokkos::LayoutRight, DeviceMem>;     // (B * H * NR, C)
using PerChunk = Kokkos::View<double*, Kokkos::LayoutRight, DeviceMem>;        // (B * H * NR)

constexpr int C = kChunkRows;
// Team scratch of every kernel here: within the level 0 (shared memory) that Kokkos offers a CUDA team
// (TeamPolicy::scratch_size_max(0) = 40936 bytes in Kokkos 4.6); above it the tiles would go to level 1, global memory.
constexpr std::size_t kScratchBudget = 40000;

struct Sizes {
  int B = 0, T = 0, H = 0, K = 0, V = 0, n = 1, R = 0, NR = 0;
  int level = 0;       // team scratch level of the per-chunk kernels (chunk_policy)
  TileMath math = TileMath::kFp32;  // of every batched GEMM (current_tile_math at the call)
};

// Row chunk of a team: league rank = (b * H + h) * NR + chunk.
struct RowChunk {
  int b, h, chunk, r0, L, index;
  KOKKOS_INLINE_FUNCTION RowChunk(int league_rank, const Sizes& s) {
    index = league_rank;
    chunk = league_rank % s.NR;
    const int bh = league_rank / s.NR;
    h = bh % s.H;
    b = bh / s.H;
    r0 = chunk * C;
    L = s.R - r0 < C ? s.R - r0 : C;
  }
};

// e^{x} of a difference of fp64 cumulative log-decays (x <= 0), evaluated in fp32.
KOKKOS_INLINE_FUNCTION float exp_of(double x) { return kc::exp(static_cast<float>(x)); }

// ---- team scratch of the per-chunk kernels ------------------------------------------------------------------

// A chunk x (cols + 1) scratch matrix: row strides padded by one float so that threads walking a column of
// consecutive rows hit different shared-memory banks.
std::size_t tile_bytes(int cols) { return ScratchMatrix::shmem_size(C, cols + 1); }
KOKKOS_INLINE_FUNCTION ScratchMatrix make_tile(const Member& team, int level, int cols) {
  return ScratchMatrix(team.team_scratch(level), C, cols + 1);
}
std::size_t doubles_bytes() { return ScratchDoubles::shmem_size(C); }
std::size_t floats_bytes() { return ScratchFloats::shmem_size(C); }

// Every per-chunk kernel's tiles stay within kScratchBudget; they go to level-0 scratch (shared memory on a GPU)
// when that level offers the budget, else to level 1 (host backends with a small level 0; still correct).
int chunk_scratch_level() {
  return kScratchBudget <= static_cast<std::size_t>(TeamPolicy::scratch_size_max(0)) ? 0 : 1;
}
TeamPolicy chunk_policy(const Exec& exec, int league, std::size_t bytes, int level, const char* who) {
  if (bytes > kScratchBudget)
    throw std::invalid_argument(std::string("selectiv::delta_rule::chunked: ") + who + " needs " +
                                std::to_string(bytes) + " bytes of team scratch");
  return TeamPolicy(exec, league, Kokkos::AUTO).set_scratch_size(level, Kokkos::PerTeam(bytes));
}

// cum(i) = b_i of the chunk's rows from the prepared log-decays.
KOKKOS_INLINE_FUNCTION void load_log_decays(const Member& team, const ScratchDoubles& cum, const RowChunk& c,
                                            const LogDecayView& log_decay) {
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.L), [&](int i) { cum(i) = log_decay(c.b, c.r0 + i, c.h); });
}

// ---- forward ------------------------------------------------------------------------------------------------

// The chunk x chunk matrices of the UT transform, per (b, h, chunk) (index (b * H + h) * NR + chunk).
struct UtMatrices {
  ChunkMatrices kkg;  // K K^T (a batched GEMM), then strict_tril((k_i . k_j) e^{b_i - b_j})
  ChunkMatrices A;    // (I + diag(beta) KKG)^-1
  ChunkMatrices A_w;  // A diag(beta e^b): W = A_w K
  ChunkMatrices A_u;  // A diag(beta): U = A_u V
};

// Rows per block of the blocked inversion of UtTransform.
constexpr int kInverseBlock = 16;

// 1. Per chunk (after the batched GEMM kkg = K K^T, prepare_chunks): b_i = cumulative log-decay (fp64),
// KKG = strict_tril(kkg . Gamma), M = diag(beta) KKG, A = (I + M)^-1 (blocked forward substitution), and A with its
// columns scaled for the W and U products.
struct UtTransform {
  LogDecayView log_decay;
  UtMatrices ut;
  CView3 beta, g;
  Sizes s;
  bool has_g;

  static std::size_t scratch_bytes() {
    return doubles_bytes() + floats_bytes() + 2 * tile_bytes(C) + ScratchMatrix::shmem_size(kInverseBlock, C + 1);
  }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    const int L = c.L;
    ScratchDoubles cum(team.team_scratch(s.level), C);
    ScratchFloats betas(team.team_scratch(s.level), C);
    const ScratchMatrix M = make_tile(team, s.level, C), A = make_tile(team, s.level, C);
    const ScratchMatrix T(team.team_scratch(s.level), kInverseBlock, C + 1);  // one block row of sum_K M_IK A_KJ
    Kokkos::single(Kokkos::PerTeam(team), [&]() {
      double acc = 0.0;
      for (int i = 0; i < L; ++i) {
        const int row = c.r0 + i;
        if (has_g && row % s.n == 0) acc += g(c.b, row / s.n, c.h);
        cum(i) = acc;
        log_decay(c.b, row, c.h) = acc;
      }
    });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) { betas(i) = beta(c.b, c.r0 + i, c.h); });
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * L), [&](int p) {
      const int i = p / L, j = p % L;
      const float kkg = j < i ? ut.kkg(c.index, i, j) * exp_of(cum(i) - cum(j)) : 0.0f;
      ut.kkg(c.index, i, j) = kkg;
      M(i, j) = betas(i) * kkg;
    });
    team.team_barrier();
    // A = (I + M)^-1, unit lower triangular, in blocks of kInverseBlock rows: each diagonal block by forward
    // substitution (one thread per column), then block row by block row A_IJ = -A_II sum_{J<=K<I} M_IK A_KJ (one
    // thread per entry). Only the lower triangle of A is written (and read).
    const int blocks = (L + kInverseBlock - 1) / kInverseBlock;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, blocks * kInverseBlock), [&](int p) {
      const int first = p / kInverseBlock * kInverseBlock, j = p;
      const int end = first + kInverseBlock < L ? first + kInverseBlock : L;
      if (j >= L) return;
      for (int i = first; i < end; ++i) {
        float value = i == j ? 1.0f : 0.0f;
        for (int m = j; m < i; ++m) value -= M(i, m) * A(m, j);
        A(i, j) = value;  // 0 above the diagonal within the block (the loop over m is empty there)
      }
    });
    for (int first = kInverseBlock; first < L; first += kInverseBlock) {
      const int end = first + kInverseBlock < L ? first + kInverseBlock : L, rows = end - first;
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows * first), [&](int p) {  // T = sum_K M_IK A_KJ
        const int i = first + p / first, j = p % first;
        float value = 0.0f;
        for (int m = j / kInverseBlock * kInverseBlock; m < first; ++m) value += M(i, m) * A(m, j);
        T(i - first, j) = value;
      });
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows * first), [&](int p) {  // A_IJ = -A_II T
        const int i = first + p / first, j = p % first;
        float value = 0.0f;
        for (int m = first; m <= i; ++m) value -= A(i, m) * T(m - first, j);
        A(i, j) = value;
      });
    }
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * L), [&](int p) {
      const int i = p / L, j = p % L;
      const float a = j <= i ? A(i, j) : 0.0f;
      ut.A(c.index, i, j) = a;
      ut.A_u(c.index, i, j) = a * betas(j);
      ut.A_w(c.index, i, j) = a * betas(j) * exp_of(cum(j));
    });
  }
};

// 3. Per chunk (after the batched GEMM P = Q K^T over the chunk's tokens and rows, chunk_scores): the causal scores
// P_tj = (q_t . k_j) e^{b_i - b_j} for j <= i, i the row that reads token t out, 0 elsewhere (in place).
struct ScoreMask {
  ChunkMatrices P;
  LogDecayView log_decay;
  Sizes s;

  static std::size_t scratch_bytes() { return doubles_bytes(); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    const int L = c.L, t0 = c.r0 / s.n, tokens = (c.r0 + L) / s.n - t0;
    ScratchDoubles cum(team.team_scratch(s.level), C);
    load_log_decays(team, cum, c, log_decay);
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, tokens * L), [&](int p) {
      const int tt = p / L, j = p % L, i = (t0 + tt) * s.n + s.n - 1 - c.r0;
      P(c.index, tt, j) = j <= i ? P(c.index, tt, j) * exp_of(cum(i) - cum(j)) : 0.0f;
    });
  }
};

// --- backward ------------------------------------------------------------------------------------------------

// B4. The gradients through the outputs and the state write (README.md §5, backward steps 4 and 8), after the
// batched GEMMs of output_gradients. Per chunk, with the chunk's tokens t (local index tt, read out on row i(tt)):
// G_tj = (do_t . V_new_j) e^{b_i - b_j} for j < i, 0 elsewhere, its diagonal d_t = do_t . V_new_i kept apart;
// dq_t = scale (e^{b_i} S do_t + (G K)_t + d_t k_i), dk_j (assigned) = scale ((G^T Q)_j + d_t q_t [j = i(t)]) +
// e^{b_last - b_j} (dS V_new_j)_j, and the log-decay gradient's output and state-write terms per row (db_rows).
// The output terms scale (sum_{j<i} (q_t . k_j) G_tj - sum_{t'} (q_t' . k_i) G_t'i) are q_t . (G K)_t and
// k_i . (G^T Q)_i: no q k^T tile is needed, and G K and G^T Q are batched GEMMs.

// B4a. Per chunk: G masked and decayed in place, its diagonal into g_diag, and <S, dS> (the state after the chunk's
// gradient with the chunk's state) into carried.
struct ScoreGradMask {
  ChunkMatrices G;
  ChunkFloats g_diag;
  PerChunk carried;
  CView4 states, dstates;
  LogDecayView log_decay;
  Sizes s;
  bool states_aligned;  // every K x V block at a multiple of 4 floats (quad accesses)

  static std::size_t scratch_bytes() { return doubles_bytes(); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    const int L = c.L, t0 = c.r0 / s.n, tokens = (c.r0 + L) / s.n - t0;
    ScratchDoubles cum(team.team_scratch(s.level), C);
    load_log_decays(team, cum, c, log_decay);
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, tokens * L), [&](int p) {
      const int tt = p / L, j = p % L, i = (t0 + tt) * s.n + s.n - 1 - c.r0;
      const float value = G(c.index, tt, j);
      if (j == i) g_diag(c.index, tt) = value;
      G(c.index, tt, j) = j < i ? value * exp_of(cum(i) - cum(j)) : 0.0f;
    });
    // <S, dS> over the chunk's contiguous K x V blocks, a quad per thread
    const int size = s.K * s.V;
    const float* S = &states(c.b, c.h, c.chunk * s.K, 0);
    const float* dS = &dstates(c.b, c.h, c.chunk * s.K, 0);
    double sum = 0.0;
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(team, kc::quad_count(size)),
        [&](int u, double& acc) {
          const kc::Quad a = kc::load_quad(S + 4 * u, size - 4 * u, states_aligned);
          const kc::Quad b = kc::load_quad(dS + 4 * u, size - 4 * u, states_aligned);
          for (int e = 0; e < 4; ++e) acc += static_cast<double>(a.v[e] * b.v[e]);
        },
        sum);
    Kokkos::single(Kokkos::PerTeam(team), [&]() { carried(c.index) = sum; });
  }
};

// Where token t (or row r) sits: its chunk's index (b * H + h) * NR + chunk, its row in the chunk, and its position
// among the chunk's tokens.
struct TokenPlace {
  int index, row, tt;
  KOKKOS_INLINE_FUNCTION TokenPlace(int b, int h, int t, const Sizes& s) {
    const int r = t * s.n + s.n - 1, chunk = r / C;
    index = (b * s.H + h) * s.NR + chunk;
    row = r % C;
    tt = t - (chunk * C) / s.n;
  }
};

// B4b. One vector of lanes per token (b, t, h) (kc::quads_per_item), a quad of the key dim per lane: dq (dq holds S
// do_t on entry, X = G K) and the output terms of db on the token's row, assigned: scale e^{b_i} q_t . (S do_t) + scale
// q_t . (G K)_t.
struct OutputTokenGrads {
  View4 dq;
  ChunkDoubles db_rows;
  CView4 q, k, X;
  ChunkFloats g_diag;
  LogDecayView log_decay;
  float scale;
  Sizes s;
  bool aligned;  // every key-dim row at a multiple of 4 floats (quad accesses)

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int item = nn::detail::vector_item(team);
    if (item >= s.B * s.T * s.H) return;
    const int h = item % s.H, t = (item / s.H) % s.T, b = item / (s.H * s.T);
    const TokenPlace place(b, h, t, s);
    const int r = t * s.n + s.n - 1;
    const float gamma = exp_of(log_decay(b, r, h)), d = g_diag(place.index, place.tt);
    auto quad = [&](const CView4& x, int row, int u) {
      return kc::load_quad(&x(b, row, h, 4 * u), s.K - 4 * u, aligned);
    };
    float read_out = 0.0f, output = 0.0f;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, kc::quad_count(s.K)),
        [&](int u, float& acc) { acc += kc::dot(quad(q, t, u), quad(dq, t, u)); }, read_out);
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, kc::quad_count(s.K)),
        [&](int u, float& acc) { acc += kc::dot(quad(q, t, u), quad(X, t, u)); }, output);
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, kc::quad_count(s.K)), [&](int u) {
      const kc::Quad x = quad(X, t, u), kr = quad(k, r, u);
      kc::Quad out = quad(dq, t, u);
      for (int i = 0; i < 4; ++i) out.v[i] = scale * (gamma * out.v[i] + x.v[i] + d * kr.v[i]);
      kc::store_quad(&dq(b, t, h, 4 * u), out, s.K - 4 * u, aligned);
    });
    Kokkos::single(Kokkos::PerThread(team), [&]() {
      db_rows(place.index, place.row) =
          static_cast<double>(scale) * gamma * read_out + static_cast<double>(scale) * output;
    });
  }
};

// B4c. One vector of lanes per row (b, r, h), a quad of the key dim per lane: dk, assigned (dk holds dS V_new_r on
// entry, Y = G^T Q), and the row's terms of db: -scale k_r . (G^T Q)_r - e^{b_last - b_r} Q_r with Q_r = k_r . (dS
// V_new_r), kept (times e^{b_last - b_r}) in state_write for the last row's sum. Rows that read no token out start db
// at 0.
struct OutputRowGrads {
  View4 dk;
  ChunkDoubles db_rows, state_write;
  CView4 q, k, Y;
  ChunkFloats g_diag;
  LogDecayView log_decay;
  float scale;
  Sizes s;
  bool aligned;  // every key-dim row at a multiple of 4 floats (quad accesses)

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int item = nn::detail::vector_item(team);
    if (item >= s.B * s.R * s.H) return;
    const int h = item % s.H, r = (item / s.H) % s.R, b = item / (s.H * s.R);
    const int chunk = r / C, i = r % C, index = (b * s.H + h) * s.NR + chunk;
    const int last = (chunk + 1) * C < s.R ? (chunk + 1) * C - 1 : s.R - 1;
    const bool output = r % s.n == s.n - 1;
    const int t = r / s.n;
    const float d = output ? g_diag(index, TokenPlace(b, h, t, s).tt) : 0.0f;
    const float write = exp_of(log_decay(b, last, h) - log_decay(b, r, h));
    auto quad = [&](const CView4& x, int row, int u) {
      return kc::load_quad(&x(b, row, h, 4 * u), s.K - 4 * u, aligned);
    };
    float written = 0.0f, output_term = 0.0f;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, kc::quad_count(s.K)),
        [&](int u, float& acc) { acc += kc::dot(quad(k, r, u), quad(dk, r, u)); }, written);
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, kc::quad_count(s.K)),
        [&](int u, float& acc) { acc += kc::dot(quad(k, r, u), quad(Y, r, u)); }, output_term);
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, kc::quad_count(s.K)), [&](int u) {
      const kc::Quad y = quad(Y, r, u), own = output ? quad(q, t, u) : kc::Quad{};
      kc::Quad out = quad(dk, r, u);
      for (int e = 0; e < 4; ++e) out.v[e] = scale * (y.v[e] + d * own.v[e]) + write * out.v[e];
      kc::store_quad(&dk(b, r, h, 4 * u), out, s.K - 4 * u, aligned);
    });
    Kokkos::single(Kokkos::PerThread(team), [&]() {
      const double state_term = static_cast<double>(write * written);
      db_rows(index, i) = (output ? db_rows(index, i) : 0.0) - static_cast<double>(scale) * output_term - state_term;
      state_write(index, i) = state_term;
    });
  }
};

// B5. The gradients through the UT transform (README.md §5, backward steps 5-8), after the batched GEMMs of
// ut_gradients: dY_w = A^T dX_w, dY_u = A^T dV_new, dm = dY_w W^T + dY_u U^T (dM = -strict_tril(dm)).
// Per row i of a chunk (one vector of lanes per row, a quad of the key or value dim per lane): dbeta_i = e^{b_i} k_i .
// dY_w,i + v_i . dY_u,i
// + sum_j dM_ij KKG_ij; dv_i = beta_i dY_u,i; dk_i += beta_i e^{b_i} dY_w,i; the log-decay terms
// beta_i e^{b_i} k_i . dY_w,i + sum_j dM_ij beta_i KKG_ij added to db_rows (the column term - sum_m dM_mi beta_m
// KKG_mi is UtChunkGrads', whose threads read the columns of dm coalesced).
struct UtRowGrads {
  View4 dk, dv;
  View3 dbeta;
  ChunkDoubles db_rows;
  ChunkMatrices dm, kkg;
  CView4 k, v, dY_w, dY_u;
  CView3 beta;
  LogDecayView log_decay;
  Sizes s;
  bool aligned;  // every key- and value-dim row at a multiple of 4 floats (quad accesses)

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int item = nn::detail::vector_item(team);
    if (item >= s.B * s.R * s.H) return;
    const int h = item % s.H, row = (item / s.H) % s.R, b = item / (s.H * s.R);
    const int chunk = row / C, i = row % C;
    const int index = (b * s.H + h) * s.NR + chunk;
    const float gi = exp_of(log_decay(b, row, h)), beta_i = beta(b, row, h);
    // a quad of the key (value) dim per lane
    auto key_quad = [&](const CView4& x, int u) { return kc::load_quad(&x(b, row, h, 4 * u), s.K - 4 * u, aligned); };
    auto value_quad = [&](const CView4& x, int u) { return kc::load_quad(&x(b, row, h, 4 * u), s.V - 4 * u, aligned); };
    float k_dyw = 0.0f, v_dyu = 0.0f, dm_kkg = 0.0f;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, kc::quad_count(s.K)),
        [&](int u, float& acc) { acc += kc::dot(key_quad(k, u), key_quad(dY_w, u)); }, k_dyw);
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, kc::quad_count(s.V)),
        [&](int u, float& acc) { acc += kc::dot(value_quad(v, u), value_quad(dY_u, u)); }, v_dyu);
    // dM_ij = -dm_ij for j < i (row i)
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, i), [&](int j, float& acc) { acc -= dm(index, i, j) * kkg(index, i, j); },
        dm_kkg);
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, kc::quad_count(s.V)), [&](int u) {
      kc::Quad out = value_quad(dY_u, u);
      for (int e = 0; e < 4; ++e) out.v[e] *= beta_i;
      kc::store_quad(&dv(b, row, h, 4 * u), out, s.V - 4 * u, aligned);
    });
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, kc::quad_count(s.K)), [&](int u) {
      const kc::Quad dy = key_quad(dY_w, u);
      kc::Quad out = key_quad(dk, u);
      for (int e = 0; e < 4; ++e) out.v[e] += beta_i * gi * dy.v[e];
      kc::store_quad(&dk(b, row, h, 4 * u), out, s.K - 4 * u, aligned);
    });
    Kokkos::single(Kokkos::PerThread(team), [&]() {
      dbeta(b, row, h) = gi * k_dyw + v_dyu + dm_kkg;
      db_rows(index, i) += static_cast<double>(beta_i) * gi * k_dyw + static_cast<double>(beta_i) * dm_kkg;
    });
  }
};

// B6. Per chunk: the column term of db (-sum_m dM_mi beta_m KKG_mi, before dm is overwritten), E = D1 + D1^T with
// D1 = diag(beta) (dM . Gamma) strictly lower triangular (symmetric, written over dm; dk += E K is a batched GEMM:
// beta_i (D K)_i + (D^T diag(beta) K)_i), and dg = the reverse cumulative sum of db_rows within the chunk (with the
// last row's state-write terms), read on the sub-step-0 rows.
struct UtChunkGrads {
  ChunkMatrices dm, kkg;
  View3 dg;
  ChunkDoubles db_rows, state_write;
  PerChunk carried;
  CView3 beta;
  LogDecayView log_decay;
  Sizes s;
  bool has_g;

  static std::size_t scratch_bytes() { return doubles_bytes(); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    const int L = c.L;
    ScratchDoubles cum(team.team_scratch(s.level), C);
    load_log_decays(team, cum, c, log_decay);
    // the column term of db: db_rows_i -= sum_{m>i} dM_mi beta_m KKG_mi (dM_mi = -dm_mi), one thread per column
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) {
      double column = 0.0;
      for (int m = i + 1; m < L; ++m)
        column += static_cast<double>(dm(c.index, m, i)) * beta(c.b, c.r0 + m, c.h) * kkg(c.index, m, i);
      db_rows(c.index, i) += column;
    });
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * L), [&](int p) {
      const int i = p / L, j = p % L;
      if (j >= i) return;
      const float value = -beta(c.b, c.r0 + i, c.h) * dm(c.index, i, j) * exp_of(cum(i) - cum(j));
      dm(c.index, i, j) = value;
      dm(c.index, j, i) = value;
    });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) { dm(c.index, i, i) = 0.0f; });
    if (has_g) {
      Kokkos::single(Kokkos::PerTeam(team), [&]() {
        // the state write on the last row: e^{b_last} <S, dS> + sum_j e^{b_last - b_j} Q_j
        double sum = exp_of(cum(L - 1)) * carried(c.index);
        for (int j = 0; j < L; ++j) sum += state_write(c.index, j);
        for (int i = L - 1; i >= 0; --i) {
          sum += db_rows(c.index, i);
          if ((c.r0 + i) % s.n == 0) dg(c.b, (c.r0 + i) / s.n, c.h) = static_cast<float>(sum);
        }
      });
    }
  }
};

// ---- the steps: batched GEMMs and the kernels between them ----------------------------------------------------
// Every product is, per chunk, one GEMM per (b, h) of at most 64 x max(K, V) x max(K, V): too small for one kc::gemm
// each, so they run batched over every (b, h) (the state passes, sequential over the chunks) or every (b, h, chunk),
// reading the operands where they lie.

// Rows row0.. of each (b, h) of a (B, rows, H, D) tensor: batch indices (b, h, chunk), the next chunk `step` rows
// further.
template <class ViewType>
kc::MatrixBatchOf<typename ViewType::value_type> head_rows(const ViewType& x, int row0, int step = C) {
  return kc::head_rows(x, row0, step);
}

// The K x V state of each (b, h) in slot `slot` of a (B, H, slots * K, V) tensor: batch indices (b, h, slot).
template <class ViewType>
kc::MatrixBatchOf<typename ViewType::value_type> head_states(const ViewType& x, int K, int slot) {
  return kc::head_blocks(x, K, slot);
}

// dst = e^{b_last} src for the K x V state of every (b, h), b_last = log_decay(b, last_row, h) (factor 1 when
// last_row < 0); dst = 0 when src is empty. The states are contiguous (rows V floats apart): one team per block of
// kCopyBlock elements of one (b, h) (a team per whole (b, h) left too few loads in flight), a quad per thread.
void decayed_state_copy(const Exec& exec, const char* label, const kc::MatrixBatch& dst,
                        const kc::ConstMatrixBatch& src, const LogDecayView& log_decay, int last_row, const Sizes& s) {
  constexpr int kCopyBlock = 1024;
  const int H = s.H, size = s.K * s.V, blocks = (size + kCopyBlock - 1) / kCopyBlock;
  const bool aligned = kc::quads_aligned(size, {dst.data, src.data});  // blocks of `size` floats, contiguous
  Kokkos::parallel_for(
      label, TeamPolicy(exec, s.B * H * blocks, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int bh = team.league_rank() / blocks, p0 = (team.league_rank() % blocks) * kCopyBlock;
        const int b = bh / H, h = bh % H, count = size - p0 < kCopyBlock ? size - p0 : kCopyBlock;
        float* out = dst.matrix(b, h, 0) + p0;
        const float* in = src.data == nullptr ? nullptr : src.matrix(b, h, 0) + p0;
        const float factor = in == nullptr  ? 0.0f
                             : last_row < 0 ? 1.0f
                                            : static_cast<float>(kc::exp(log_decay(b, last_row, h)));
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, kc::quad_count(count)), [&](int u) {
          kc::Quad q = in == nullptr ? kc::Quad{} : kc::load_quad(in + 4 * u, count - 4 * u, aligned);
          for (int i = 0; i < 4; ++i) q.v[i] *= factor;
          kc::store_quad(out + 4 * u, q, count - 4 * u, aligned);
        });
      });
}

// out(b, r, h, :) = factor(b, r, h) in(b, r, h, :) for every row of a (B, rows, H, K) tensor: one vector of lanes per
// row of a head (kc::quads_per_item), its factor once, a quad of the key dim per lane (16-byte accesses where K is a
// multiple of 4).
template <class Factor>
void scaled_head_rows(const Exec& exec, const char* label, const View4& out, const CView4& in, const Factor& factor) {
  const int rows = static_cast<int>(out.extent(1)), H = static_cast<int>(out.extent(2));
  const int K = static_cast<int>(out.extent(3)), items = static_cast<int>(out.extent(0)) * rows * H;
  const bool aligned = kc::quads_aligned(K, {out.data(), in.data()});
  Kokkos::parallel_for(
      label, kc::quads_per_item(exec, items, kc::quad_count(K)), KOKKOS_LAMBDA(const Member& team) {
        const int item = nn::detail::vector_item(team);
        if (item >= items) return;
        const int h = item % H, r = (item / H) % rows, b = item / (H * rows);
        const float f = factor(b, r, h);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, kc::quad_count(K)), [&](int u) {
          kc::Quad x = kc::load_quad(&in(b, r, h, 4 * u), K - 4 * u, aligned);
          for (int i = 0; i < 4; ++i) x.v[i] *= f;
          kc::store_quad(&out(b, r, h, 4 * u), x, K - 4 * u, aligned);
        });
      });
}

// k_decayed(b, r, h) = e^{b_last - b_r} k(b, r, h), b_last the log-decay of the last row of r's chunk (the state
// write's keys); with q: q_read(b, t, h) = scale e^{b_r} q(b, t, h) on the row r = t n + n - 1 that reads token t out.
void decayed_keys_and_queries(const Exec& exec, const View4& k_decayed, const View4& q_read, const CView4& k,
                              const CView4& q, const LogDecayView& log_decay, float scale, const Sizes& s) {
  const int R = s.R, n = s.n;
  scaled_head_rows(
      exec, "selectiv::delta_rule::chunked::decayed_keys", k_decayed, k, KOKKOS_LAMBDA(int b, int r, int h) {
        const int last = (r / C + 1) * C < R ? (r / C + 1) * C - 1 : R - 1;
        return static_cast<float>(kc::exp(log_decay(b, last, h) - log_decay(b, r, h)));
      });
  if (q_read.data() == nullptr) return;
  scaled_head_rows(
      exec, "selectiv::delta_rule::chunked::read_queries", q_read, q, KOKKOS_LAMBDA(int b, int t, int h) {
        return scale * static_cast<float>(kc::exp(log_decay(b, t * n + n - 1, h)));
      });
}

// 2. State passing: per chunk c, over every (b, h): saves S_c in states, U_c <- V_new_c = U_c - W_c S_c, then
// S_{c+1} = e^{b_last} S_c + K~_c^T V_new_c with K~ = k_decayed (into the next slot, or ht after the last chunk).
void pass_states(const Exec& exec, const Sizes& s, const View4& states, const View4& ht, const View4& U,
                 const CView4& W, const CView4& k_decayed, const CView4& h0, const LogDecayView& log_decay) {
  const kc::BatchCount heads{{s.B, s.H, 1}};
  decayed_state_copy(exec, "selectiv::delta_rule::chunked_fwd::initial_state", head_states(states, s.K, 0),
                     head_states(h0, s.K, 0), log_decay, -1, s);
  for (int chunk = 0; chunk < s.NR; ++chunk) {
    const int r0 = chunk * C, L = s.R - r0 < C ? s.R - r0 : C;
    const auto S = head_states(states, s.K, chunk);
    kc::gemm_batched(exec, "N", "N", L, s.V, s.K, -1.0f, head_rows(W, r0), S, 1.0f, head_rows(U, r0), heads, s.math);
    if (chunk + 1 == s.NR && ht.data() == nullptr) break;
    const kc::MatrixBatch next = chunk + 1 < s.NR ? head_states(states, s.K, chunk + 1) : head_states(ht, s.K, 0);
    decayed_state_copy(exec, "selectiv::delta_rule::chunked_fwd::decayed_state", next, S, log_decay, r0 + L - 1, s);
    kc::gemm_batched(exec, "T", "N", s.K, s.V, L, 1.0f, head_rows(k_decayed, r0), head_rows(U, r0), 1.0f, next, heads,
                     s.math);
  }
}

// B1. V_new = U - W S_c for every chunk at once from the saved states: U copied, then one batched GEMM over
// (b, h, chunk) for the full chunks and one for a last partial chunk.
void recompute_new_values(const Exec& exec, const Sizes& s, const View4& V_new, const CView4& U, const CView4& W,
                          const CView4& states) {
  Kokkos::deep_copy(exec, V_new, U);
  const int full = s.R / C, rest = s.R % C;
  if (full > 0) {
    kc::gemm_batched(exec, "N", "N", C, s.V, s.K, -1.0f, head_rows(W, 0), head_states(states, s.K, 0), 1.0f,
                     head_rows(V_new, 0), kc::BatchCount{{s.B, s.H, full}}, s.math);
  }
  if (rest > 0) {
    kc::gemm_batched(exec, "N", "N", rest, s.V, s.K, -1.0f, head_rows(W, full * C), head_states(states, s.K, full),
                     1.0f, head_rows(V_new, full * C), kc::BatchCount{{s.B, s.H, 1}}, s.math);
  }
}

// The chunks in groups that one batched GEMM over (b, h, chunk) serves: equal row and token counts, rows and tokens
// a fixed step apart. f(first chunk, chunks, first row, rows, first token, tokens, token step): all full chunks at once
// when n divides C (tokens per chunk C / n), else chunk by chunk; a last partial chunk on its own.
template <class F>
void for_chunk_groups(const Sizes& s, const F& f) {
  if (C % s.n == 0) {  // R = T n, so every chunk, the last included, holds whole tokens
    kc::for_chunk_runs(s.R, C, [&](int first, int chunks, int L) {
      f(first, chunks, first * C, L, first * C / s.n, L / s.n, C / s.n);
    });
    return;
  }
  for (int chunk = 0; chunk < s.NR; ++chunk) {
    const int r0 = chunk * C, L = s.R - r0 < C ? s.R - r0 : C, t0 = r0 / s.n;
    f(chunk, 1, r0, L, t0, (r0 + L) / s.n - t0, 0);
  }
}

// The C x C matrix of each (b, h, chunk) of a (B * H * NR, C, C) tensor, from chunk `first`: batch indices
// (b, h, chunk).
kc::MatrixBatch chunk_matrices(const ChunkMatrices& x, const Sizes& s, int first) {
  kc::MatrixBatch m;
  m.ld = C;
  m.data = x.data() + static_cast<std::int64_t>(first) * C * C;
  m.stride[0] = static_cast<std::int64_t>(s.H) * s.NR * C * C;
  m.stride[1] = static_cast<std::int64_t>(s.NR) * C * C;
  m.stride[2] = static_cast<std::int64_t>(C) * C;
  return m;
}

// 1. Chunk preparation: kkg = K K^T per chunk (batched GEMMs), the UT transform per chunk (team kernel: log-decays,
// KKG, A, A_w, A_u), then W = A_w K and U = A_u V (batched GEMMs).
void prepare_chunks(const Exec& exec, const char* label, const Sizes& s, const LogDecayView& log_decay,
                    const UtMatrices& ut, const View4& W, const View4& U, const CView4& k, const CView4& v,
                    const CView3& beta, const CView3& g) {
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int, int, int) {
    kc::gemm_batched(exec, "N", "T", L, L, s.K, 1.0f, head_rows(k, r0), head_rows(k, r0), 0.0f,
                     chunk_matrices(ut.kkg, s, first), kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
  Kokkos::parallel_for(label,
                       chunk_policy(exec, s.B * s.H * s.NR, UtTransform::scratch_bytes(), s.level, "ut_transform"),
                       UtTransform{log_decay, ut, beta, g, s, g.data() != nullptr});
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int, int, int) {
    const kc::BatchCount batch{{s.B, s.H, chunks}};
    kc::gemm_batched(exec, "N", "N", L, s.K, L, 1.0f, chunk_matrices(ut.A_w, s, first), head_rows(k, r0), 0.0f,
                     head_rows(W, r0), batch, s.math);
    kc::gemm_batched(exec, "N", "N", L, s.V, L, 1.0f, chunk_matrices(ut.A_u, s, first), head_rows(v, r0), 0.0f,
                     head_rows(U, r0), batch, s.math);
  });
}

// The UT matrices of every chunk in workspaces shared by the forward and the backward.
UtMatrices ut_workspaces(const Sizes& s) {
  const int chunks = s.B * s.H * s.NR;
  return UtMatrices{workspace<ChunkMatrices>("selectiv::delta_rule::chunked::kkg", chunks, C, C),
                    workspace<ChunkMatrices>("selectiv::delta_rule::chunked::ut_inverse", chunks, C, C),
                    workspace<ChunkMatrices>("selectiv::delta_rule::chunked::ut_inverse_w", chunks, C, C),
                    workspace<ChunkMatrices>("selectiv::delta_rule::chunked::ut_inverse_u", chunks, C, C)};
}

// The chunks' causal scores (tokens x rows per chunk): P = Q K^T (batched GEMMs), then ScoreMask.
void chunk_scores(const Exec& exec, const char* label, const Sizes& s, const ChunkMatrices& P, const CView4& q,
                  const CView4& k, const LogDecayView& log_decay) {
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int t0, int tokens, int token_step) {
    kc::gemm_batched(exec, "N", "T", tokens, L, s.K, 1.0f, head_rows(q, t0, token_step), head_rows(k, r0), 0.0f,
                     chunk_matrices(P, s, first), kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
  Kokkos::parallel_for(label, chunk_policy(exec, s.B * s.H * s.NR, ScoreMask::scratch_bytes(), s.level, "score_mask"),
                       ScoreMask{P, log_decay, s});
}

// 3. The output, per chunk: o_t = Q~_t S_chunk + scale (P V_new)_t with Q~ = q_read (scale e^{b_i} q_t), two batched
// GEMMs over (b, h, chunk) after the scores P.
void chunk_outputs(const Exec& exec, const Sizes& s, const View4& o, const CView4& q_read, const CView4& states,
                   const ChunkMatrices& P, const CView4& V_new, float scale) {
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int t0, int tokens, int token_step) {
    const kc::BatchCount batch{{s.B, s.H, chunks}};
    kc::gemm_batched(exec, "N", "N", tokens, s.V, s.K, 1.0f, head_rows(q_read, t0, token_step),
                     head_states(states, s.K, first), 0.0f, head_rows(o, t0, token_step), batch, s.math);
    kc::gemm_batched(exec, "N", "N", tokens, s.V, L, scale, chunk_matrices(P, s, first), head_rows(V_new, r0), 1.0f,
                     head_rows(o, t0, token_step), batch, s.math);
  });
}

// B2. The part of dV_new from the outputs of the same chunk: dV_new = scale P^T do (batched GEMMs, assigned).
void intra_value_grads(const Exec& exec, const Sizes& s, const View4& dV_new, const ChunkMatrices& P, const CView4& do_,
                       float scale) {
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int t0, int tokens, int token_step) {
    kc::gemm_batched(exec, "T", "N", L, s.V, tokens, scale, chunk_matrices(P, s, first), head_rows(do_, t0, token_step),
                     0.0f, head_rows(dV_new, r0), kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
}

// The per-chunk products with a chunk's state, for every chunk at once (the chunk kernels finish them):

// backward: dq_t = S do_t (tokens read out in the chunk), dk_i = dS V_new_i and dX_w,i = -S dV_new_i (rows), S the
// chunk's state and dS the gradient of the state after it.
void chunk_state_products_bwd(const Exec& exec, const Sizes& s, const View4& dq, const View4& dk, const View4& dX_w,
                              const CView4& do_, const CView4& V_new, const CView4& dV_new, const CView4& states,
                              const CView4& dstates) {
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int t0, int tokens, int token_step) {
    const kc::BatchCount batch{{s.B, s.H, chunks}};
    const auto S = head_states(states, s.K, first);
    kc::gemm_batched(exec, "N", "T", tokens, s.K, s.V, 1.0f, head_rows(do_, t0, token_step), S, 0.0f,
                     head_rows(dq, t0, token_step), batch, s.math);
    kc::gemm_batched(exec, "N", "T", L, s.K, s.V, 1.0f, head_rows(V_new, r0), head_states(dstates, s.K, first), 0.0f,
                     head_rows(dk, r0), batch, s.math);
    kc::gemm_batched(exec, "N", "T", L, s.K, s.V, -1.0f, head_rows(dV_new, r0), S, 0.0f, head_rows(dX_w, r0), batch,
                     s.math);
  });
}

// B4: G = do V_new^T per chunk (batched GEMMs; tokens x rows), masked (ScoreGradMask), X = G K and Y = G^T Q
// (batched GEMMs), then the token and row kernels.
struct OutputGradients {
  View4 dq, dk, X, Y;
  ChunkMatrices G;
  ChunkFloats g_diag;
  PerChunk carried;
  ChunkDoubles db_rows, state_write;
};
void output_gradients(const Exec& exec, const Sizes& s, const OutputGradients& out, const CView4& q, const CView4& k,
                      const CView4& V_new, const CView4& do_, const CView4& states, const CView4& dstates,
                      const LogDecayView& log_decay, float scale) {
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int t0, int tokens, int token_step) {
    kc::gemm_batched(exec, "N", "T", tokens, L, s.V, 1.0f, head_rows(do_, t0, token_step), head_rows(V_new, r0), 0.0f,
                     chunk_matrices(out.G, s, first), kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::score_grad_mask",
                       chunk_policy(exec, s.B * s.H * s.NR, ScoreGradMask::scratch_bytes(), s.level, "score_grad_mask"),
                       ScoreGradMask{out.G, out.g_diag, out.carried, states, dstates, log_decay, s,
                                     kc::quads_aligned(s.K * s.V, {states.data(), dstates.data()})});
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int t0, int tokens, int token_step) {
    const kc::BatchCount batch{{s.B, s.H, chunks}};
    const auto G = chunk_matrices(out.G, s, first);
    kc::gemm_batched(exec, "N", "N", tokens, s.K, L, 1.0f, G, head_rows(k, r0), 0.0f, head_rows(out.X, t0, token_step),
                     batch, s.math);
    kc::gemm_batched(exec, "T", "N", L, s.K, tokens, 1.0f, G, head_rows(q, t0, token_step), 0.0f, head_rows(out.Y, r0),
                     batch, s.math);
  });
  const bool aligned =
      kc::quads_aligned(s.K, {q.data(), k.data(), out.X.data(), out.Y.data(), out.dq.data(), out.dk.data()});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::output_token_grads",
                       kc::quads_per_item(exec, s.B * s.T * s.H, kc::quad_count(s.K)),
                       OutputTokenGrads{out.dq, out.db_rows, q, k, out.X, out.g_diag, log_decay, scale, s, aligned});
  Kokkos::parallel_for(
      "selectiv::delta_rule::chunked_bwd::output_row_grads",
      kc::quads_per_item(exec, s.B * s.R * s.H, kc::quad_count(s.K)),
      OutputRowGrads{out.dk, out.db_rows, out.state_write, q, k, out.Y, out.g_diag, log_decay, scale, s, aligned});
}

// B5-B7: the gradients through the UT transform: batched GEMMs dY_w = A^T dX_w, dY_u = A^T dV_new,
// dm = dY_w W^T + dY_u U^T; the row kernel (UtRowGrads); per chunk E and dg (UtChunkGrads); dk += E K.
struct UtGradients {
  View4 dk, dv, dY_w, dY_u;
  View3 dbeta, dg;
  ChunkMatrices dm;
  ChunkDoubles db_rows;
};
void ut_gradients(const Exec& exec, const Sizes& s, const UtGradients& out, const UtMatrices& ut,
                  const OutputGradients& output, const CView4& dX_w, const CView4& dV_new, const CView4& W,
                  const CView4& U, const CView4& k, const CView4& v, const CView3& beta,
                  const LogDecayView& log_decay) {
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int, int, int) {
    const kc::BatchCount batch{{s.B, s.H, chunks}};
    const auto A = chunk_matrices(ut.A, s, first), dm = chunk_matrices(out.dm, s, first);
    kc::gemm_batched(exec, "T", "N", L, s.K, L, 1.0f, A, head_rows(dX_w, r0), 0.0f, head_rows(out.dY_w, r0), batch,
                     s.math);
    kc::gemm_batched(exec, "T", "N", L, s.V, L, 1.0f, A, head_rows(dV_new, r0), 0.0f, head_rows(out.dY_u, r0), batch,
                     s.math);
    kc::gemm_batched(exec, "N", "T", L, L, s.K, 1.0f, head_rows(out.dY_w, r0), head_rows(W, r0), 0.0f, dm, batch,
                     s.math);
    kc::gemm_batched(exec, "N", "T", L, L, s.V, 1.0f, head_rows(out.dY_u, r0), head_rows(U, r0), 1.0f, dm, batch,
                     s.math);
  });
  const bool aligned = kc::quads_aligned(s.K, {out.dk.data(), k.data(), out.dY_w.data()}) &&
                       kc::quads_aligned(s.V, {out.dv.data(), v.data(), out.dY_u.data()});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::ut_row_grads",
                       kc::quads_per_item(exec, s.B * s.R * s.H, kc::quad_count(s.K > s.V ? s.K : s.V)),
                       UtRowGrads{out.dk, out.dv, out.dbeta, out.db_rows, out.dm, ut.kkg, k, v, out.dY_w, out.dY_u,
                                  beta, log_decay, s, aligned});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::ut_chunk_grads",
                       chunk_policy(exec, s.B * s.H * s.NR, UtChunkGrads::scratch_bytes(), s.level, "ut_chunk_grads"),
                       UtChunkGrads{out.dm, ut.kkg, out.dg, out.db_rows, output.state_write, output.carried, beta,
                                    log_decay, s, out.dg.data() != nullptr});
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int, int, int) {
    kc::gemm_batched(exec, "N", "N", L, s.K, L, 1.0f, chunk_matrices(out.dm, s, first), head_rows(k, r0), 1.0f,
                     head_rows(out.dk, r0), kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
}

// B3. dstate passing, chunks last to first, dS_c = dL/d(state after chunk c) saved in dstates slot c (dht or 0 for
// the last): dV_new_c += K~_c dS_c, then dS_{c-1} = e^{b_last} dS_c - W_c^T dV_new_c + Q~^T do over the tokens read
// out in chunk c (Q~ = q_read); after chunk 0 that is dh0.
void pass_dstates(const Exec& exec, const Sizes& s, const View4& dstates, const View4& dh0, const View4& dV_new,
                  const CView4& dht, const CView4& W, const CView4& k_decayed, const CView4& q_read, const CView4& do_,
                  const LogDecayView& log_decay) {
  const kc::BatchCount heads{{s.B, s.H, 1}};
  decayed_state_copy(exec, "selectiv::delta_rule::chunked_bwd::final_dstate", head_states(dstates, s.K, s.NR - 1),
                     head_states(dht, s.K, 0), log_decay, -1, s);
  for (int chunk = s.NR - 1; chunk >= 0; --chunk) {
    const int r0 = chunk * C, L = s.R - r0 < C ? s.R - r0 : C;
    const auto dS = head_states(dstates, s.K, chunk);
    kc::gemm_batched(exec, "N", "N", L, s.V, s.K, 1.0f, head_rows(k_decayed, r0), dS, 1.0f, head_rows(dV_new, r0),
                     heads, s.math);
    if (chunk == 0 && dh0.data() == nullptr) break;
    const kc::MatrixBatch prev = chunk > 0 ? head_states(dstates, s.K, chunk - 1) : head_states(dh0, s.K, 0);
    decayed_state_copy(exec, "selectiv::delta_rule::chunked_bwd::decayed_dstate", prev, dS, log_decay, r0 + L - 1, s);
    kc::gemm_batched(exec, "T", "N", s.K, s.V, L, -1.0f, head_rows(W, r0), head_rows(dV_new, r0), 1.0f, prev, heads,
                     s.math);
    // the tokens whose read-out row t n + n - 1 lies in [r0, r0 + L)
    const int t0 = r0 / s.n, t1 = (r0 + L) / s.n;
    kc::gemm_batched(exec, "T", "N", s.K, s.V, t1 - t0, 1.0f, head_rows(q_read, t0), head_rows(do_, t0), 1.0f, prev,
                     heads, s.math);
  }
}

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
  s.level = chunk_scratch_level();
  s.math = current_tile_math();
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

View4 delta_workspace_chunk_states(int B, int rows, int H, int K, int V) {
  return workspace<View4>("selectiv::delta_rule::chunk_states", B, H, delta_num_row_chunks(rows) * K, V);
}

void delta_chunked_fwd(const Exec& exec, View4 o, View4 ht, View4 states, CView4 q, CView4 k, CView4 v, CView3 beta,
                       CView3 g, CView4 h0, float scale) {
  const Sizes s = chunked_sizes(q, k, v, beta, g);
  const bool has_h0 = h0.data() != nullptr, has_ht = ht.data() != nullptr;
  require_extents(o, s.B, s.T, s.H, s.V, "o");
  require_extents(states, s.B, s.H, s.NR * s.K, s.V, "states");
  if (has_h0) require_extents(h0, s.B, s.H, s.K, s.V, "h0");
  if (has_ht) require_extents(ht, s.B, s.H, s.K, s.V, "ht");

  const auto log_decay = workspace<LogDecayView>("selectiv::delta_rule::chunked_fwd::log_decay", s.B, s.R, s.H);
  const View4 W = workspace<View4>("selectiv::delta_rule::chunked_fwd::wy_w", s.B, s.R, s.H, s.K);
  const View4 U = workspace<View4>("selectiv::delta_rule::chunked_fwd::wy_u", s.B, s.R, s.H, s.V);
  const int chunks = s.B * s.H * s.NR;
  prepare_chunks(exec, "selectiv::delta_rule::chunked_fwd::ut_transform", s, log_decay, ut_workspaces(s), W, U, k, v,
                 beta, g);
  const View4 k_decayed = workspace<View4>("selectiv::delta_rule::chunked::k_decayed", s.B, s.R, s.H, s.K);
  const View4 q_read = workspace<View4>("selectiv::delta_rule::chunked::q_read", s.B, s.T, s.H, s.K);
  decayed_keys_and_queries(exec, k_decayed, q_read, k, q, log_decay, scale, s);
  pass_states(exec, s, states, ht, U, W, k_decayed, h0, log_decay);
  const auto P = workspace<ChunkMatrices>("selectiv::delta_rule::chunked::scores", chunks, C, C);
  chunk_scores(exec, "selectiv::delta_rule::chunked_fwd::score_mask", s, P, q, k, log_decay);
  chunk_outputs(exec, s, o, q_read, states, P, U, scale);
}

void delta_chunked_bwd(const Exec& exec, View4 dq, View4 dk, View4 dv, View3 dbeta, View3 dg, View4 dh0, CView4 states,
                       CView4 do_, CView4 dht, CView4 q, CView4 k, CView4 v, CView3 beta, CView3 g, float scale) {
  const Sizes s = chunked_sizes(q, k, v, beta, g);
  const bool has_g = g.data() != nullptr, has_dht = dht.data() != nullptr, has_dh0 = dh0.data() != nullptr;
  const bool recompute_states = states.data() == nullptr;
  if (has_g != (dg.data() != nullptr)) throw std::invalid_argument("selectiv::delta_rule::chunked: dg must match g");
  require_extents(dq, s.B, s.T, s.H, s.K, "dq");
  require_extents(dk, s.B, s.R, s.H, s.K, "dk");
  require_extents(dv, s.B, s.R, s.H, s.V, "dv");
  require_extents(do_, s.B, s.T, s.H, s.V, "do");
  if (!recompute_states) require_extents(states, s.B, s.H, s.NR * s.K, s.V, "states");
  if (static_cast<int>(dbeta.extent(0)) != s.B || static_cast<int>(dbeta.extent(1)) != s.R ||
      static_cast<int>(dbeta.extent(2)) != s.H)
    throw std::invalid_argument("selectiv::delta_rule::chunked: wrong extents of dbeta");
  if (has_g && (static_cast<int>(dg.extent(0)) != s.B || static_cast<int>(dg.extent(1)) != s.T ||
                static_cast<int>(dg.extent(2)) != s.H))
    throw std::invalid_argument("selectiv::delta_rule::chunked: wrong extents of dg");
  if (has_dht) require_extents(dht, s.B, s.H, s.K, s.V, "dht");
  if (has_dh0) require_extents(dh0, s.B, s.H, s.K, s.V, "dh0");

  const int chunks = s.B * s.H * s.NR;
  auto rows_of = [&](const char* label, int rows, int last) { return workspace<View4>(label, s.B, rows, s.H, last); };
  auto rows4 = [&](const char* label, int last) { return rows_of(label, s.R, last); };
  const auto log_decay = workspace<LogDecayView>("selectiv::delta_rule::chunked_bwd::log_decay", s.B, s.R, s.H);
  const View4 W = rows4("selectiv::delta_rule::chunked_bwd::wy_w", s.K);
  const View4 U = rows4("selectiv::delta_rule::chunked_bwd::wy_u", s.V);
  const View4 V_new = rows4("selectiv::delta_rule::chunked_bwd::v_new", s.V);
  const View4 dV_new = rows4("selectiv::delta_rule::chunked_bwd::dv_new", s.V);
  const View4 dY_w = rows4("selectiv::delta_rule::chunked_bwd::dy_w", s.K);
  const View4 dY_u = rows4("selectiv::delta_rule::chunked_bwd::dy_u", s.V);
  const View4 dX_w = rows4("selectiv::delta_rule::chunked_bwd::dx_w", s.K);
  const auto dm = workspace<ChunkMatrices>("selectiv::delta_rule::chunked_bwd::dm", chunks, C, C);
  const View4 dstates = workspace<View4>("selectiv::delta_rule::chunked_bwd::dstates", s.B, s.H, s.NR * s.K, s.V);
  const UtMatrices ut = ut_workspaces(s);
  const auto db_rows = workspace<ChunkDoubles>("selectiv::delta_rule::chunked_bwd::db_rows", chunks, C);
  prepare_chunks(exec, "selectiv::delta_rule::chunked_bwd::ut_transform", s, log_decay, ut, W, U, k, v, beta, g);
  const View4 k_decayed = workspace<View4>("selectiv::delta_rule::chunked::k_decayed", s.B, s.R, s.H, s.K);
  const View4 q_read = workspace<View4>("selectiv::delta_rule::chunked::q_read", s.B, s.T, s.H, s.K);
  decayed_keys_and_queries(exec, k_decayed, q_read, k, q, log_decay, scale, s);
  if (recompute_states) {
    // the forward's state pass again: the states, and V_new = U - W S chunk by chunk on the way
    const View4 recomputed = delta_workspace_chunk_states(s.B, s.R, s.H, s.K, s.V);
    Kokkos::deep_copy(exec, V_new, U);
    pass_states(exec, s, recomputed, View4(), V_new, W, k_decayed, CView4(), log_decay);
    states = recomputed;
  } else {
    recompute_new_values(exec, s, V_new, U, W, states);
  }
  const auto P = workspace<ChunkMatrices>("selectiv::delta_rule::chunked::scores", chunks, C, C);
  chunk_scores(exec, "selectiv::delta_rule::chunked_bwd::score_mask", s, P, q, k, log_decay);
  intra_value_grads(exec, s, dV_new, P, do_, scale);
  pass_dstates(exec, s, dstates, dh0, dV_new, dht, W, k_decayed, q_read, do_, log_decay);
  chunk_state_products_bwd(exec, s, dq, dk, dX_w, do_, V_new, dV_new, states, dstates);
  const OutputGradients output{dq,
                               dk,
                               rows_of("selectiv::delta_rule::chunked_bwd::g_k", s.T, s.K),
                               rows4("selectiv::delta_rule::chunked_bwd::g_t_q", s.K),
                               workspace<ChunkMatrices>("selectiv::delta_rule::chunked_bwd::g", chunks, C, C),
                               workspace<ChunkFloats>("selectiv::delta_rule::chunked_bwd::g_diag", chunks, C),
                               workspace<PerChunk>("selectiv::delta_rule::chunked_bwd::carried", chunks),
                               db_rows,
                               workspace<ChunkDoubles>("selectiv::delta_rule::chunked_bwd::state_write", chunks, C)};
  output_gradients(exec, s, output, q, k, V_new, do_, states, dstates, log_decay, scale);
  ut_gradients(exec, s, UtGradients{dk, dv, dY_w, dY_u, dbeta, dg, dm, db_rows}, ut, output, dX_w, dV_new, W, U, k, v,
               beta, log_decay);
}

}  // namespace selectiv::delta_rule
