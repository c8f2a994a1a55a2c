// SPDX-License-Identifier: BSD-3-Clause
// Chunkwise-parallel WY / UT forward and backward of the delta rule (README.md §5): chunk preparation (gate
// cumsum, UT transform, W and U), state passing, chunk output, and the backward's per-chunk gradient steps. The
// per-chunk steps run one team per chunk, which stages tiles in team scratch with coalesced loads and multiplies them
// there; the two state passes walk the chunks in order as batched GEMMs over every (b, h) (README.md §5).
#include "kernels/delta_rule/chunked.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/batched_gemm.hpp"
#include "kernels/common/compat.hpp"
#include "kernels/common/reductions.hpp"
#include "kernels/common/team_product.hpp"
#include "kernels/common/team_stage.hpp"
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

constexpr int C = kChunkRows;
// Team scratch of every kernel here: within the level 0 (shared memory) that Kokkos offers a CUDA team
// (TeamPolicy::scratch_size_max(0) = 40936 bytes in Kokkos 4.6). Above it the tiles went to level 1, global memory:
// a 48 KiB budget did that to every kernel of this file until the slabs were narrowed (README.md §5).
constexpr std::size_t kScratchBudget = 40000;
// Width of the slabs staged in scratch: columns of a global operand (contraction or output columns) per pass.
constexpr int kSlab = 32;
// The output-gradient step keeps two chunk x chunk tiles and stages narrower slabs.
constexpr int kNarrowSlab = 16;

struct Sizes {
  int B = 0, T = 0, H = 0, K = 0, V = 0, n = 1, R = 0, NR = 0;
  int level = 0;       // team scratch level of the per-chunk kernels (chunk_policy)
  TileMath math = TileMath::kFp32;  // of every tile product (current_tile_math at the call)
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
  // token of chunk row i, and whether the row ends its token (carries an output)
  // (n = 1, every model but Gated DeltaProduct, skips the integer division: these sit in the staging loops)
  KOKKOS_INLINE_FUNCTION int token(int i, const Sizes& s) const { return s.n == 1 ? r0 + i : (r0 + i) / s.n; }
  KOKKOS_INLINE_FUNCTION bool output(int i, const Sizes& s) const { return s.n == 1 || (r0 + i) % s.n == s.n - 1; }
};

// e^{x} of a difference of fp64 cumulative log-decays (x <= 0), evaluated in fp32.
KOKKOS_INLINE_FUNCTION float exp_of(double x) { return kc::exp(static_cast<float>(x)); }

// ---- team scratch: tiles, staging, tile products ------------------------------------------------------------

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

// tile(r, f) = get(r, f) for r < rows, f < cols (team_stage: coalesced when f is the contiguous index of the source).
template <class Get>
KOKKOS_INLINE_FUNCTION void stage(const Member& team, const ScratchMatrix& tile, int rows, int cols, const Get& get) {
  team_stage(team, rows, cols, get, [&](int r, int f, float value) { tile(r, f) = value; });
}

