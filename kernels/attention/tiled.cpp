// SPDX-License-Identifier: BSD-3-Clause
// Tiled causal softmax attention (README.md §2 forward, §3 backward). One team per (batch row, head, tile); the
// tiles live in team scratch; the step numbers in the comments are the README's.
#include "kernels/attention/tiled.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/attention/shapes.hpp"
#include "kernels/common/compat.hpp"
#include "kernels/common/team_product.hpp"
#include "kernels/common/team_stage.hpp"
#include "kernels/common/workspace.hpp"

namespace selectiv::attention {
namespace {

using Policy = Kokkos::TeamPolicy<Exec>;
using Member = Policy::member_type;
using ScratchMatrix = Kokkos::View<float**, Kokkos::LayoutRight, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
using ScratchVector = Kokkos::View<float*, Kokkos::LayoutRight, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;

// Below every real score; the running maximum starts here, so the first rescale factor exp(m_old - m_new) is 0.
constexpr float kNoScoreYet = -3.0e38f;

// Tiles of q, k, v, dO rows are stored with a row stride of D + 1 floats: threads that read the same column of
// consecutive rows then hit different shared-memory banks. Score tiles likewise use a stride of tile + 1.
std::size_t fwd_scratch_bytes(int tile, int head_dim) {
  return 2 * ScratchMatrix::shmem_size(tile, head_dim + 1)  // q (scaled) tile; k tile, then v tile
         + ScratchMatrix::shmem_size(tile, tile + 1)        // scores, then probabilities
         + 3 * ScratchVector::shmem_size(tile);             // running max m, running sum l, rescale factor
}

std::size_t bwd_scratch_bytes(int tile, int head_dim) {
  return 4 * ScratchMatrix::shmem_size(tile, head_dim + 1)  // q (scaled), dO, k, v tiles
         + ScratchMatrix::shmem_size(tile, tile + 1)        // P, then dS
         + 2 * ScratchVector::shmem_size(tile);             // lse and D = rowsum(dO * O) of the query rows
}

TilePlan make_plan(int head_dim, int requested_tile, std::size_t (*bytes)(int, int)) {
  if (head_dim < 0) throw std::invalid_argument("attention tiled: head_dim must be >= 0");
  const std::size_t level0 = static_cast<std::size_t>(Policy::scratch_size_max(0));
  const std::size_t level1 = static_cast<std::size_t>(Policy::scratch_size_max(1));
  auto at = [&](int tile) {
    const std::size_t need = bytes(tile, head_dim);
    if (need <= level0) return TilePlan{tile, 0, need};
    if (need <= level1) return TilePlan{tile, 1, need};
    throw std::invalid_argument("attention tiled: tile " + std::to_string(tile) + " with head_dim " +
                                std::to_string(head_dim) + " needs " + std::to_string(need) +
                                " bytes of team scratch, more than the backend offers");
  };
  if (requested_tile > 0) return at(requested_tile);
  if (requested_tile < 0) throw std::invalid_argument("attention tiled: requested_tile must be >= 0");
  // On a host backend both scratch levels are ordinary memory: keep the large tile. On a GPU take the largest tile
  // whose scratch fits on chip (level 0); only heads too wide for a 16-row tile go to level 1 (README, Tiles and
  // scratch, has the H200 timings behind this).
  constexpr bool host_backend = Kokkos::SpaceAccessibility<Kokkos::HostSpace, DeviceMem>::accessible;
  if (host_backend) return at(64);
  for (int tile : {64, 32, 16}) {
    const std::size_t need = bytes(tile, head_dim);
    if (need <= level0) return TilePlan{tile, 0, need};
  }
  return at(64);
}

struct Sizes {
  int batch, length, heads, head_dim, tile, num_tiles;
  TileMath math = TileMath::kFp32;  // of every tile product (current_tile_math at the call)
};

Sizes checked_sizes(const CView4& q, const CView4& k, const CView4& v, const CView4& o, const CView3& lse, int tile,
                    const char* op) {
  const AttentionShape shape = attention_shape(q, k, v, o, lse, op);
  Sizes s{shape.batch, shape.length, shape.heads, shape.head_dim, tile, 0};
  s.num_tiles = (s.length + tile - 1) / tile;
  s.math = current_tile_math();
  if (static_cast<double>(s.batch) * s.heads * s.num_tiles > 2.0e9) {
    throw std::invalid_argument(std::string(op) + ": B * H * ceil(T / tile) overflows the league size");
  }
  return s;
}

// --- forward ----------------------------------------------------------------------------------------------------

// Steps 1-6 of README §2 for one (b, h, query tile).
struct ForwardOnlineSoftmax {
  View4 o;    // (B, T, H, D)
  View3 lse;  // (B, H, T)
  CView4 q;   // (B, T, H, D)
  CView4 k;   // (B, T, H, D)
  CView4 v;   // (B, T, H, D)
  float scale;
  Sizes n;
  int level;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int D = n.head_dim, tile = n.tile;
    const int league = team.league_rank();
    const int qt = n.num_tiles - 1 - league % n.num_tiles;  // the longest rows (most key tiles) start first
    const int b = league / n.num_tiles / n.heads, h = league / n.num_tiles % n.heads;
    const int q0 = qt * tile;
    const int rows = kc::min(tile, n.length - q0);

