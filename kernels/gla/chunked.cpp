// SPDX-License-Identifier: BSD-3-Clause
// Chunkwise-parallel GLA forward and backward: one functor per numbered step of README.md §2-§3, then the two
// orchestrators. Chunk-level work runs one team per (b, h, chunk); the sequential state passes run one team per
// (b, h, tile of 32 value columns), a thread per state entry.
#include "kernels/gla/chunked.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"

namespace selectiv::gla {
namespace {

using TeamPolicy = Kokkos::TeamPolicy<Exec>;
using Member = TeamPolicy::member_type;
// Chunk-local cumulative log-gates b, kept in fp64 so that differences b_r - b_s stay exact (README.md §2).
using GateView = Kokkos::View<double****, Kokkos::LayoutRight, DeviceMem>;
using CGateView = Kokkos::View<const double****, Kokkos::LayoutRight, DeviceMem>;

constexpr int kValueTile = 32;

struct Sizes {
  int B, T, H, K, V, NT;
};

// One chunk of one (b, h): tokens t0 .. t0 + len - 1.
struct Chunk {
  int b, h, n, t0, len;
  KOKKOS_INLINE_FUNCTION int last() const { return t0 + len - 1; }
};

KOKKOS_INLINE_FUNCTION int chunk_start(int n) { return n * kChunk; }
KOKKOS_INLINE_FUNCTION int chunk_length(int n, int T) {
  const int rest = T - chunk_start(n);
  return rest < kChunk ? rest : kChunk;
}

// League rank = (b * H + h) * NT + n.
KOKKOS_INLINE_FUNCTION Chunk chunk_of(int league_rank, const Sizes& s) {
  Chunk c;
  c.n = league_rank % s.NT;
  const int bh = league_rank / s.NT;
  c.h = bh % s.H;
  c.b = bh / s.H;
  c.t0 = chunk_start(c.n);
  c.len = chunk_length(c.n, s.T);
  return c;
}

// Flat index = ((b * NT + n) * H + h) * K + k, for the per-(chunk, key channel) sequential steps.
struct ChunkChannel {
  int b, n, h, k;
};
KOKKOS_INLINE_FUNCTION ChunkChannel chunk_channel_of(int i, const Sizes& s) {
  ChunkChannel c;
  c.k = i % s.K;
  int rest = i / s.K;
  c.h = rest % s.H;
  rest /= s.H;
  c.n = rest % s.NT;
  c.b = rest / s.NT;
  return c;
}

KOKKOS_INLINE_FUNCTION float exp_of(double x) { return kc::exp(static_cast<float>(x)); }

// ---- forward ---------------------------------------------------------------------------------------------------

// Step 1 (also backward step 0): b_r = sum_{s<=r} g_s within the chunk, q^_r = q_r * e^{b_r}, k^_s = k_s * e^{b_L - b_s}.
struct GateCumsum {
  GateView gate_cumsum;  // (B, T, H, K)
  View4 q_decayed;       // (B, T, H, K)
  View4 k_decayed;       // (B, T, H, K)
  CView4 q, k, g;        // (B, T, H, K)
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const ChunkChannel c = chunk_channel_of(i, s);
    const int t0 = chunk_start(c.n), t1 = t0 + chunk_length(c.n, s.T);
    double acc = 0.0;
    for (int t = t0; t < t1; ++t) {
      acc += g(c.b, t, c.h, c.k);
      gate_cumsum(c.b, t, c.h, c.k) = acc;
      q_decayed(c.b, t, c.h, c.k) = q(c.b, t, c.h, c.k) * exp_of(acc);
    }
    for (int t = t0; t < t1; ++t)
      k_decayed(c.b, t, c.h, c.k) = k(c.b, t, c.h, c.k) * exp_of(acc - gate_cumsum(c.b, t, c.h, c.k));
  }
};

// Step 2: U_n = k^^T V, the chunk's own contribution to the next state, written into states[n].
struct ChunkLocalStates {
  View4 states;      // (B, H, NT * K, V)
  CView4 k_decayed;  // (B, T, H, K)
  CView4 v;          // (B, T, H, V)
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const Chunk c = chunk_of(team.league_rank(), s);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, s.K * s.V), [&](int e) {
      const int kk = e / s.V, vv = e % s.V;
      float acc = 0.0f;
      for (int r = 0; r < c.len; ++r) acc += k_decayed(c.b, c.t0 + r, c.h, kk) * v(c.b, c.t0 + r, c.h, vv);
      states(c.b, c.h, c.n * s.K + kk, vv) = acc;
    });
  }
};