// out(i, j) = sum_{x < X} get_a(i, x) get_b(j, x) for i, j < L (a Gram-type product of two row operands of the
// chunk with X columns each), staged slab by slab (slab width = the staging tiles' width). Ends with a barrier.
template <class GetA, class GetB>
KOKKOS_INLINE_FUNCTION void chunk_gram(const Member& team, TileMath math, const ScratchMatrix& out,
                                       const ScratchMatrix& sa, const ScratchMatrix& sb, int slab, int L, int X,
                                       const GetA& get_a, const GetB& get_b) {
  for (int x0 = 0; x0 < X; x0 += slab) {
    const int w = X - x0 < slab ? X - x0 : slab;
    stage(team, sa, L, w, [&](int i, int x) { return get_a(i, x0 + x); });
    stage(team, sb, L, w, [&](int j, int x) { return get_b(j, x0 + x); });
    team.team_barrier();
    team_product(
        team, math, L, L, w, [&](int i, int x) { return sa(i, x); }, [&](int j, int x) { return sb(j, x); },
        [&](int i, int j, float value) { out(i, j) = x0 == 0 ? value : out(i, j) + value; });
    team.team_barrier();
  }
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

// 1. Per chunk (after the batched GEMM kkg = K K^T, prepare_chunks): b_i = cumulative log-decay (fp64),
// KKG = strict_tril(kkg . Gamma), M = diag(beta) KKG, A = (I + M)^-1 (forward substitution, one thread per column
// of A), and A with its columns scaled for the W and U products.
struct UtTransform {
  LogDecayView log_decay;
  UtMatrices ut;
  CView3 beta, g;
  Sizes s;
  bool has_g;

  static std::size_t scratch_bytes() { return doubles_bytes() + floats_bytes() + 2 * tile_bytes(C); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    const int L = c.L;
    ScratchDoubles cum(team.team_scratch(s.level), C);
    ScratchFloats betas(team.team_scratch(s.level), C);
    const ScratchMatrix M = make_tile(team, s.level, C), A = make_tile(team, s.level, C);
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
    // A = (I + M)^-1, unit lower triangular: column j by forward substitution
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int j) {
      for (int i = 0; i < L; ++i) {
        float value = i == j ? 1.0f : 0.0f;
        if (i > j) {
          for (int m = j; m < i; ++m) value -= M(i, m) * A(m, j);
        }
        A(i, j) = value;
      }
    });
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * L), [&](int p) {
      const int i = p / L, j = p % L;
      const float a = A(i, j);
      ut.A(c.index, i, j) = a;
      ut.A_u(c.index, i, j) = a * betas(j);
      ut.A_w(c.index, i, j) = a * betas(j) * exp_of(cum(j));
    });
  }
};

// The chunk's causal scores P_ij = (q_{t(i)} . k_j) e^{b_i - b_j} for j <= i on the rows i that end a token, 0
// elsewhere, times `factor`. Ends with a barrier.
KOKKOS_INLINE_FUNCTION void chunk_scores(const Member& team, const ScratchMatrix& P, const ScratchMatrix& sa,
                                         const ScratchMatrix& sb, int slab, const ScratchDoubles& cum,
                                         const RowChunk& c, const Sizes& s, const CView4& q, const CView4& k,
                                         float factor) {
  chunk_gram(
      team, s.math, P, sa, sb, slab, c.L, s.K, [&](int i, int e) { return q(c.b, c.token(i, s), c.h, e); },
      [&](int j, int e) { return k(c.b, c.r0 + j, c.h, e); });
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.L * c.L), [&](int p) {
    const int i = p / c.L, j = p % c.L;
    P(i, j) = j <= i && c.output(i, s) ? factor * P(i, j) * exp_of(cum(i) - cum(j)) : 0.0f;
  });
  team.team_barrier();
}

// 3. Per chunk, on the rows that end a token:
// o_t = scale (e^{b_i} q_t^T S_chunk + sum_{j<=i} (q_t . k_j) e^{b_i - b_j} V_new_j). o holds q_t^T S_chunk on entry
// (a batched GEMM, chunk_state_products); by slabs of kSlab value columns, o = scale (e^b o + P V_new[:, slab]).
struct ChunkOutput {
  View4 o;
  CView4 q, k, V_new;
  LogDecayView log_decay;
  float scale;
  Sizes s;

  static std::size_t scratch_bytes() { return doubles_bytes() + tile_bytes(C) + 2 * tile_bytes(kSlab); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    const int L = c.L;
    ScratchDoubles cum(team.team_scratch(s.level), C);
    const ScratchMatrix P = make_tile(team, s.level, C), sa = make_tile(team, s.level, kSlab),
                        sb = make_tile(team, s.level, kSlab);
    load_log_decays(team, cum, c, log_decay);
    team.team_barrier();
    chunk_scores(team, P, sa, sb, kSlab, cum, c, s, q, k, 1.0f);
    for (int c0 = 0; c0 < s.V; c0 += kSlab) {
      const int wc = s.V - c0 < kSlab ? s.V - c0 : kSlab;
      stage(team, sb, L, wc, [&](int j, int col) { return V_new(c.b, c.r0 + j, c.h, c0 + col); });
      team.team_barrier();
      team_product(
          team, s.math, L, wc, L, [&](int i, int x) { return P(i, x); }, [&](int col, int x) { return sb(x, col); },
          [&](int i, int col, float value) {
            if (!c.output(i, s)) return;
            float& out = o(c.b, c.token(i, s), c.h, c0 + col);
            out = scale * (exp_of(cum(i)) * out + value);
          });
      team.team_barrier();
    }
  }
};

