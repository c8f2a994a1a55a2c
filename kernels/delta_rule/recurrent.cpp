// SPDX-License-Identifier: BSD-3-Clause
// Token-by-token Kokkos kernels of the delta rule: one thread per state column forward; backward one thread per
// state column too, in teams of kColumnTile columns that sum their columns' shares of dq, dk, dbeta, dg after each
// recomputed stretch of kCheckpointEvery tokens (README.md §2).
#include "kernels/delta_rule/recurrent.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/workspace.hpp"

namespace selectiv::delta_rule {
namespace {

using TeamPolicy = Kokkos::TeamPolicy<Exec>;
using Member = TeamPolicy::member_type;

struct Sizes {
  int B = 0, T = 0, H = 0, K = 0, V = 0, n = 1, NC = 0;
};

// Forward: thread i owns column c of the state of (b, h) and carries it through all tokens in a register array.
struct ColumnForward {
  View4 o, ht, checkpoints;
  CView4 q, k, v;
  CView3 beta, g;
  CView4 h0;
  float scale;
  Sizes s;
  bool has_g, has_h0, has_ht;

  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const int c = i % s.V, bh = i / s.V, h = bh % s.H, b = bh / s.H;
    float col[kMaxKeyDim];
    for (int e = 0; e < s.K; ++e) col[e] = has_h0 ? h0(b, h, e, c) : 0.0f;
    for (int t = 0; t < s.T; ++t) {
      if (t % kCheckpointEvery == 0) {
        const int row = (t / kCheckpointEvery) * s.K;
        for (int e = 0; e < s.K; ++e) checkpoints(b, h, row + e, c) = col[e];
      }
      if (has_g) {
        const float decay = kc::exp(g(b, t, h));
        for (int e = 0; e < s.K; ++e) col[e] *= decay;
      }
      for (int j = 0; j < s.n; ++j) {
        const int r = t * s.n + j;
        float dot = 0.0f;
        for (int e = 0; e < s.K; ++e) dot += col[e] * k(b, r, h, e);
        const float update = beta(b, r, h) * (v(b, r, h, c) - dot);
        for (int e = 0; e < s.K; ++e) col[e] += k(b, r, h, e) * update;
      }
      float out = 0.0f;
      for (int e = 0; e < s.K; ++e) out += col[e] * q(b, t, h, e);
      o(b, t, h, c) = scale * out;
    }
    if (has_ht)
      for (int e = 0; e < s.K; ++e) ht(b, h, e, c) = col[e];
  }
};

// Backward. The recurrence of dS = dL/dS is column-local like the forward's (README.md §1: every step only mixes
// the rows of one column); only the outputs dq, dk, dbeta and dg are sums over columns. So one team owns a tile of
// kColumnTile value columns of one (b, h), one column per thread, and walks the stretches of kCheckpointEvery
// tokens from last to first. For each stretch:
//   1. per column, no communication: recompute the pre-update states P of the stretch from the checkpoint into
//      `work` (the column of the thread), then walk the stretch backwards with the dS column in registers,
//      writing dv directly and each column's share of dq, dk, dbeta, dg into the workspaces (the dk share
//      overwrites the P it was computed from);
//   2. after a barrier, the team sums the shares over its columns (fixed order) into the tile's partial outputs.
// With more than one tile per (b, h), a second kernel adds the tiles' partials (fixed order).
constexpr int kColumnTile = 32;

struct TileBackward {
  View4 dq_part, dk_part;     // (tiles * B, T, H, K), (tiles * B, T * n, H, K): this tile's share of dq, dk
  View3 dbeta_part, dg_part;  // (tiles * B, T * n, H), (tiles * B, T, H)
  View4 dv;                   // (B, T * n, H, V)
  View4 dh0;                  // (B, H, K, V) or empty
  CView4 checkpoints, do_, dht, q, k, v;
  CView3 beta, g;
  View4 work;         // (B * H, kCheckpointEvery * n, K, V): pre-update states, then each column's dk share
  View4 dq_share;     // (B * H, kCheckpointEvery, K, V): each column's dq share
  View3 dbeta_share;  // (B * H, kCheckpointEvery * n, V)
  View3 dg_share;     // (B * H, kCheckpointEvery, V)
  View3 dS;           // (B * H, K, V): dL/dS at the start of the stretch being walked, per column
  float scale;
  Sizes s;
  int tiles;
  bool has_g, has_dht, has_dh0;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int tile = team.league_rank() % tiles, bh = team.league_rank() / tiles;
    const int b = bh / s.H, h = bh % s.H;
    const int c0 = tile * kColumnTile;
    const int cols = s.V - c0 < kColumnTile ? s.V - c0 : kColumnTile;
    const int part = tile * s.B + b;