// Step 3: S = h0; for each chunk: states[n] <- S (was U_n); S <- diag(e^{b_L}) S + U_n. Then ht = S.
struct StatePassing {
  View4 states;            // (B, H, NT * K, V)
  View4 ht;                // (B, H, K, V) or empty
  CGateView gate_cumsum;   // (B, T, H, K)
  CView4 h0;               // (B, H, K, V) or empty
  bool has_h0, has_ht;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int tiles = (s.V + kValueTile - 1) / kValueTile;
    const int tile = team.league_rank() % tiles, bh = team.league_rank() / tiles;
    const int b = bh / s.H, h = bh % s.H;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, s.K * kValueTile), [&](int e) {
      const int kk = e / kValueTile, vv = tile * kValueTile + e % kValueTile;
      if (vv >= s.V) return;
      float state = has_h0 ? h0(b, h, kk, vv) : 0.0f;
      for (int n = 0; n < s.NT; ++n) {
        const int last = chunk_start(n) + chunk_length(n, s.T) - 1;
        const float decay = exp_of(gate_cumsum(b, last, h, kk));
        const float local = states(b, h, n * s.K + kk, vv);
        states(b, h, n * s.K + kk, vv) = state;
        state = decay * state + local;
      }
      if (has_ht) ht(b, h, kk, vv) = state;
    });
  }
};

// Step 4: A_rs = scale * sum_k q_rk k_sk e^{b_rk - b_sk} for s <= r (0 above the diagonal), element-wise in fp32.
struct IntraScores {
  View4 scores;           // (B, T, H, C)
  CGateView gate_cumsum;  // (B, T, H, K)
  CView4 q, k;            // (B, T, H, K)
  float scale;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const Chunk c = chunk_of(team.league_rank(), s);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.len * kChunk), [&](int e) {
      const int r = e / kChunk, col = e % kChunk;
      const int t = c.t0 + r, ts = c.t0 + col;
      float acc = 0.0f;
      if (col <= r) {
        for (int kk = 0; kk < s.K; ++kk)
          acc += q(c.b, t, c.h, kk) * k(c.b, ts, c.h, kk) *
                 exp_of(gate_cumsum(c.b, t, c.h, kk) - gate_cumsum(c.b, ts, c.h, kk));
        acc *= scale;
      }
      scores(c.b, t, c.h, col) = acc;
    });
  }
};

// Step 5: o_r = scale * q^_r S_[n] + sum_{s<=r} A_rs v_s.
struct ChunkOutput {
  View4 o;           // (B, T, H, V)
  CView4 states;     // (B, H, NT * K, V)
  CView4 scores;     // (B, T, H, C)
  CView4 q_decayed;  // (B, T, H, K)
  CView4 v;          // (B, T, H, V)
  float scale;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const Chunk c = chunk_of(team.league_rank(), s);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.len * s.V), [&](int e) {
      const int r = e / s.V, vv = e % s.V;
      const int t = c.t0 + r;
      float inter = 0.0f;
      for (int kk = 0; kk < s.K; ++kk) inter += q_decayed(c.b, t, c.h, kk) * states(c.b, c.h, c.n * s.K + kk, vv);
      float intra = 0.0f;
      for (int col = 0; col <= r; ++col) intra += scores(c.b, t, c.h, col) * v(c.b, c.t0 + col, c.h, vv);
      o(c.b, t, c.h, vv) = scale * inter + intra;
    });
  }
};

// ---- backward --------------------------------------------------------------------------------------------------

// Step 1: W_n = scale * q^^T dO, the gradient that chunk n's outputs send to S_[n], written into dstates[n].
struct ChunkLocalDStates {
  View4 dstates;     // (B, H, NT * K, V)
  CView4 q_decayed;  // (B, T, H, K)
  CView4 do_;        // (B, T, H, V)
  float scale;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const Chunk c = chunk_of(team.league_rank(), s);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, s.K * s.V), [&](int e) {
      const int kk = e / s.V, vv = e % s.V;
      float acc = 0.0f;
      for (int r = 0; r < c.len; ++r) acc += q_decayed(c.b, c.t0 + r, c.h, kk) * do_(c.b, c.t0 + r, c.h, vv);
      dstates(c.b, c.h, c.n * s.K + kk, vv) = scale * acc;
    });
  }
};