    ScratchMatrix q_tile(team.team_scratch(level), tile, D + 1);
    ScratchMatrix kv_tile(team.team_scratch(level), tile, D + 1);  // K for step 3, then V for step 5
    ScratchMatrix p_tile(team.team_scratch(level), tile, tile + 1);
    ScratchVector row_max(team.team_scratch(level), tile);
    ScratchVector row_sum(team.team_scratch(level), tile);
    ScratchVector rescale(team.team_scratch(level), tile);

    // 1. Load the query tile with the scale folded in; reset m, l and the output rows (the accumulator).
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows * D), [&](const int i) {
      const int r = i / D, d = i % D;
      q_tile(r, d) = scale * q(b, q0 + r, h, d);
      o(b, q0 + r, h, d) = 0.0f;
    });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows), [&](const int r) {
      row_max(r) = kNoScoreYet;
      row_sum(r) = 0.0f;
    });
    team.team_barrier();

    for (int kt = 0; kt <= qt; ++kt) {
      const int k0 = kt * tile;
      const int cols = kc::min(tile, n.length - k0);
      // Key column c is visible from query row r when k0 + c <= q0 + r: the first `visible(r)` columns.
      auto visible = [&](int r) { return kc::min(cols, q0 + r - k0 + 1); };

      // 2. Load the key tile (the value tile follows in step 4, into the same scratch).
      team_stage(
          team, cols, D, [&](int c, int d) { return k(b, k0 + c, h, d); },
          [&](int c, int d, float value) { kv_tile(c, d) = value; });
      team.team_barrier();

      // 3. Scores S = (scale Q) K^T (the masked ones are overwritten in step 4).
      team_product(
          team, n.math, rows, cols, D, [&](int r, int d) { return q_tile(r, d); },
          [&](int c, int d) { return kv_tile(c, d); }, [&](int r, int c, float dot) { p_tile(r, c) = dot; });
      team.team_barrier();

      // 2'. The key tile is no longer needed: load the value tile in its place, alongside step 4.
      team_stage(
          team, cols, D, [&](int c, int d) { return v(b, k0 + c, h, d); },
          [&](int c, int d, float value) { kv_tile(c, d) = value; });

      // 4. Online softmax: new row maximum, probabilities relative to it, rescaled running sum.
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows), [&](const int r) {
        const int end = visible(r);
        float m_new = row_max(r);
        for (int c = 0; c < end; ++c) m_new = kc::fmax(m_new, p_tile(r, c));
        float sum = 0.0f;
        for (int c = 0; c < end; ++c) {
          const float p = kc::exp(p_tile(r, c) - m_new);
          p_tile(r, c) = p;
          sum += p;
        }
        for (int c = end; c < cols; ++c) p_tile(r, c) = 0.0f;  // masked: no weight in step 5
        const float alpha = kc::exp(row_max(r) - m_new);
        row_sum(r) = alpha * row_sum(r) + sum;
        row_max(r) = m_new;
        rescale(r) = alpha;
      });
      team.team_barrier();

      // 5. Rescale the output accumulator and add P V.
      team_product(
          team, n.math, rows, D, cols, [&](int r, int c) { return p_tile(r, c); },
          [&](int d, int c) { return kv_tile(c, d); },
          [&](int r, int d, float pv) { o(b, q0 + r, h, d) = rescale(r) * o(b, q0 + r, h, d) + pv; });
      team.team_barrier();
    }

    // 6. Normalise by l and save L = m + log l.
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows * D), [&](const int i) {
      const int r = i / D, d = i % D;
      o(b, q0 + r, h, d) /= row_sum(r);
    });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows),
                         [&](const int r) { lse(b, h, q0 + r) = row_max(r) + kc::log(row_sum(r)); });
  }
};