    for (int stretch = s.NC - 1; stretch >= 0; --stretch) {
      const int t0 = stretch * kCheckpointEvery;
      const int t1 = t0 + kCheckpointEvery < s.T ? t0 + kCheckpointEvery : s.T;
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, cols),
                           [&](int i) { walk_column(b, h, bh, c0 + i, stretch, t0, t1); });
      team.team_barrier();
      sum_shares(team, b, h, bh, part, c0, cols, t0, t1);
      team.team_barrier();
    }
  }

  // Step 1 for column c of (b, h) over tokens t0 .. t1 - 1.
  KOKKOS_INLINE_FUNCTION void walk_column(int b, int h, int bh, int c, int stretch, int t0, int t1) const {
    const int K = s.K, n = s.n;
    float col[kMaxKeyDim];
    for (int e = 0; e < K; ++e) col[e] = checkpoints(b, h, stretch * K + e, c);
    for (int t = t0; t < t1; ++t) {
      if (has_g) {
        const float decay = kc::exp(g(b, t, h));
        for (int e = 0; e < K; ++e) col[e] *= decay;
      }
      for (int j = 0; j < n; ++j) {
        const int r = t * n + j, slot = (t - t0) * n + j;
        float dot = 0.0f;
        for (int e = 0; e < K; ++e) {
          work(bh, slot, e, c) = col[e];
          dot += col[e] * k(b, r, h, e);
        }
        const float update = beta(b, r, h) * (v(b, r, h, c) - dot);
        for (int e = 0; e < K; ++e) col[e] += k(b, r, h, e) * update;
      }
    }
    float ds[kMaxKeyDim];
    const bool first_walked = stretch == s.NC - 1;
    for (int e = 0; e < K; ++e) ds[e] = first_walked ? (has_dht ? dht(b, h, e, c) : 0.0f) : dS(bh, e, c);

    for (int t = t1 - 1; t >= t0; --t) {
      const int token_slot = t - t0;
      {  // read-out o_t = scale S_t^T q_t, S_t = P + k_r (beta_r u)^T with P the last sub-step's pre-update state
        const int r = t * n + n - 1, slot = token_slot * n + n - 1;
        float dot = 0.0f;
        for (int e = 0; e < K; ++e) dot += work(bh, slot, e, c) * k(b, r, h, e);
        const float beta_u = beta(b, r, h) * (v(b, r, h, c) - dot);
        const float scaled_do = scale * do_(b, t, h, c);
        for (int e = 0; e < K; ++e) {
          dq_share(bh, token_slot, e, c) = (work(bh, slot, e, c) + k(b, r, h, e) * beta_u) * scaled_do;
          ds[e] += q(b, t, h, e) * scaled_do;
        }
      }
      for (int j = n - 1; j >= 0; --j) {  // sub-steps in reverse: S = P + k (beta u)^T, u = v - P^T k
        const int r = t * n + j, slot = token_slot * n + j;
        const float bt = beta(b, r, h);
        float dot = 0.0f, dot_ds = 0.0f;
        for (int e = 0; e < K; ++e) {
          const float ke = k(b, r, h, e);
          dot += work(bh, slot, e, c) * ke;
          dot_ds += ds[e] * ke;
        }
        const float u = v(b, r, h, c) - dot;
        const float dv_c = bt * dot_ds;  // dL/d(beta u) = dS^T k
        dv(b, r, h, c) = dv_c;
        dbeta_share(bh, slot, c) = u * dot_ds;
        float decay_dot = 0.0f;  // <dL/dP, P>, dg's share when P is the decayed state (j = 0)
        for (int e = 0; e < K; ++e) {
          const float pre = work(bh, slot, e, c);
          const float ke = k(b, r, h, e);
          work(bh, slot, e, c) = bt * ds[e] * u - pre * dv_c;  // dk's share
          ds[e] -= ke * dv_c;
          decay_dot += ds[e] * pre;
        }
        if (j == 0 && has_g) {
          dg_share(bh, token_slot, c) = decay_dot;
          const float decay = kc::exp(g(b, t, h));
          for (int e = 0; e < K; ++e) ds[e] *= decay;
        }
      }
    }
    for (int e = 0; e < K; ++e) dS(bh, e, c) = ds[e];
    if (stretch == 0 && has_dh0)
      for (int e = 0; e < K; ++e) dh0(b, h, e, c) = ds[e];
  }

  // Step 2: this tile's columns' shares summed in column order.
  KOKKOS_INLINE_FUNCTION void sum_shares(const Member& team, int b, int h, int bh, int part, int c0, int cols, int t0,
                                         int t1) const {
    const int K = s.K, n = s.n, tokens = t1 - t0;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, tokens * n * K), [&](int i) {
      const int slot = i / K, e = i % K;
      float acc = 0.0f;
      for (int c = c0; c < c0 + cols; ++c) acc += work(bh, slot, e, c);
      dk_part(part, t0 * n + slot, h, e) = acc;
    });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, tokens * K), [&](int i) {
      const int token_slot = i / K, e = i % K;
      float acc = 0.0f;
      for (int c = c0; c < c0 + cols; ++c) acc += dq_share(bh, token_slot, e, c);
      dq_part(part, t0 + token_slot, h, e) = acc;
    });
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, tokens * n), [&](int slot) {
      float acc = 0.0f;
      for (int c = c0; c < c0 + cols; ++c) acc += dbeta_share(bh, slot, c);
      dbeta_part(part, t0 * n + slot, h) = acc;
    });
    if (has_g) {
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, tokens), [&](int token_slot) {
        float acc = 0.0f;
        for (int c = c0; c < c0 + cols; ++c) acc += dg_share(bh, token_slot, c);
        dg_part(part, t0 + token_slot, h) = acc;
      });
    }
  }
};