// Step 2: dS = dht; for n = NT-1 .. 0: dstates[n] <- dS (was W_n); dS <- diag(e^{b_L}) dS + W_n. Then dh0 = dS.
struct DStatePassing {
  View4 dstates;          // (B, H, NT * K, V)
  View4 dh0;              // (B, H, K, V) or empty
  CGateView gate_cumsum;  // (B, T, H, K)
  CView4 dht;             // (B, H, K, V) or empty
  bool has_dht, has_dh0;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int tiles = (s.V + kValueTile - 1) / kValueTile;
    const int tile = team.league_rank() % tiles, bh = team.league_rank() / tiles;
    const int b = bh / s.H, h = bh % s.H;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, s.K * kValueTile), [&](int e) {
      const int kk = e / kValueTile, vv = tile * kValueTile + e % kValueTile;
      if (vv >= s.V) return;
      float grad = has_dht ? dht(b, h, kk, vv) : 0.0f;
      for (int n = s.NT - 1; n >= 0; --n) {
        const int last = chunk_start(n) + chunk_length(n, s.T) - 1;
        const float decay = exp_of(gate_cumsum(b, last, h, kk));
        const float local = dstates(b, h, n * s.K + kk, vv);
        dstates(b, h, n * s.K + kk, vv) = grad;
        grad = decay * grad + local;
      }
      if (has_dh0) dh0(b, h, kk, vv) = grad;
    });
  }
};

// Step 3: dA_rs = do_r . v_s for s <= r, 0 above the diagonal.
struct DScores {
  View4 dscores;  // (B, T, H, C)
  CView4 do_, v;  // (B, T, H, V)
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const Chunk c = chunk_of(team.league_rank(), s);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.len * kChunk), [&](int e) {
      const int r = e / kChunk, col = e % kChunk;
      const int t = c.t0 + r, ts = c.t0 + col;
      float acc = 0.0f;
      if (col <= r)
        for (int vv = 0; vv < s.V; ++vv) acc += do_(c.b, t, c.h, vv) * v(c.b, ts, c.h, vv);
      dscores(c.b, t, c.h, col) = acc;
    });
  }
};

// Step 4: dv_s = sum_{r>=s} A_rs do_r + dS'^T k^_s, with dS' = dstates[n] the gradient at the chunk's end.
struct DValues {
  View4 dv;          // (B, T, H, V)
  CView4 dstates;    // (B, H, NT * K, V)
  CView4 scores;     // (B, T, H, C)
  CView4 k_decayed;  // (B, T, H, K)
  CView4 do_;        // (B, T, H, V)
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const Chunk c = chunk_of(team.league_rank(), s);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.len * s.V), [&](int e) {
      const int col = e / s.V, vv = e % s.V;
      const int t = c.t0 + col;
      float intra = 0.0f;
      for (int r = col; r < c.len; ++r) intra += scores(c.b, c.t0 + r, c.h, col) * do_(c.b, c.t0 + r, c.h, vv);
      float inter = 0.0f;
      for (int kk = 0; kk < s.K; ++kk) inter += k_decayed(c.b, t, c.h, kk) * dstates(c.b, c.h, c.n * s.K + kk, vv);
      dv(c.b, t, c.h, vv) = intra + inter;
    });
  }
};

// Step 5: the inter-chunk parts dq = scale e^{b_r} (S_[n] do_r), dk = e^{b_L - b_s} (dS' v_s); they start
// dg (w = q * dq_inter) and z = k * dk_inter.
struct DQKInter {
  View4 dq, dk, dg;       // (B, T, H, K)
  View4 z;                // (B, T, H, K)
  CView4 states;          // (B, H, NT * K, V)
  CView4 dstates;         // (B, H, NT * K, V)
  CGateView gate_cumsum;  // (B, T, H, K)
  CView4 q, k;            // (B, T, H, K)
  CView4 v, do_;          // (B, T, H, V)
  float scale;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const Chunk c = chunk_of(team.league_rank(), s);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.len * s.K), [&](int e) {
      const int r = e / s.K, kk = e % s.K;
      const int t = c.t0 + r, row = c.n * s.K + kk;
      float state_do = 0.0f, dstate_v = 0.0f;
      for (int vv = 0; vv < s.V; ++vv) {
        state_do += states(c.b, c.h, row, vv) * do_(c.b, t, c.h, vv);
        dstate_v += dstates(c.b, c.h, row, vv) * v(c.b, t, c.h, vv);
      }
      const double b_r = gate_cumsum(c.b, t, c.h, kk);
      const float dq_inter = scale * exp_of(b_r) * state_do;
      const float dk_inter = exp_of(gate_cumsum(c.b, c.last(), c.h, kk) - b_r) * dstate_v;
      dq(c.b, t, c.h, kk) = dq_inter;
      dk(c.b, t, c.h, kk) = dk_inter;
      dg(c.b, t, c.h, kk) = q(c.b, t, c.h, kk) * dq_inter;
      z(c.b, t, c.h, kk) = k(c.b, t, c.h, kk) * dk_inter;
    });
  }
};