// --- backward ---------------------------------------------------------------------------------------------------

// Loads the query-side tiles of query tile qt: scale Q, dO, lse and D.
KOKKOS_INLINE_FUNCTION void load_query_side(const Member& team, const ScratchMatrix& q_tile,
                                            const ScratchMatrix& do_tile, const ScratchVector& lse_tile,
                                            const ScratchVector& delta_tile, const CView4& q, const CView4& do_,
                                            const CView3& lse, const CView3& delta, float scale, int b, int h, int q0,
                                            int rows, int D) {
  team_stage(
      team, rows, D, [&](int r, int d) { return scale * q(b, q0 + r, h, d); },
      [&](int r, int d, float value) { q_tile(r, d) = value; });
  team_stage(
      team, rows, D, [&](int r, int d) { return do_(b, q0 + r, h, d); },
      [&](int r, int d, float value) { do_tile(r, d) = value; });
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows), [&](const int r) {
    lse_tile(r) = lse(b, h, q0 + r);
    delta_tile(r) = delta(b, h, q0 + r);
  });
}

KOKKOS_INLINE_FUNCTION void load_key_side(const Member& team, const ScratchMatrix& k_tile, const ScratchMatrix& v_tile,
                                          const CView4& k, const CView4& v, int b, int h, int k0, int cols, int D) {
  team_stage(
      team, cols, D, [&](int c, int d) { return k(b, k0 + c, h, d); },
      [&](int c, int d, float value) { k_tile(c, d) = value; });
  team_stage(
      team, cols, D, [&](int c, int d) { return v(b, k0 + c, h, d); },
      [&](int c, int d, float value) { v_tile(c, d) = value; });
}

// Steps 2-4 of README §3 for one (b, h, key tile): walk the query tiles at and below the diagonal, accumulate
// dV = P^T dO and dK = scale dS^T Q in the team's own rows of dk and dv.
struct BackwardKeyValue {
  View4 dk;      // (B, T, H, D)
  View4 dv;      // (B, T, H, D)
  CView4 do_;    // (B, T, H, D)
  CView3 lse;    // (B, H, T)
  CView3 delta;  // (B, H, T)
  CView4 q;      // (B, T, H, D)
  CView4 k;      // (B, T, H, D)
  CView4 v;      // (B, T, H, D)
  float scale;
  Sizes n;
  int level;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int D = n.head_dim, tile = n.tile;
    const int league = team.league_rank();
    const int kt = league % n.num_tiles;  // the first key tiles see the most query tiles and start first
    const int b = league / n.num_tiles / n.heads, h = league / n.num_tiles % n.heads;
    const int k0 = kt * tile;
    const int cols = kc::min(tile, n.length - k0);

    ScratchMatrix k_tile(team.team_scratch(level), tile, D + 1);
    ScratchMatrix v_tile(team.team_scratch(level), tile, D + 1);
    ScratchMatrix q_tile(team.team_scratch(level), tile, D + 1);
    ScratchMatrix do_tile(team.team_scratch(level), tile, D + 1);
    ScratchMatrix p_tile(team.team_scratch(level), tile, tile + 1);
    ScratchVector lse_tile(team.team_scratch(level), tile);
    ScratchVector delta_tile(team.team_scratch(level), tile);