// out(b, ...) = sum over tiles of part(tile * B + b, ...), tiles in order; out and part flattened to (B, rest).
struct SumTiles {
  float* out;
  const float* part;
  std::size_t per_batch_row;  // elements of out per b
  int B, tiles;

  KOKKOS_INLINE_FUNCTION void operator()(std::size_t i) const {
    const std::size_t rows = static_cast<std::size_t>(B) * per_batch_row;
    float acc = 0.0f;
    for (int tile = 0; tile < tiles; ++tile) acc += part[tile * rows + i];
    out[i] = acc;
  }
};

void require_extents(const CView4& x, int e0, int e1, int e2, int e3, const char* name) {
  if (static_cast<int>(x.extent(0)) != e0 || static_cast<int>(x.extent(1)) != e1 ||
      static_cast<int>(x.extent(2)) != e2 || static_cast<int>(x.extent(3)) != e3)
    throw std::invalid_argument(std::string("selectiv::delta_rule: wrong extents of ") + name);
}
void require_extents(const CView3& x, int e0, int e1, int e2, const char* name) {
  if (static_cast<int>(x.extent(0)) != e0 || static_cast<int>(x.extent(1)) != e1 || static_cast<int>(x.extent(2)) != e2)
    throw std::invalid_argument(std::string("selectiv::delta_rule: wrong extents of ") + name);
}