// Step 6: the intra-chunk parts. Strict sums dq_r += scale sum_{s<r} dA_rs k_s e^{b_r - b_s} and
// dk_s += scale sum_{r>s} dA_rs q_r e^{b_r - b_s}, the diagonal scale dA_rr (k_r, q_r), and w += q dq_strict -
// k dk_strict (the diagonal terms cancel exactly in w, so they are left out of it).
struct DQKIntra {
  View4 dq, dk, dg;       // (B, T, H, K)
  CView4 dscores;         // (B, T, H, C)
  CGateView gate_cumsum;  // (B, T, H, K)
  CView4 q, k;            // (B, T, H, K)
  float scale;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const Chunk c = chunk_of(team.league_rank(), s);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.len * s.K), [&](int e) {
      const int p = e / s.K, kk = e % s.K;
      const int t = c.t0 + p;
      const double b_p = gate_cumsum(c.b, t, c.h, kk);
      float dq_strict = 0.0f;  // position p as the query
      for (int col = 0; col < p; ++col) {
        const int ts = c.t0 + col;
        dq_strict += dscores(c.b, t, c.h, col) * k(c.b, ts, c.h, kk) * exp_of(b_p - gate_cumsum(c.b, ts, c.h, kk));
      }
      float dk_strict = 0.0f;  // position p as the key
      for (int r = p + 1; r < c.len; ++r) {
        const int tr = c.t0 + r;
        dk_strict += dscores(c.b, tr, c.h, p) * q(c.b, tr, c.h, kk) * exp_of(gate_cumsum(c.b, tr, c.h, kk) - b_p);
      }
      dq_strict *= scale;
      dk_strict *= scale;
      const float diagonal = scale * dscores(c.b, t, c.h, p);
      const float q_pk = q(c.b, t, c.h, kk), k_pk = k(c.b, t, c.h, kk);
      dq(c.b, t, c.h, kk) += dq_strict + diagonal * k_pk;
      dk(c.b, t, c.h, kk) += dk_strict + diagonal * q_pk;
      dg(c.b, t, c.h, kk) += q_pk * dq_strict - k_pk * dk_strict;
    });
  }
};

// Step 7: dg_r = sum_{u>=r} w_u + sum_{s<r} z_s + e^{b_L} rowsum(S_[n] * dS'), per (b, chunk, h, k).
struct DGate {
  View4 dg;               // (B, T, H, K): holds w on entry
  View4 z;                // (B, T, H, K): overwritten by its exclusive prefix sum
  CView4 states;          // (B, H, NT * K, V)
  CView4 dstates;         // (B, H, NT * K, V)
  CGateView gate_cumsum;  // (B, T, H, K)
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const ChunkChannel c = chunk_channel_of(i, s);
    const int t0 = chunk_start(c.n), t1 = t0 + chunk_length(c.n, s.T);
    const int row = c.n * s.K + c.k;
    float state_dstate = 0.0f;
    for (int vv = 0; vv < s.V; ++vv) state_dstate += states(c.b, c.h, row, vv) * dstates(c.b, c.h, row, vv);
    const float end_term = exp_of(gate_cumsum(c.b, t1 - 1, c.h, c.k)) * state_dstate;
    float prefix = 0.0f;
    for (int t = t0; t < t1; ++t) {
      const float z_t = z(c.b, t, c.h, c.k);
      z(c.b, t, c.h, c.k) = prefix;
      prefix += z_t;
    }
    float suffix = 0.0f;
    for (int t = t1 - 1; t >= t0; --t) {
      suffix += dg(c.b, t, c.h, c.k);
      dg(c.b, t, c.h, c.k) = suffix + z(c.b, t, c.h, c.k) + end_term;
    }
  }
};