// --- backward ------------------------------------------------------------------------------------------------

// B2. The part of dV_new from the outputs of the same chunk: dV_new_j = scale sum_{i >= j} (q_i . k_j) e^{b_i - b_j}
// do_i, i.e. P^T do with the chunk scores P (team per chunk, by slabs of value columns).
struct IntraValueGrad {
  View4 dV_new;
  CView4 q, k, do_;
  LogDecayView log_decay;
  float scale;
  Sizes s;

  static std::size_t scratch_bytes() { return doubles_bytes() + tile_bytes(C) + 2 * tile_bytes(kSlab); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    const int L = c.L;
    ScratchDoubles cum(team.team_scratch(s.level), C);
    const ScratchMatrix P = make_tile(team, s.level, C), sa = make_tile(team, s.level, kSlab),
                        sb = make_tile(team, s.level, kSlab);
    load_log_decays(team, cum, c, log_decay);
    team.team_barrier();
    chunk_scores(team, P, sa, sb, kSlab, cum, c, s, q, k, scale);
    for (int c0 = 0; c0 < s.V; c0 += kSlab) {
      const int wc = s.V - c0 < kSlab ? s.V - c0 : kSlab;
      stage(team, sb, L, wc,
            [&](int i, int col) { return c.output(i, s) ? do_(c.b, c.token(i, s), c.h, c0 + col) : 0.0f; });
      team.team_barrier();
      team_product(
          team, s.math, L, wc, L, [&](int j, int x) { return P(x, j); }, [&](int col, int x) { return sb(x, col); },
          [&](int j, int col, float value) { dV_new(c.b, c.r0 + j, c.h, c0 + col) = value; });
      team.team_barrier();
    }
  }
};

// B4. Per chunk, the gradients through the outputs and the state write (README.md §5, backward steps 4 and 8):
// G = strictly causal (do_i . V_new_j) e^{b_i - b_j} (j < i) on output rows, its diagonal d_i = do_i . V_new_i apart;
// dq_t = scale (e^{b_i} S do_t + (G K)_i + d_i k_i), dk (assigned) = scale (G^T Q + d_i q_i) + e^{b_last - b_i}
// dS V_new_i, and the log-decay gradient's output and state-write terms per row (into db_rows). dq and dk hold the
// state products S do_t and dS V_new_i on entry (batched GEMMs, chunk_state_products). The output terms
// scale (sum_{j<i} (q_i . k_j) G_ij - sum_{m>i} (q_m . k_i) G_mi) are read off the products dq and dk form anyway:
// scale (q_i . (G K)_i - k_i . (G^T Q)_i), so no q k^T tile is needed.
struct OutputGrads {
  View4 dq, dk;
  ChunkDoubles db_rows;
  CView4 states, dstates, q, k, V_new, do_;
  LogDecayView log_decay;
  float scale;
  Sizes s;