    load_key_side(team, k_tile, v_tile, k, v, b, h, k0, cols, D);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, cols * D), [&](const int i) {
      const int c = i / D, d = i % D;
      dk(b, k0 + c, h, d) = 0.0f;
      dv(b, k0 + c, h, d) = 0.0f;
    });

    for (int qt = kt; qt < n.num_tiles; ++qt) {
      const int q0 = qt * tile;
      const int rows = kc::min(tile, n.length - q0);
      // Query row r sees key column c when q0 + r >= k0 + c.
      auto visible = [&](int r, int c) { return k0 + c <= q0 + r; };

      load_query_side(team, q_tile, do_tile, lse_tile, delta_tile, q, do_, lse, delta, scale, b, h, q0, rows, D);
      team.team_barrier();

      // 2. Recompute P = exp(scale Q K^T - L); masked pairs get P = 0 (and so dS = 0).
      team_product(
          team, n.math, rows, cols, D, [&](int r, int d) { return q_tile(r, d); },
          [&](int c, int d) { return k_tile(c, d); },
          [&](int r, int c, float dot) { p_tile(r, c) = visible(r, c) ? kc::exp(dot - lse_tile(r)) : 0.0f; });
      team.team_barrier();

      // 3. dV += P^T dO.
      team_product(
          team, n.math, cols, D, rows, [&](int c, int r) { return p_tile(r, c); },
          [&](int d, int r) { return do_tile(r, d); }, [&](int c, int d, float pg) { dv(b, k0 + c, h, d) += pg; });
      team.team_barrier();

      // 4a. dS = P * (dO V^T - D), in place of P (each entry is read and written by the thread that computes it).
      team_product(
          team, n.math, rows, cols, D, [&](int r, int d) { return do_tile(r, d); },
          [&](int c, int d) { return v_tile(c, d); },
          [&](int r, int c, float dp) { p_tile(r, c) = p_tile(r, c) * (dp - delta_tile(r)); });
      team.team_barrier();

      // 4b. dK += dS^T (scale Q).
      team_product(
          team, n.math, cols, D, rows, [&](int c, int r) { return p_tile(r, c); },
          [&](int d, int r) { return q_tile(r, d); }, [&](int c, int d, float dsq) { dk(b, k0 + c, h, d) += dsq; });
      team.team_barrier();
    }
  }
};

// Step 5 of README §3 for one (b, h, query tile): walk the key tiles up to the diagonal, accumulate dQ = scale dS K
// in the team's own rows of dq.
struct BackwardQuery {
  View4 dq;      // (B, T, H, D)
  CView4 do_;    // (B, T, H, D)
  CView3 lse;    // (B, H, T)
  CView3 delta;  // (B, H, T)
  CView4 q;      // (B, T, H, D)
  CView4 k;      // (B, T, H, D)
  CView4 v;      // (B, T, H, D)
  float scale;
  Sizes n;
  int level;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int D = n.head_dim, tile = n.tile;
    const int league = team.league_rank();
    const int qt = n.num_tiles - 1 - league % n.num_tiles;  // the longest rows start first
    const int b = league / n.num_tiles / n.heads, h = league / n.num_tiles % n.heads;
    const int q0 = qt * tile;
    const int rows = kc::min(tile, n.length - q0);

    ScratchMatrix q_tile(team.team_scratch(level), tile, D + 1);
    ScratchMatrix do_tile(team.team_scratch(level), tile, D + 1);
    ScratchMatrix k_tile(team.team_scratch(level), tile, D + 1);
    ScratchMatrix v_tile(team.team_scratch(level), tile, D + 1);
    ScratchMatrix ds_tile(team.team_scratch(level), tile, tile + 1);
    ScratchVector lse_tile(team.team_scratch(level), tile);
    ScratchVector delta_tile(team.team_scratch(level), tile);