// ---- shapes ----------------------------------------------------------------------------------------------------

bool present(const CView4& x) { return x.data() != nullptr; }

void require_extents(const CView4& x, int e0, int e1, int e2, int e3, const char* name) {
  const bool ok = static_cast<int>(x.extent(0)) == e0 && static_cast<int>(x.extent(1)) == e1 &&
                  static_cast<int>(x.extent(2)) == e2 && static_cast<int>(x.extent(3)) == e3;
  if (!ok)
    throw std::invalid_argument(std::string("selectiv::gla: ") + name + " has extents (" +
                                std::to_string(x.extent(0)) + ", " + std::to_string(x.extent(1)) + ", " +
                                std::to_string(x.extent(2)) + ", " + std::to_string(x.extent(3)) + "), expected (" +
                                std::to_string(e0) + ", " + std::to_string(e1) + ", " + std::to_string(e2) + ", " +
                                std::to_string(e3) + ")");
}

// Sizes from q (B, T, H, K) and v (.., V); checks k, g and the saved tensors against them.
Sizes sizes_of(const CView4& q, const CView4& k, const CView4& v, const CView4& g, const CView4& states,
               const CView4& scores) {
  Sizes s;
  s.B = static_cast<int>(q.extent(0));
  s.T = static_cast<int>(q.extent(1));
  s.H = static_cast<int>(q.extent(2));
  s.K = static_cast<int>(q.extent(3));
  s.V = static_cast<int>(v.extent(3));
  s.NT = gla_num_chunks(s.T);
  require_extents(k, s.B, s.T, s.H, s.K, "k");
  require_extents(g, s.B, s.T, s.H, s.K, "g");
  require_extents(v, s.B, s.T, s.H, s.V, "v");
  require_extents(states, s.B, s.H, s.NT * s.K, s.V, "states");
  require_extents(scores, s.B, s.T, s.H, kChunk, "scores");
  return s;
}

// Backward step 0 / forward step 1, shared.
void run_gate_cumsum(const Exec& exec, const char* label, const GateView& gate_cumsum, const View4& q_decayed,
                     const View4& k_decayed, const CView4& q, const CView4& k, const CView4& g, const Sizes& s) {
  Kokkos::parallel_for(label, Kokkos::RangePolicy<Exec>(exec, 0, s.B * s.NT * s.H * s.K),
                       GateCumsum{gate_cumsum, q_decayed, k_decayed, q, k, g, s});
}

int value_tiles(const Sizes& s) { return (s.V + kValueTile - 1) / kValueTile; }

}  // namespace

int gla_num_chunks(int T) { return (T + kChunk - 1) / kChunk; }

View4 gla_allocate_states(int B, int T, int H, int K, int V) {
  return View4("selectiv::gla::states", B, H, gla_num_chunks(T) * K, V);
}

View4 gla_allocate_scores(int B, int T, int H) { return View4("selectiv::gla::scores", B, T, H, kChunk); }

void gla_chunked_fwd(const Exec& exec, View4 o, View4 ht, View4 states, View4 scores, CView4 q, CView4 k, CView4 v,
                     CView4 g, CView4 h0, float scale) {
  const Sizes s = sizes_of(q, k, v, g, states, scores);
  require_extents(o, s.B, s.T, s.H, s.V, "o");
  const bool has_h0 = present(h0), has_ht = present(ht);
  if (has_h0) require_extents(h0, s.B, s.H, s.K, s.V, "h0");
  if (has_ht) require_extents(ht, s.B, s.H, s.K, s.V, "ht");

  // Workspaces, recomputed by the backward: b (fp64), q^ and k^.
  GateView gate_cumsum(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::gla::gate_cumsum"), s.B, s.T,
                       s.H, s.K);
  View4 q_decayed(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::gla::q_decayed"), s.B, s.T, s.H,
                  s.K);
  View4 k_decayed(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::gla::k_decayed"), s.B, s.T, s.H,
                  s.K);
  const int chunks = s.B * s.H * s.NT;

  run_gate_cumsum(exec, "selectiv::gla::chunked_fwd::gate_cumsum", gate_cumsum, q_decayed, k_decayed, q, k, g, s);
  Kokkos::parallel_for("selectiv::gla::chunked_fwd::chunk_local_states", TeamPolicy(exec, chunks, Kokkos::AUTO),
                       ChunkLocalStates{states, k_decayed, v, s});
  Kokkos::parallel_for("selectiv::gla::chunked_fwd::state_passing",
                       TeamPolicy(exec, s.B * s.H * value_tiles(s), Kokkos::AUTO),
                       StatePassing{states, ht, gate_cumsum, h0, has_h0, has_ht, s});
  Kokkos::parallel_for("selectiv::gla::chunked_fwd::intra_scores", TeamPolicy(exec, chunks, Kokkos::AUTO),
                       IntraScores{scores, gate_cumsum, q, k, scale, s});
  Kokkos::parallel_for("selectiv::gla::chunked_fwd::chunk_output", TeamPolicy(exec, chunks, Kokkos::AUTO),
                       ChunkOutput{o, states, scores, q_decayed, v, scale, s});
  // The workspaces are freed on return: wait for the kernels that read them.
  kc::fence(exec, "selectiv::gla::chunked_fwd");
}