  // slabs: key columns kW (the accumulator), staged operands kWide (a chunk x chunk tile beside them)
  static constexpr int kW = kNarrowSlab, kWide = kSlab;
  static std::size_t scratch_bytes() {
    return 2 * doubles_bytes() + 2 * floats_bytes() + tile_bytes(C) + tile_bytes(kW) + 2 * tile_bytes(kWide);
  }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const RowChunk c(team.league_rank(), s);
    const int L = c.L, K = s.K, V = s.V;
    ScratchDoubles cum(team.team_scratch(s.level), C), db(team.team_scratch(s.level), C);
    ScratchFloats Q(team.team_scratch(s.level), C);     // Q_i = k_i . (dS V_new_i)
    ScratchFloats diag(team.team_scratch(s.level), C);  // d_i
    const ScratchMatrix G = make_tile(team, s.level, C), acc = make_tile(team, s.level, kW),
                        sa = make_tile(team, s.level, kWide), sb = make_tile(team, s.level, kWide);
    load_log_decays(team, cum, c, log_decay);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) {
      db(i) = 0.0;
      Q(i) = 0.0f;
    });
    team.team_barrier();
    // G_ij = e^{b_i - b_j} (do_i . V_new_j), j < i, output rows i; d_i apart
    chunk_gram(
        team, s.math, G, sa, sb, kWide, L, V,
        [&](int i, int col) { return c.output(i, s) ? do_(c.b, c.token(i, s), c.h, col) : 0.0f; },
        [&](int j, int col) { return V_new(c.b, c.r0 + j, c.h, col); });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L * L), [&](int p) {
      const int i = p / L, j = p % L;
      if (j == i) diag(i) = c.output(i, s) ? G(i, i) : 0.0f;
      G(i, j) = j < i && c.output(i, s) ? G(i, j) * exp_of(cum(i) - cum(j)) : 0.0f;
    });
    team.team_barrier();
    // dq = scale (e^b (do S^T) + G K + d k) on output rows; db gets the read-out term scale e^{b_i} q_i . (S do_i) and
    // the output term scale q_i . (G K)_i
    for (int e0 = 0; e0 < K; e0 += kW) {
      const int we = K - e0 < kW ? K - e0 : kW;
      stage(team, acc, L, we,
            [&](int i, int x) { return c.output(i, s) ? dq(c.b, c.token(i, s), c.h, e0 + x) : 0.0f; });
      stage(team, sa, L, we, [&](int i, int x) { return q(c.b, c.token(i, s), c.h, e0 + x); });
      stage(team, sb, L, we, [&](int j, int x) { return k(c.b, c.r0 + j, c.h, e0 + x); });
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) {
        if (!c.output(i, s)) return;
        float dot = 0.0f;
        for (int x = 0; x < we; ++x) dot += sa(i, x) * acc(i, x);
        db(i) += static_cast<double>(scale) * exp_of(cum(i)) * dot;
      });
      team.team_barrier();
      // acc(i, col) becomes (G K)_i for the output term of db
      team_product(
          team, s.math, L, we, L, [&](int i, int x) { return G(i, x); }, [&](int col, int x) { return sb(x, col); },
          [&](int i, int col, float value) {
            if (c.output(i, s))
              dq(c.b, c.token(i, s), c.h, e0 + col) =
                  scale * (exp_of(cum(i)) * acc(i, col) + value + diag(i) * sb(i, col));
            acc(i, col) = value;
          });
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) {
        if (!c.output(i, s)) return;
        double dot = 0.0;
        for (int x = 0; x < we; ++x) dot += static_cast<double>(sa(i, x)) * acc(i, x);
        db(i) += static_cast<double>(scale) * dot;
      });
      team.team_barrier();
    }
    // dk = scale (G^T Q + d_i q_i) + e^{b_last - b_i} (V_new dS^T)_i, Q_i = k_i . (dS V_new_i), and the output term
    // -scale k_i . (G^T Q)_i of db
    for (int e0 = 0; e0 < K; e0 += kW) {
      const int we = K - e0 < kW ? K - e0 : kW;
      stage(team, acc, L, we, [&](int i, int x) { return dk(c.b, c.r0 + i, c.h, e0 + x); });
      stage(team, sa, L, we, [&](int i, int x) { return k(c.b, c.r0 + i, c.h, e0 + x); });
      stage(team, sb, L, we, [&](int m, int x) { return q(c.b, c.token(m, s), c.h, e0 + x); });
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) {
        float dot = 0.0f;
        for (int x = 0; x < we; ++x) dot += sa(i, x) * acc(i, x);
        Q(i) += dot;
      });
      team.team_barrier();
      // acc(i, col) becomes (G^T Q)_i for the output term of db
      team_product(
          team, s.math, L, we, L, [&](int i, int x) { return G(x, i); }, [&](int col, int x) { return sb(x, col); },
          [&](int i, int col, float value) {
            dk(c.b, c.r0 + i, c.h, e0 + col) =
                scale * (value + diag(i) * sb(i, col)) + exp_of(cum(L - 1) - cum(i)) * acc(i, col);
            acc(i, col) = value;
          });
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) {
        double dot = 0.0;
        for (int x = 0; x < we; ++x) dot += static_cast<double>(sa(i, x)) * acc(i, x);
        db(i) -= static_cast<double>(scale) * dot;
      });
      team.team_barrier();
    }
    float carried = 0.0f;  // <S_chunk, dS_end>
    Kokkos::parallel_reduce(
        Kokkos::TeamThreadRange(team, K * V),
        [&](int p, float& sum) {
          sum += states(c.b, c.h, c.chunk * K + p / V, p % V) * dstates(c.b, c.h, c.chunk * K + p / V, p % V);
        },
        carried);
    // the state write: -Q_i e^{b_last - b_i} per row, e^{b_last} <S, dS> + sum_j e^{b_last - b_j} Q_j on the last
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, L), [&](int i) {
      double value = db(i) - static_cast<double>(exp_of(cum(L - 1) - cum(i)) * Q(i));
      if (i == L - 1) {
        value += static_cast<double>(exp_of(cum(L - 1))) * carried;
        for (int j = 0; j < L; ++j) value += static_cast<double>(exp_of(cum(L - 1) - cum(j)) * Q(j));
      }
      db_rows(c.index, i) = value;
    });
  }
};