    load_query_side(team, q_tile, do_tile, lse_tile, delta_tile, q, do_, lse, delta, scale, b, h, q0, rows, D);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows * D), [&](const int i) {
      const int r = i / D, d = i % D;
      dq(b, q0 + r, h, d) = 0.0f;
    });

    for (int kt = 0; kt <= qt; ++kt) {
      const int k0 = kt * tile;
      const int cols = kc::min(tile, n.length - k0);
      auto visible = [&](int r, int c) { return k0 + c <= q0 + r; };

      load_key_side(team, k_tile, v_tile, k, v, b, h, k0, cols, D);
      team.team_barrier();

      // 5a. P recomputed from scale Q K^T and L (0 where masked), then dS = P * (dO V^T - D) in place.
      team_product(
          team, n.math, rows, cols, D, [&](int r, int d) { return q_tile(r, d); },
          [&](int c, int d) { return k_tile(c, d); },
          [&](int r, int c, float dot) { ds_tile(r, c) = visible(r, c) ? kc::exp(dot - lse_tile(r)) : 0.0f; });
      team.team_barrier();
      team_product(
          team, n.math, rows, cols, D, [&](int r, int d) { return do_tile(r, d); },
          [&](int c, int d) { return v_tile(c, d); },
          [&](int r, int c, float dp) { ds_tile(r, c) = ds_tile(r, c) * (dp - delta_tile(r)); });
      team.team_barrier();

      // 5b. dQ += scale dS K.
      team_product(
          team, n.math, rows, D, cols, [&](int r, int c) { return ds_tile(r, c); },
          [&](int d, int c) { return k_tile(c, d); },
          [&](int r, int d, float dsk) { dq(b, q0 + r, h, d) += scale * dsk; });
      team.team_barrier();
    }
  }
};

}  // namespace

TilePlan attention_tiled_fwd_plan(int head_dim, int requested_tile) {
  return make_plan(head_dim, requested_tile, fwd_scratch_bytes);
}

TilePlan attention_tiled_bwd_plan(int head_dim, int requested_tile) {
  return make_plan(head_dim, requested_tile, bwd_scratch_bytes);
}

float attention_default_scale(int head_dim) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
}

void attention_tiled_fwd(const Exec& exec, View4 o, View3 lse, CView4 q, CView4 k, CView4 v, float scale,
                         int requested_tile) {
  const TilePlan plan = attention_tiled_fwd_plan(static_cast<int>(q.extent(3)), requested_tile);
  const Sizes n = checked_sizes(q, k, v, o, lse, plan.tile, "attention_tiled_fwd");
  const int league = n.batch * n.heads * n.num_tiles;
  if (league == 0) return;
  Kokkos::parallel_for(
      "selectiv::attention::tiled_fwd::online_softmax",
      Policy(exec, league, Kokkos::AUTO).set_scratch_size(plan.scratch_level, Kokkos::PerTeam(plan.scratch_bytes)),
      ForwardOnlineSoftmax{o, lse, q, k, v, scale, n, plan.scratch_level});
}

void attention_tiled_bwd(const Exec& exec, View4 dq, View4 dk, View4 dv, CView4 do_, CView4 o, CView3 lse, CView4 q,
                         CView4 k, CView4 v, float scale, int requested_tile) {
  const TilePlan plan = attention_tiled_bwd_plan(static_cast<int>(q.extent(3)), requested_tile);
  const Sizes n = checked_sizes(q, k, v, o, lse, plan.tile, "attention_tiled_bwd");
  require_shape_of_q(do_, q, "attention_tiled_bwd", "do_");
  require_shape_of_q(dq, q, "attention_tiled_bwd", "dq");
  require_shape_of_q(dk, q, "attention_tiled_bwd", "dk");
  require_shape_of_q(dv, q, "attention_tiled_bwd", "dv");
  const int league = n.batch * n.heads * n.num_tiles;
  if (league == 0) return;

  const View3 delta = output_gradient_dots(exec, "selectiv::attention::row_dot", do_, o);
  Kokkos::parallel_for(
      "selectiv::attention::tiled_bwd::dk_dv",
      Policy(exec, league, Kokkos::AUTO).set_scratch_size(plan.scratch_level, Kokkos::PerTeam(plan.scratch_bytes)),
      BackwardKeyValue{dk, dv, do_, lse, delta, q, k, v, scale, n, plan.scratch_level});
  Kokkos::parallel_for(
      "selectiv::attention::tiled_bwd::dq",
      Policy(exec, league, Kokkos::AUTO).set_scratch_size(plan.scratch_level, Kokkos::PerTeam(plan.scratch_bytes)),
      BackwardQuery{dq, do_, lse, delta, q, k, v, scale, n, plan.scratch_level});
}

}  // namespace selectiv::attention