// Sizes from q (B, T, H, K), v (.., V) and k (B, T * n, ..); checks k, v, beta, g and the checkpoints.
Sizes sizes_of(const CView4& q, const CView4& k, const CView4& v, const CView3& beta, const CView3& g,
               const CView4& checkpoints) {
  Sizes s;
  s.B = static_cast<int>(q.extent(0));
  s.T = static_cast<int>(q.extent(1));
  s.H = static_cast<int>(q.extent(2));
  s.K = static_cast<int>(q.extent(3));
  s.V = static_cast<int>(v.extent(3));
  s.NC = delta_num_checkpoints(s.T);
  if (s.T < 1 || k.extent(1) % s.T != 0) throw std::invalid_argument("selectiv::delta_rule: k rows not T * n");
  s.n = static_cast<int>(k.extent(1)) / s.T;
  if (s.K > kMaxKeyDim) throw std::invalid_argument("selectiv::delta_rule: key dim above kMaxKeyDim");
  require_extents(k, s.B, s.T * s.n, s.H, s.K, "k");
  require_extents(v, s.B, s.T * s.n, s.H, s.V, "v");
  require_extents(beta, s.B, s.T * s.n, s.H, "beta");
  if (g.data() != nullptr) require_extents(g, s.B, s.T, s.H, "g");
  require_extents(checkpoints, s.B, s.H, s.NC * s.K, s.V, "checkpoints");
  return s;
}

}  // namespace

int delta_num_checkpoints(int T) { return (T + kCheckpointEvery - 1) / kCheckpointEvery; }

View4 delta_allocate_checkpoints(int B, int T, int H, int K, int V) {
  return View4(Kokkos::view_alloc(Kokkos::WithoutInitializing, "selectiv::delta_rule::checkpoints"), B, H,
               delta_num_checkpoints(T) * K, V);
}

void delta_recurrent_fwd(const Exec& exec, View4 o, View4 ht, View4 checkpoints, CView4 q, CView4 k, CView4 v,
                         CView3 beta, CView3 g, CView4 h0, float scale) {
  const Sizes s = sizes_of(q, k, v, beta, g, checkpoints);
  const bool has_g = g.data() != nullptr, has_h0 = h0.data() != nullptr, has_ht = ht.data() != nullptr;
  require_extents(o, s.B, s.T, s.H, s.V, "o");
  if (has_h0) require_extents(h0, s.B, s.H, s.K, s.V, "h0");
  if (has_ht) require_extents(ht, s.B, s.H, s.K, s.V, "ht");
  Kokkos::parallel_for("selectiv::delta_rule::recurrent_fwd::columns",
                       Kokkos::RangePolicy<Exec>(exec, 0, s.B * s.H * s.V),
                       ColumnForward{o, ht, checkpoints, q, k, v, beta, g, h0, scale, s, has_g, has_h0, has_ht});
}