// B5. The gradients through the UT transform (README.md §5, backward steps 5-8), after the batched GEMMs of
// ut_gradients: dY_w = A^T dX_w, dY_u = A^T dV_new, dm = dY_w W^T + dY_u U^T (dM = -strict_tril(dm)).
// Per row i of a chunk (one warp per row, lanes across the columns): dbeta_i = e^{b_i} k_i . dY_w,i + v_i . dY_u,i
// + sum_j dM_ij KKG_ij; dv_i = beta_i dY_u,i; dk_i += beta_i e^{b_i} dY_w,i; the log-decay terms
// beta_i e^{b_i} k_i . dY_w,i + sum_j dM_ij beta_i KKG_ij - sum_m dM_mi beta_m KKG_mi added to db_rows.
struct UtRowGrads {
  View4 dk, dv;
  View3 dbeta;
  ChunkDoubles db_rows;
  ChunkMatrices dm, kkg;
  CView4 k, v, dY_w, dY_u;
  CView3 beta;
  LogDecayView log_decay;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int item = nn::detail::vector_item(team);
    if (item >= s.B * s.R * s.H) return;
    const int h = item % s.H, row = (item / s.H) % s.R, b = item / (s.H * s.R);
    const int chunk = row / C, i = row % C, r0 = chunk * C, L = s.R - r0 < C ? s.R - r0 : C;
    const int index = (b * s.H + h) * s.NR + chunk;
    const float gi = exp_of(log_decay(b, row, h)), beta_i = beta(b, row, h);
    float k_dyw = 0.0f, v_dyu = 0.0f, dm_kkg = 0.0f;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, s.K), [&](int e, float& acc) { acc += k(b, row, h, e) * dY_w(b, row, h, e); },
        k_dyw);
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, s.V),
        [&](int col, float& acc) { acc += v(b, row, h, col) * dY_u(b, row, h, col); }, v_dyu);
    // dM_ij = -dm_ij for j < i (row i), dM_mi = -dm_mi for m > i (column i)
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, i), [&](int j, float& acc) { acc -= dm(index, i, j) * kkg(index, i, j); },
        dm_kkg);
    double later = 0.0;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, L - i - 1),
        [&](int x, double& acc) {
          const int m = i + 1 + x;
          acc -= static_cast<double>(dm(index, m, i)) * beta(b, r0 + m, h) * kkg(index, m, i);
        },
        later);
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, s.V),
                         [&](int col) { dv(b, row, h, col) = beta_i * dY_u(b, row, h, col); });
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, s.K),
                         [&](int e) { dk(b, row, h, e) += beta_i * gi * dY_w(b, row, h, e); });
    Kokkos::single(Kokkos::PerThread(team), [&]() {
      dbeta(b, row, h) = gi * k_dyw + v_dyu + dm_kkg;
      db_rows(index, i) += static_cast<double>(beta_i) * gi * k_dyw + static_cast<double>(beta_i) * dm_kkg - later;
    });
  }
};