void gla_chunked_bwd(const Exec& exec, View4 dq, View4 dk, View4 dv, View4 dg, View4 dh0, CView4 states,
                     CView4 scores, CView4 do_, CView4 dht, CView4 q, CView4 k, CView4 v, CView4 g, float scale) {
  const Sizes s = sizes_of(q, k, v, g, states, scores);
  require_extents(dq, s.B, s.T, s.H, s.K, "dq");
  require_extents(dk, s.B, s.T, s.H, s.K, "dk");
  require_extents(dg, s.B, s.T, s.H, s.K, "dg");
  require_extents(dv, s.B, s.T, s.H, s.V, "dv");
  require_extents(do_, s.B, s.T, s.H, s.V, "do");
  const bool has_dht = present(dht), has_dh0 = present(dh0);
  if (has_dht) require_extents(dht, s.B, s.H, s.K, s.V, "dht");
  if (has_dh0) require_extents(dh0, s.B, s.H, s.K, s.V, "dh0");

  // Recomputed from the inputs: b, q^, k^ (step 0). Workspaces: dstates, dA, z.
  GateView gate_cumsum(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::gla::gate_cumsum"), s.B, s.T,
                       s.H, s.K);
  View4 q_decayed(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::gla::q_decayed"), s.B, s.T, s.H,
                  s.K);
  View4 k_decayed(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::gla::k_decayed"), s.B, s.T, s.H,
                  s.K);
  View4 dstates(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::gla::dstates"), s.B, s.H, s.NT * s.K,
                s.V);
  View4 dscores(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::gla::dscores"), s.B, s.T, s.H,
                kChunk);
  View4 z(Kokkos::view_alloc(exec, Kokkos::WithoutInitializing, "selectiv::gla::dgate_prefix"), s.B, s.T, s.H, s.K);
  const int chunks = s.B * s.H * s.NT;

  run_gate_cumsum(exec, "selectiv::gla::chunked_bwd::gate_cumsum", gate_cumsum, q_decayed, k_decayed, q, k, g, s);
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::chunk_local_dstates", TeamPolicy(exec, chunks, Kokkos::AUTO),
                       ChunkLocalDStates{dstates, q_decayed, do_, scale, s});
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::dstate_passing",
                       TeamPolicy(exec, s.B * s.H * value_tiles(s), Kokkos::AUTO),
                       DStatePassing{dstates, dh0, gate_cumsum, dht, has_dht, has_dh0, s});
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::dscores", TeamPolicy(exec, chunks, Kokkos::AUTO),
                       DScores{dscores, do_, v, s});
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::dvalues", TeamPolicy(exec, chunks, Kokkos::AUTO),
                       DValues{dv, dstates, scores, k_decayed, do_, s});
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::dqk_inter", TeamPolicy(exec, chunks, Kokkos::AUTO),
                       DQKInter{dq, dk, dg, z, states, dstates, gate_cumsum, q, k, v, do_, scale, s});
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::dqk_intra", TeamPolicy(exec, chunks, Kokkos::AUTO),
                       DQKIntra{dq, dk, dg, dscores, gate_cumsum, q, k, scale, s});
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::dgate", Kokkos::RangePolicy<Exec>(exec, 0, s.B * s.NT * s.H * s.K),
                       DGate{dg, z, states, dstates, gate_cumsum, s});
  kc::fence(exec, "selectiv::gla::chunked_bwd");
}

}  // namespace selectiv::gla