void delta_recurrent_bwd(const Exec& exec, View4 dq, View4 dk, View4 dv, View3 dbeta, View3 dg, View4 dh0,
                         CView4 checkpoints, CView4 do_, CView4 dht, CView4 q, CView4 k, CView4 v, CView3 beta,
                         CView3 g, float scale) {
  const Sizes s = sizes_of(q, k, v, beta, g, checkpoints);
  const bool has_g = g.data() != nullptr, has_dht = dht.data() != nullptr, has_dh0 = dh0.data() != nullptr;
  if (has_g != (dg.data() != nullptr)) throw std::invalid_argument("selectiv::delta_rule: dg must match g");
  require_extents(dq, s.B, s.T, s.H, s.K, "dq");
  require_extents(dk, s.B, s.T * s.n, s.H, s.K, "dk");
  require_extents(dv, s.B, s.T * s.n, s.H, s.V, "dv");
  require_extents(dbeta, s.B, s.T * s.n, s.H, "dbeta");
  require_extents(do_, s.B, s.T, s.H, s.V, "do");
  if (has_g) require_extents(dg, s.B, s.T, s.H, "dg");
  if (has_dht) require_extents(dht, s.B, s.H, s.K, s.V, "dht");
  if (has_dh0) require_extents(dh0, s.B, s.H, s.K, s.V, "dh0");
  const int tiles = (s.V + kColumnTile - 1) / kColumnTile, R = s.T * s.n;
  const int BH = s.B * s.H;
  View4 work = workspace<View4>("selectiv::delta_rule::work", BH, kCheckpointEvery * s.n, s.K, s.V);
  View4 dq_share = workspace<View4>("selectiv::delta_rule::dq_share", BH, kCheckpointEvery, s.K, s.V);
  View3 dbeta_share = workspace<View3>("selectiv::delta_rule::dbeta_share", BH, kCheckpointEvery * s.n, s.V);
  View3 dg_share = workspace<View3>("selectiv::delta_rule::dg_share", BH, has_g ? kCheckpointEvery : 0, s.V);
  View3 dS = workspace<View3>("selectiv::delta_rule::dstate", BH, s.K, s.V);
  // One tile writes the outputs directly; several write partials that SumTiles adds.
  const bool direct = tiles == 1;
  View4 dq_part = direct ? dq : workspace<View4>("selectiv::delta_rule::dq_part", tiles * s.B, s.T, s.H, s.K);
  View4 dk_part = direct ? dk : workspace<View4>("selectiv::delta_rule::dk_part", tiles * s.B, R, s.H, s.K);
  View3 dbeta_part = direct ? dbeta : workspace<View3>("selectiv::delta_rule::dbeta_part", tiles * s.B, R, s.H);
  View3 dg_part = direct || !has_g ? dg : workspace<View3>("selectiv::delta_rule::dg_part", tiles * s.B, s.T, s.H);

  const TileBackward functor{dq_part, dk_part, dbeta_part, dg_part, dv,    dh0,     checkpoints, do_,         dht,
                             q,       k,       v,          beta,    g,     work,    dq_share,    dbeta_share, dg_share,
                             dS,      scale,   s,          tiles,   has_g, has_dht, has_dh0};
  const int team_size = std::min(kColumnTile, TeamPolicy(exec, 1, 1).team_size_max(functor, Kokkos::ParallelForTag()));
  Kokkos::parallel_for("selectiv::delta_rule::recurrent_bwd::column_tiles", TeamPolicy(exec, BH * tiles, team_size),
                       functor);
  if (!direct) {
    auto sum = [&](const char* label, float* out, const float* part, std::size_t per_batch_row) {
      Kokkos::parallel_for(label, Kokkos::RangePolicy<Exec>(exec, 0, s.B * per_batch_row),
                           SumTiles{out, part, per_batch_row, s.B, tiles});
    };
    sum("selectiv::delta_rule::recurrent_bwd::sum_dq", dq.data(), dq_part.data(),
        static_cast<std::size_t>(s.T) * s.H * s.K);
    sum("selectiv::delta_rule::recurrent_bwd::sum_dk", dk.data(), dk_part.data(),
        static_cast<std::size_t>(R) * s.H * s.K);
    sum("selectiv::delta_rule::recurrent_bwd::sum_dbeta", dbeta.data(), dbeta_part.data(),
        static_cast<std::size_t>(R) * s.H);
    if (has_g)
      sum("selectiv::delta_rule::recurrent_bwd::sum_dg", dg.data(), dg_part.data(),
          static_cast<std::size_t>(s.T) * s.H);
  }
}

}  // namespace selectiv::delta_rule