// B6. Per chunk: E = D1 + D1^T with D1 = diag(beta) (dM . Gamma) strictly lower triangular (symmetric, written over
// dm; dk += E K is a batched GEMM: beta_i (D K)_i + (D^T diag(beta) K)_i), and dg = the reverse cumulative sum of
// db_rows within the chunk, read on the sub-step-0 rows.
struct UtChunkGrads {
  ChunkMatrices dm;
  View3 dg;
  ChunkDoubles db_rows;
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
        double sum = 0.0;
        for (int i = L - 1; i >= 0; --i) {
          sum += db_rows(c.index, i);
          if ((c.r0 + i) % s.n == 0) dg(c.b, (c.r0 + i) / s.n, c.h) = static_cast<float>(sum);
        }
      });
    }
  }
};

// ---- state passes and recomputed values: batched GEMMs over (b, h) -------------------------------------------
// The products that carry the state from chunk to chunk (and V_new = U - W S) are, per chunk, one GEMM per (b, h):
// 64 x K x V at most, large enough for the BLAS and sequential over the chunks only, so they run as batched GEMMs
// (kernels/common/batched_gemm.hpp) over every (b, h) at once, reading the operands where they lie.

// Rows row0.. of each (b, h) of a (B, rows, H, D) tensor: batch indices (b, h, chunk), the next chunk `step` rows
// further.
template <class ViewType>
kc::MatrixBatchOf<typename ViewType::value_type> head_rows(const ViewType& x, int row0, int step = C) {
  kc::MatrixBatchOf<typename ViewType::value_type> m;
  m.ld = static_cast<std::int64_t>(x.stride_1());
  m.data = x.data() + row0 * m.ld;
  m.stride[0] = static_cast<std::int64_t>(x.stride_0());
  m.stride[1] = static_cast<std::int64_t>(x.stride_2());
  m.stride[2] = step * m.ld;
  return m;
}

// The K x V state of each (b, h) in slot `slot` of a (B, H, slots * K, V) tensor: batch indices (b, h, slot).
template <class ViewType>
kc::MatrixBatchOf<typename ViewType::value_type> head_states(const ViewType& x, int K, int slot) {
  kc::MatrixBatchOf<typename ViewType::value_type> m;
  m.ld = static_cast<std::int64_t>(x.stride_2());
  m.data = x.data() + static_cast<std::int64_t>(slot) * K * m.ld;
  m.stride[0] = static_cast<std::int64_t>(x.stride_0());
  m.stride[1] = static_cast<std::int64_t>(x.stride_1());
  m.stride[2] = K * m.ld;
  return m;
}

// dst = e^{b_last} src for the K x V state of every (b, h), b_last = log_decay(b, last_row, h) (factor 1 when
// last_row < 0); dst = 0 when src is empty. The states are contiguous (rows V floats apart): one team per block of
// kCopyBlock elements of one (b, h) (a team per whole (b, h) left too few loads in flight).
void decayed_state_copy(const Exec& exec, const char* label, const kc::MatrixBatch& dst,
                        const kc::ConstMatrixBatch& src, const LogDecayView& log_decay, int last_row, const Sizes& s) {
  constexpr int kCopyBlock = 1024;
  const int H = s.H, size = s.K * s.V, blocks = (size + kCopyBlock - 1) / kCopyBlock;
  Kokkos::parallel_for(
      label, TeamPolicy(exec, s.B * H * blocks, Kokkos::AUTO), KOKKOS_LAMBDA(const Member& team) {
        const int bh = team.league_rank() / blocks, p0 = (team.league_rank() % blocks) * kCopyBlock;
        const int b = bh / H, h = bh % H, count = size - p0 < kCopyBlock ? size - p0 : kCopyBlock;
        float* out = dst.matrix(b, h, 0) + p0;
        if (src.data == nullptr) {
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, count), [&](int p) { out[p] = 0.0f; });
          return;
        }
        const float factor = last_row < 0 ? 1.0f : static_cast<float>(kc::exp(log_decay(b, last_row, h)));
        const float* in = src.matrix(b, h, 0) + p0;
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, count), [&](int p) { out[p] = factor * in[p]; });
      });
}

// k_decayed(b, r, h) = e^{b_last - b_r} k(b, r, h), b_last the log-decay of the last row of r's chunk (the state
// write's keys); with q: q_read(b, t, h) = scale e^{b_r} q(b, t, h) on the row r = t n + n - 1 that reads token t out.
// One warp per row of a head (vector_per_item): its factor once, the key dim across the lanes.
void decayed_keys_and_queries(const Exec& exec, const View4& k_decayed, const View4& q_read, const CView4& k,
                              const CView4& q, const LogDecayView& log_decay, float scale, const Sizes& s) {
  const int R = s.R, H = s.H, K = s.K, n = s.n;
  const int key_rows = s.B * R * H;
  Kokkos::parallel_for(
      "selectiv::delta_rule::chunked::decayed_keys", nn::detail::vector_per_item(exec, key_rows),
      KOKKOS_LAMBDA(const Member& team) {
        const int item = nn::detail::vector_item(team);
        if (item >= key_rows) return;
        const int h = item % H, r = (item / H) % R, b = item / (H * R);
        const int last = (r / C + 1) * C < R ? (r / C + 1) * C - 1 : R - 1;
        const float factor = static_cast<float>(kc::exp(log_decay(b, last, h) - log_decay(b, r, h)));
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, K),
                             [&](int e) { k_decayed(b, r, h, e) = factor * k(b, r, h, e); });
      });
  if (q_read.data() == nullptr) return;
  const int T = s.T, query_rows = s.B * T * H;
  Kokkos::parallel_for(
      "selectiv::delta_rule::chunked::read_queries", nn::detail::vector_per_item(exec, query_rows),
      KOKKOS_LAMBDA(const Member& team) {
        const int item = nn::detail::vector_item(team);
        if (item >= query_rows) return;
        const int h = item % H, t = (item / H) % T, b = item / (H * T);
        const float factor = scale * static_cast<float>(kc::exp(log_decay(b, t * n + n - 1, h)));
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, K),
                             [&](int e) { q_read(b, t, h, e) = factor * q(b, t, h, e); });
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
    kc::gemm_batched(exec, "T", "N", s.K, s.V, L, 1.0f, head_rows(k_decayed, r0), head_rows(U, r0), 1.0f, next,
                     heads, s.math);
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
  const int full = s.R / C;
  auto one = [&](int chunk) {
    const int r0 = chunk * C, L = s.R - r0 < C ? s.R - r0 : C, t0 = r0 / s.n;
    f(chunk, 1, r0, L, t0, (r0 + L) / s.n - t0, 0);
  };
  if (C % s.n == 0) {
    if (full > 0) f(0, full, 0, C, 0, C / s.n, C / s.n);
  } else {
    for (int chunk = 0; chunk < full; ++chunk) one(chunk);
  }
  if (s.R % C != 0) one(full);
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

// The per-chunk products with a chunk's state, for every chunk at once (the chunk kernels finish them):
// forward: o_t = q_t^T S_chunk on the tokens read out in the chunk.
void chunk_state_products_fwd(const Exec& exec, const Sizes& s, const View4& o, const CView4& q, const CView4& states) {
  for_chunk_groups(s, [&](int first, int chunks, int, int, int t0, int tokens, int token_step) {
    kc::gemm_batched(exec, "N", "N", tokens, s.V, s.K, 1.0f, head_rows(q, t0, token_step),
                     head_states(states, s.K, first), 0.0f, head_rows(o, t0, token_step),
                     kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
}

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

// B5-B7: the gradients through the UT transform: batched GEMMs dY_w = A^T dX_w, dY_u = A^T dV_new,
// dm = dY_w W^T + dY_u U^T; the row kernel (UtRowGrads); per chunk E and dg (UtChunkGrads); dk += E K.
struct UtGradients {
  View4 dk, dv, dY_w, dY_u;
  View3 dbeta, dg;
  ChunkMatrices dm;
  ChunkDoubles db_rows;
};
void ut_gradients(const Exec& exec, const Sizes& s, const UtGradients& out, const UtMatrices& ut, const CView4& dX_w,
                  const CView4& dV_new, const CView4& W, const CView4& U, const CView4& k, const CView4& v,
                  const CView3& beta, const LogDecayView& log_decay) {
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
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::ut_row_grads",
                       nn::detail::vector_per_item(exec, s.B * s.R * s.H),
                       UtRowGrads{out.dk, out.dv, out.dbeta, out.db_rows, out.dm, ut.kkg, k, v, out.dY_w, out.dY_u,
                                  beta, log_decay, s});
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::ut_chunk_grads",
                       chunk_policy(exec, s.B * s.H * s.NR, UtChunkGrads::scratch_bytes(), s.level, "ut_chunk_grads"),
                       UtChunkGrads{out.dm, out.dg, out.db_rows, beta, log_decay, s, out.dg.data() != nullptr});
  for_chunk_groups(s, [&](int first, int chunks, int r0, int L, int, int, int) {
    kc::gemm_batched(exec, "N", "N", L, s.K, L, 1.0f, chunk_matrices(out.dm, s, first), head_rows(k, r0), 1.0f,
                     head_rows(out.dk, r0), kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
}

// B3. dstate passing, chunks last to first, dS_c = dL/d(state after chunk c) saved in dstates slot c (dht or 0 for
// the last): dV_new_c += K~_c dS_c, then dS_{c-1} = e^{b_last} dS_c - W_c^T dV_new_c + Q~^T do over the tokens read
// out in chunk c (Q~ = q_read); after chunk 0 that is dh0.
void pass_dstates(const Exec& exec, const Sizes& s, const View4& dstates, const View4& dh0, const View4& dV_new,
                  const CView4& dht, const CView4& W, const CView4& k_decayed, const CView4& q_read,
                  const CView4& do_, const LogDecayView& log_decay) {
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
  decayed_keys_and_queries(exec, k_decayed, View4(), k, q, log_decay, scale, s);
  pass_states(exec, s, states, ht, U, W, k_decayed, h0, log_decay);
  chunk_state_products_fwd(exec, s, o, q, states);
  Kokkos::parallel_for("selectiv::delta_rule::chunked_fwd::output",
                       chunk_policy(exec, chunks, ChunkOutput::scratch_bytes(), s.level, "output"),
                       ChunkOutput{o, q, k, U, log_decay, scale, s});
}

void delta_chunked_bwd(const Exec& exec, View4 dq, View4 dk, View4 dv, View3 dbeta, View3 dg, View4 dh0, CView4 states,
                       CView4 do_, CView4 dht, CView4 q, CView4 k, CView4 v, CView3 beta, CView3 g, float scale) {
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

  const int chunks = s.B * s.H * s.NR;
  auto rows4 = [&](const char* label, int last) { return workspace<View4>(label, s.B, s.R, s.H, last); };
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
  const View4 q_read = workspace<View4>("selectiv::delta_rule::chunked_bwd::q_read", s.B, s.T, s.H, s.K);
  decayed_keys_and_queries(exec, k_decayed, q_read, k, q, log_decay, scale, s);
  recompute_new_values(exec, s, V_new, U, W, states);
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::intra_value_grad",
                       chunk_policy(exec, chunks, IntraValueGrad::scratch_bytes(), s.level, "intra_value_grad"),
                       IntraValueGrad{dV_new, q, k, do_, log_decay, scale, s});
  pass_dstates(exec, s, dstates, dh0, dV_new, dht, W, k_decayed, q_read, do_, log_decay);
  chunk_state_products_bwd(exec, s, dq, dk, dX_w, do_, V_new, dV_new, states, dstates);
  Kokkos::parallel_for("selectiv::delta_rule::chunked_bwd::output_grads",
                       chunk_policy(exec, chunks, OutputGrads::scratch_bytes(), s.level, "output_grads"),
                       OutputGrads{dq, dk, db_rows, states, dstates, q, k, V_new, do_, log_decay, scale, s});
  ut_gradients(exec, s, UtGradients{dk, dv, dY_w, dY_u, dbeta, dg, dm, db_rows}, ut, dX_w, dV_new, W, U, k, v, beta,
               log_decay);
}

}  // namespace selectiv::delta_rule
