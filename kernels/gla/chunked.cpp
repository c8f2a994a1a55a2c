// SPDX-License-Identifier: BSD-3-Clause
// Chunkwise-parallel GLA forward and backward: one functor per numbered step of README.md §2-§3, then the two
// orchestrators. The products with a chunk's state and with the stored scores run as batched GEMMs over (b, h, chunk)
// (kernels/common/batched_gemm.hpp); the gated scores and the intra-chunk gradients run one team per (b, h, chunk):
// the team stages the tiles it reads in team scratch with coalesced loads and computes from scratch (README.md §2
// "Kernel structure"). The sequential state passes run a thread per few state entries of one state row.
#include "kernels/gla/chunked.hpp"

#include <cstddef>
#include <stdexcept>
#include <string>

#include "kernels/common/batched_gemm.hpp"
#include "kernels/common/compat.hpp"
#include "kernels/common/precision.hpp"
#include "kernels/common/quad.hpp"
#include "kernels/common/reductions.hpp"
#include "kernels/common/team_stage.hpp"
#include "kernels/common/workspace.hpp"

namespace selectiv::gla {
namespace {

using TeamPolicy = Kokkos::TeamPolicy<Exec>;
using Member = TeamPolicy::member_type;
// Chunk-local cumulative log-gates b, kept in fp64 so that differences b_r - b_s stay exact (README.md §2).
using GateView = Kokkos::View<double****, Kokkos::LayoutRight, DeviceMem>;
using CGateView = Kokkos::View<const double****, Kokkos::LayoutRight, DeviceMem>;
using ScratchSpace = Exec::scratch_memory_space;
using ScratchMatrix = Kokkos::View<float**, Kokkos::LayoutRight, ScratchSpace, Kokkos::MemoryUnmanaged>;
using ScratchGates = Kokkos::View<double**, Kokkos::LayoutRight, ScratchSpace, Kokkos::MemoryUnmanaged>;
using ScratchVector = Kokkos::View<float*, Kokkos::LayoutRight, ScratchSpace, Kokkos::MemoryUnmanaged>;

// Width of one contraction step over K or V (the slice of the contracted features staged at a time).
constexpr int kStep = 16;
// Every scratch tile has a row stride of (width + 1) floats, so threads reading one column of consecutive rows hit
// distinct shared-memory banks.
constexpr int kPad = 1;

struct Sizes {
  int B, T, H, K, V, NT;
  TileMath math;  // of every batched GEMM (current_tile_math at the call)
};

KOKKOS_INLINE_FUNCTION int tiles_of(int extent, int tile) { return (extent + tile - 1) / tile; }

// One chunk of one (b, h): tokens t0 .. t0 + len - 1.
struct Chunk {
  int b, h, n, t0, len;
};

KOKKOS_INLINE_FUNCTION int chunk_start(int n) { return n * kChunk; }
KOKKOS_INLINE_FUNCTION int chunk_length(int n, int T) {
  const int rest = T - chunk_start(n);
  return rest < kChunk ? rest : kChunk;
}

// Chunk index = (b * H + h) * NT + n.
KOKKOS_INLINE_FUNCTION Chunk chunk_of(int chunk_index, const Sizes& s) {
  Chunk c;
  c.n = chunk_index % s.NT;
  const int bh = chunk_index / s.NT;
  c.h = bh % s.H;
  c.b = bh / s.H;
  c.t0 = chunk_start(c.n);
  c.len = chunk_length(c.n, s.T);
  return c;
}

// Flat index = ((b * NT + n) * H + h) * K4 + u (K4 = quads of K), for the per-(chunk, quad of 4 key channels)
// sequential steps: consecutive threads take consecutive quads, so their loads are coalesced 16-byte accesses where K
// is a multiple of 4 (kernels/common/quad.hpp); k0 = 4 u is the first channel, `valid` of the 4 are inside K.
struct ChunkQuad {
  int b, n, h, k0, valid;
};
KOKKOS_INLINE_FUNCTION ChunkQuad chunk_quad_of(int i, const Sizes& s) {
  const int quads = kc::quad_count(s.K);
  ChunkQuad c;
  c.k0 = 4 * (i % quads);
  c.valid = s.K - c.k0;
  int rest = i / quads;
  c.h = rest % s.H;
  rest /= s.H;
  c.n = rest % s.NT;
  c.b = rest / s.NT;
  return c;
}
int chunk_quads(const Sizes& s) { return s.B * s.NT * s.H * kc::quad_count(s.K); }

KOKKOS_INLINE_FUNCTION float exp_of(double x) { return kc::exp(static_cast<float>(x)); }

// tile(i, j) = value(i, j) for i < valid_rows and j < valid_cols, else 0, over the tile's rows x cols (a tile row is
// one token or one state row; j runs along the contiguous dimension, so consecutive threads load consecutive
// addresses). Zero padding lets feature loops run over the whole tile width; loops over chunk rows still stop at the
// chunk's length (the gate exponents of padded rows would not be bounded).
template <class Tile, class Value>
KOKKOS_INLINE_FUNCTION void stage(const Member& team, const Tile& tile, int rows, int cols, int valid_rows,
                                  int valid_cols, const Value& value) {
  using T = typename Tile::non_const_value_type;
  team_stage(
      team, rows, cols,
      [&](int i, int j) { return (i < valid_rows && j < valid_cols) ? static_cast<T>(value(i, j)) : T(0); },
      [&](int i, int j, T staged) { tile(i, j) = staged; });
}

std::size_t matrix_bytes(int rows, int cols) { return ScratchMatrix::shmem_size(rows, cols + kPad); }
std::size_t gates_bytes(int rows, int cols) { return ScratchGates::shmem_size(rows, cols + kPad); }

TeamPolicy team_policy(const Exec& exec, int league, std::size_t scratch_bytes) {
  TeamPolicy policy(exec, league, Kokkos::AUTO);
  policy.set_scratch_size(0, Kokkos::PerTeam(scratch_bytes));
  return policy;
}

// ---- forward (and the backward's shared steps) -------------------------------------------------------------------

// Step 1 (also backward step 0): b_r = sum_{s<=r} g_s within the chunk, q^_r = q_r * e^{b_r}, k^_s = k_s * e^{b_L -
// b_s}.
struct GateCumsum {
  GateView gate_cumsum;  // (B, T, H, K)
  View4 q_decayed;       // (B, T, H, K)
  View4 k_decayed;       // (B, T, H, K)
  CView4 q, k, g;        // (B, T, H, K)
  Sizes s;
  bool aligned;

  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const ChunkQuad c = chunk_quad_of(i, s);
    const int t0 = chunk_start(c.n), t1 = t0 + chunk_length(c.n, s.T), lanes = c.valid < 4 ? c.valid : 4;
    double acc[4] = {};
    for (int t = t0; t < t1; ++t) {
      const kc::Quad gq = kc::load_quad(&g(c.b, t, c.h, c.k0), c.valid, aligned);
      kc::Quad qq = kc::load_quad(&q(c.b, t, c.h, c.k0), c.valid, aligned);
      for (int j = 0; j < 4; ++j) {
        acc[j] += gq.v[j];
        qq.v[j] *= exp_of(acc[j]);
      }
      for (int j = 0; j < lanes; ++j) gate_cumsum(c.b, t, c.h, c.k0 + j) = acc[j];
      kc::store_quad(&q_decayed(c.b, t, c.h, c.k0), qq, c.valid, aligned);
    }
    for (int t = t0; t < t1; ++t) {
      kc::Quad kq = kc::load_quad(&k(c.b, t, c.h, c.k0), c.valid, aligned);
      for (int j = 0; j < lanes; ++j) kq.v[j] *= exp_of(acc[j] - gate_cumsum(c.b, t, c.h, c.k0 + j));
      kc::store_quad(&k_decayed(c.b, t, c.h, c.k0), kq, c.valid, aligned);
    }
  }
};

// Forward step 3 / backward step 2, the sequential pass over the chunks:
//   forward:  S = h0;   for n = 0 .. NT-1: states[n] <- S  (was U_n); S  <- diag(e^{b_L}) S  + U_n. Then ht  = S.
//   reverse:  dS = dht; for n = NT-1 .. 0: dstates[n] <- dS (was W_n); dS <- diag(e^{b_L}) dS + W_n. Then dh0 = dS.
// A thread per (b, h, k, lane, group of kScanColumns * 32 value columns) carries kScanColumns state entries,
// v = group * 32 * kScanColumns + j * 32 + lane: for each j a warp's loads and stores are one contiguous row segment,
// its gate read is one broadcast address, and the next chunk's kScanColumns loads are issued before this chunk's
// stores, so every thread keeps several independent loads in flight along its sequential walk.
constexpr int kScanLanes = 32;
constexpr int kScanColumns = 4;

struct StateScan {
  View4 states;           // (B, H, NT * K, V): local contributions in, states before (forward) / after (reverse) out
  View4 final_state;      // (B, H, K, V) or empty: ht (forward) or dh0 (reverse)
  CGateView gate_cumsum;  // (B, T, H, K)
  CView4 initial;         // (B, H, K, V) or empty: h0 (forward) or dht (reverse)
  bool has_initial, has_final, reverse;
  Sizes s;

  static int groups(const Sizes& s) { return tiles_of(s.V, kScanLanes * kScanColumns); }
  int threads() const { return s.B * s.H * s.K * groups(s) * kScanLanes; }

  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const int lane = i % kScanLanes;
    int rest = i / kScanLanes;
    const int column_groups = tiles_of(s.V, kScanLanes * kScanColumns);
    const int v0 = (rest % column_groups) * kScanLanes * kScanColumns + lane;
    rest /= column_groups;
    const int kk = rest % s.K, bh = rest / s.K;
    const int b = bh / s.H, h = bh % s.H;
    float carried[kScanColumns], local[kScanColumns], next[kScanColumns];
    for (int j = 0; j < kScanColumns; ++j) {
      const int vv = v0 + j * kScanLanes;
      carried[j] = (has_initial && vv < s.V) ? initial(b, h, kk, vv) : 0.0f;
    }
    const int first = reverse ? s.NT - 1 : 0, step = reverse ? -1 : 1;
    for (int j = 0; j < kScanColumns; ++j) {
      const int vv = v0 + j * kScanLanes;
      local[j] = (vv < s.V && s.NT > 0) ? states(b, h, first * s.K + kk, vv) : 0.0f;
    }
    for (int m = 0; m < s.NT; ++m) {
      const int n = first + m * step;
      const int last = chunk_start(n) + chunk_length(n, s.T) - 1;
      const float decay = exp_of(gate_cumsum(b, last, h, kk));
      const bool more = m + 1 < s.NT;
      for (int j = 0; j < kScanColumns; ++j) {
        const int vv = v0 + j * kScanLanes;
        next[j] = (more && vv < s.V) ? states(b, h, (n + step) * s.K + kk, vv) : 0.0f;
      }
      for (int j = 0; j < kScanColumns; ++j) {
        const int vv = v0 + j * kScanLanes;
        if (vv < s.V) states(b, h, n * s.K + kk, vv) = carried[j];
        carried[j] = decay * carried[j] + local[j];
        local[j] = next[j];
      }
    }
    if (has_final)
      for (int j = 0; j < kScanColumns; ++j) {
        const int vv = v0 + j * kScanLanes;
        if (vv < s.V) final_state(b, h, kk, vv) = carried[j];
      }
  }
};

// Forward step 4: the gated C x C scores of a chunk, A_rs = alpha * sum_k q_rk k_sk e^{b_rk - b_sk} for s <= r, 0
// above the diagonal (element-wise fp32 exp). One team per chunk; the key channels are staged kStep at a time (q, k
// and their fp64 gates). Each index of the team range is a 4 x 4 block on or below the diagonal (kScoreBlocks of
// them), summed in registers over the staged channels, so every loaded q, k and gate feeds 4 multiply-adds; the C x C
// sums accumulate in scratch from one slice of channels to the next. (Splitting the decay factor at the block's edge,
// as DQKIntra does, measured slower here: 6.50 -> 8.20 ms per step at d = 256, T = 1300.)
constexpr int kScoreBlock = 4;
constexpr int kScoreBlockRows = kChunk / kScoreBlock;
constexpr int kScoreBlocks = kScoreBlockRows * (kScoreBlockRows + 1) / 2;

// Block e of the lower triangle, row-major: (block row i, block column j <= i).
KOKKOS_INLINE_FUNCTION void lower_block(int e, int& i, int& j) {
  i = 0;
  while ((i + 1) * (i + 2) / 2 <= e) ++i;
  j = e - i * (i + 1) / 2;
}

struct ChunkScores {
  View4 out;              // (B, T, H, C)
  CGateView gate_cumsum;  // (B, T, H, K)
  CView4 q, k;            // (B, T, H, K)
  float alpha;
  Sizes s;

  static std::size_t scratch_bytes() {
    return 2 * matrix_bytes(kChunk, kStep) + gates_bytes(kChunk, kStep) + matrix_bytes(kChunk, kChunk);
  }
  int league() const { return s.B * s.H * s.NT; }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const Chunk c = chunk_of(team.league_rank(), s);
    ScratchMatrix q_tile(team.team_scratch(0), kChunk, kStep + kPad);
    ScratchMatrix k_tile(team.team_scratch(0), kChunk, kStep + kPad);
    ScratchGates b_tile(team.team_scratch(0), kChunk, kStep + kPad);
    ScratchMatrix acc(team.team_scratch(0), kChunk, kChunk + kPad);
    for (int d0 = 0; d0 < s.K; d0 += kStep) {
      if (d0 > 0) team.team_barrier();  // the previous step's tiles are still being read
      stage(team, q_tile, kChunk, kStep, c.len, s.K - d0, [&](int r, int j) { return q(c.b, c.t0 + r, c.h, d0 + j); });
      stage(team, k_tile, kChunk, kStep, c.len, s.K - d0, [&](int r, int j) { return k(c.b, c.t0 + r, c.h, d0 + j); });
      stage(team, b_tile, kChunk, kStep, c.len, s.K - d0,
            [&](int r, int j) { return gate_cumsum(c.b, c.t0 + r, c.h, d0 + j); });
      team.team_barrier();
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, kScoreBlocks), [&](int e) {
        int bi, bj;
        lower_block(e, bi, bj);
        const int r0 = bi * kScoreBlock, s0 = bj * kScoreBlock;
        float sum[kScoreBlock][kScoreBlock] = {};
        for (int j = 0; j < kStep; ++j) {
          float q_r[kScoreBlock], k_s[kScoreBlock];
          double b_r[kScoreBlock], b_s[kScoreBlock];
          for (int u = 0; u < kScoreBlock; ++u) {
            q_r[u] = q_tile(r0 + u, j);
            b_r[u] = b_tile(r0 + u, j);
            k_s[u] = k_tile(s0 + u, j);
            b_s[u] = b_tile(s0 + u, j);
          }
          // the exponent is <= 0 on and below the diagonal; above it (diagonal blocks only) it is clamped to 0 so
          // the entries that the mask drops stay finite
          for (int u = 0; u < kScoreBlock; ++u)
            for (int w = 0; w < kScoreBlock; ++w)
              sum[u][w] += q_r[u] * k_s[w] * exp_of(kc::min(b_r[u] - b_s[w], 0.0));
        }
        for (int u = 0; u < kScoreBlock; ++u)
          for (int w = 0; w < kScoreBlock; ++w)
            acc(r0 + u, s0 + w) = (d0 == 0 ? 0.0f : acc(r0 + u, s0 + w)) + sum[u][w];
      });
    }
    // The blocks were summed by other threads than the ones that write the rows out: synchronise first. K == 0 leaves
    // acc unwritten, so it is not read then.
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c.len * kChunk), [&](int e) {
      const int r = e / kChunk, col = e % kChunk;
      out(c.b, c.t0 + r, c.h, col) = (col <= r && s.K > 0) ? alpha * acc(r, col) : 0.0f;
    });
  }
};

// ---- backward --------------------------------------------------------------------------------------------------

// Step 5: the inter-chunk parts dq = scale e^{b_r} (S_[n] do_r), dk = e^{b_L - b_s} (dS' v_s); they start
// dg (w = q * dq_inter, plus c = e^{b_L} rowsum(S_[n] * dS') at the chunk's last position) and z = k * dk_inter.
// dq and dk hold the products S_[n] do_r and dS' v_s on entry (batched GEMMs, inter_chunk_grads), state_dstate the
// row sums (StateRowDots). One thread per (b, t, h, k).
struct DQKInter {
  View4 dq, dk, dg;       // (B, T, H, K)
  View4 z;                // (B, T, H, K)
  CView2 state_dstate;    // (B * H * NT, K)
  CGateView gate_cumsum;  // (B, T, H, K)
  CView4 q, k;            // (B, T, H, K)
  float scale;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const int kk = i % s.K, h = (i / s.K) % s.H, t = (i / (s.K * s.H)) % s.T, b = i / (s.K * s.H * s.T);
    const int n = t / kChunk, last = chunk_start(n) + chunk_length(n, s.T) - 1;
    const double b_r = gate_cumsum(b, t, h, kk), b_last = gate_cumsum(b, last, h, kk);
    const float dq_inter = scale * exp_of(b_r) * dq(b, t, h, kk);
    const float dk_inter = exp_of(b_last - b_r) * dk(b, t, h, kk);
    float w = q(b, t, h, kk) * dq_inter;
    if (t == last) w += exp_of(b_last) * state_dstate((b * s.H + h) * s.NT + n, kk);
    dq(b, t, h, kk) = dq_inter;
    dk(b, t, h, kk) = dk_inter;
    dg(b, t, h, kk) = w;
    z(b, t, h, kk) = k(b, t, h, kk) * dk_inter;
  }
};

// rowsum(S_[n] * dS') per (b, h, chunk, key channel) into state_dstate(chunk index, k): one warp per state row.
struct StateRowDots {
  View2 state_dstate;  // (B * H * NT, K)
  CView4 states, dstates;
  Sizes s;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int row = nn::detail::vector_item(team);
    if (row >= s.B * s.H * s.NT * s.K) return;
    const int kk = row % s.K, chunk = row / s.K;
    const int n = chunk % s.NT, h = (chunk / s.NT) % s.H, b = chunk / (s.NT * s.H);
    float sum = 0.0f;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(team, s.V),
        [&](int vv, float& acc) { acc += states(b, h, n * s.K + kk, vv) * dstates(b, h, n * s.K + kk, vv); }, sum);
    Kokkos::single(Kokkos::PerThread(team), [&]() { state_dstate(chunk, kk) = sum; });
  }
};

// Step 6: the intra-chunk parts. Strict sums dq_r += scale sum_{s<r} dA_rs k_s e^{b_r - b_s} and
// dk_s += scale sum_{r>s} dA_rs q_r e^{b_r - b_s}, the diagonal scale dA_rr (k_r, q_r), and w += q dq_strict -
// k dk_strict (the diagonal terms cancel exactly in w, so they are left out of it). One team per (chunk, kStep key
// channels): dA (C x C) and the channels' q, k and fp64 gates are staged; the sums are element-wise in the channel.
constexpr int kIntraBlock = 4;  // positions per thread in DQKIntra

struct DQKIntra {
  View4 dq, dk, dg;       // (B, T, H, K)
  CView4 dscores;         // (B, T, H, C)
  CGateView gate_cumsum;  // (B, T, H, K)
  CView4 q, k;            // (B, T, H, K)
  float scale;
  Sizes s;

  static std::size_t scratch_bytes() {
    return matrix_bytes(kChunk, kChunk) + 2 * matrix_bytes(kChunk, kStep) + gates_bytes(kChunk, kStep);
  }
  int league() const { return s.B * s.H * s.NT * tiles_of(s.K, kStep); }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const int key_tiles = tiles_of(s.K, kStep);
    const int k0 = (team.league_rank() % key_tiles) * kStep;
    const Chunk c = chunk_of(team.league_rank() / key_tiles, s);
    ScratchMatrix da_tile(team.team_scratch(0), kChunk, kChunk + kPad);  // dA (r, s) as stored
    ScratchMatrix q_tile(team.team_scratch(0), kChunk, kStep + kPad);    // (r, key channel k0 + j)
    ScratchMatrix k_tile(team.team_scratch(0), kChunk, kStep + kPad);
    ScratchGates b_tile(team.team_scratch(0), kChunk, kStep + kPad);
    stage(team, da_tile, kChunk, kChunk, c.len, c.len,
          [&](int r, int col) { return dscores(c.b, c.t0 + r, c.h, col); });
    stage(team, q_tile, kChunk, kStep, c.len, s.K - k0, [&](int r, int j) { return q(c.b, c.t0 + r, c.h, k0 + j); });
    stage(team, k_tile, kChunk, kStep, c.len, s.K - k0, [&](int r, int j) { return k(c.b, c.t0 + r, c.h, k0 + j); });
    stage(team, b_tile, kChunk, kStep, c.len, s.K - k0,
          [&](int r, int j) { return gate_cumsum(c.b, c.t0 + r, c.h, k0 + j); });
    team.team_barrier();
    // Each index: kIntraBlock consecutive positions p0 + u of one key channel. Outside the block the decay factors
    // split at its edges, e^{b_p - b_col} = e^{b_p - b_p0} e^{b_p0 - b_col} (col < p0) and e^{b_r - b_p} = e^{b_r -
    // b_last} e^{b_last - b_p} (r > last = p0 + 3), every factor <= 1: one exponential per col or r serves the whole
    // block. Inside it, the few terms use the direct exponential.
    const int blocks = (c.len + kIntraBlock - 1) / kIntraBlock;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, blocks * kStep), [&](int e) {
      const int p0 = (e / kStep) * kIntraBlock, j = e % kStep, kk = k0 + j;
      if (kk >= s.K) return;
      const int count = c.len - p0 < kIntraBlock ? c.len - p0 : kIntraBlock, last = p0 + count - 1;
      const double b_first = b_tile(p0, j), b_last = b_tile(last, j);
      float dq_strict[kIntraBlock] = {}, dk_strict[kIntraBlock] = {};
      for (int col = 0; col < p0; ++col) {  // position p as the query, keys before the block
        const float key = k_tile(col, j) * exp_of(b_first - b_tile(col, j));
        for (int u = 0; u < kIntraBlock; ++u) dq_strict[u] += da_tile(p0 + u, col) * key;
      }
      for (int r = last + 1; r < c.len; ++r) {  // position p as the key, queries after the block
        const float query = q_tile(r, j) * exp_of(b_tile(r, j) - b_last);
        for (int u = 0; u < kIntraBlock; ++u) dk_strict[u] += da_tile(r, p0 + u) * query;
      }
      for (int u = 0; u < count; ++u) {
        const int p = p0 + u;
        const double b_p = b_tile(p, j);
        float dq_value = dq_strict[u] * exp_of(b_p - b_first), dk_value = dk_strict[u] * exp_of(b_last - b_p);
        for (int col = p0; col < p; ++col) dq_value += da_tile(p, col) * k_tile(col, j) * exp_of(b_p - b_tile(col, j));
        for (int r = p + 1; r <= last; ++r) dk_value += da_tile(r, p) * q_tile(r, j) * exp_of(b_tile(r, j) - b_p);
        dq_value *= scale;
        dk_value *= scale;
        const float diagonal = scale * da_tile(p, p);
        const float q_pk = q_tile(p, j), k_pk = k_tile(p, j);
        const int t = c.t0 + p;
        dq(c.b, t, c.h, kk) += dq_value + diagonal * k_pk;
        dk(c.b, t, c.h, kk) += dk_value + diagonal * q_pk;
        dg(c.b, t, c.h, kk) += q_pk * dq_value - k_pk * dk_value;
      }
    });
  }
};

// Rows of its sequential walk whose loads DGate issues before using any of them.
constexpr int kWalkAhead = 4;

// Step 7: dg_r = sum_{u>=r} w_u + sum_{s<r} z_s, per (b, chunk, h, k) (the end term c is already in w at the last
// position, step 5). Consecutive threads take consecutive key channels, so every load and store is coalesced.
struct DGate {
  View4 dg;  // (B, T, H, K): holds w on entry
  View4 z;   // (B, T, H, K): overwritten by its exclusive prefix sum
  Sizes s;

  // One thread per (b, chunk, h, key channel), channels fastest (a quad of channels per thread measured slower:
  // 4.19 -> 5.04 ms per step at d = 256, T = 1300, B = 64 on the H200, a quarter of the threads in flight).
  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const int kk = i % s.K, rest = i / s.K, h = rest % s.H, n = rest / s.H % s.NT, b = rest / s.H / s.NT;
    const int t0 = chunk_start(n), t1 = t0 + chunk_length(n, s.T);
    // kWalkAhead rows' loads are issued before any of them is used, so each thread keeps several loads in flight
    // along its sequential walk (4.54 -> 2.89 ms per step at d = 256, T = 1300, fp32 on the H200; the same in
    // GateCumsum, a quad of channels per thread, measured slower: 2.27 -> 2.95)
    float prefix = 0.0f;
    for (int t = t0; t < t1; t += kWalkAhead) {
      const int rows = t1 - t < kWalkAhead ? t1 - t : kWalkAhead;
      float z_t[kWalkAhead];
      for (int a = 0; a < kWalkAhead; ++a)
        if (a < rows) z_t[a] = z(b, t + a, h, kk);
      for (int a = 0; a < kWalkAhead; ++a) {
        if (a < rows) {
          z(b, t + a, h, kk) = prefix;
          prefix += z_t[a];
        }
      }
    }
    float suffix = 0.0f;
    for (int t = t1 - 1; t >= t0; t -= kWalkAhead) {
      const int rows = t - t0 + 1 < kWalkAhead ? t - t0 + 1 : kWalkAhead;  // rows t, t - 1, ..
      float w[kWalkAhead], z_t[kWalkAhead];
      for (int a = 0; a < kWalkAhead; ++a) {
        if (a < rows) {
          w[a] = dg(b, t - a, h, kk);
          z_t[a] = z(b, t - a, h, kk);
        }
      }
      for (int a = 0; a < kWalkAhead; ++a) {
        if (a < rows) {
          suffix += w[a];
          dg(b, t - a, h, kk) = suffix + z_t[a];
        }
      }
    }
  }
};

// ---- shapes ----------------------------------------------------------------------------------------------------

bool present(const CView4& x) { return x.data() != nullptr; }

void require_extents(const CView4& x, int e0, int e1, int e2, int e3, const char* name) {
  const bool ok = static_cast<int>(x.extent(0)) == e0 && static_cast<int>(x.extent(1)) == e1 &&
                  static_cast<int>(x.extent(2)) == e2 && static_cast<int>(x.extent(3)) == e3;
  if (!ok)
    throw std::invalid_argument(std::string("selectiv::gla: ") + name + " has extents (" + std::to_string(x.extent(0)) +
                                ", " + std::to_string(x.extent(1)) + ", " + std::to_string(x.extent(2)) + ", " +
                                std::to_string(x.extent(3)) + "), expected (" + std::to_string(e0) + ", " +
                                std::to_string(e1) + ", " + std::to_string(e2) + ", " + std::to_string(e3) + ")");
}

// The sizes from q (B, T, H, K) and v (.., V), with the extents of k, g, states (when present) and scores checked.
Sizes sizes_of(const CView4& q, const CView4& k, const CView4& v, const CView4& g, const CView4& states,
               const CView4& scores) {
  Sizes s;
  s.B = static_cast<int>(q.extent(0));
  s.T = static_cast<int>(q.extent(1));
  s.H = static_cast<int>(q.extent(2));
  s.K = static_cast<int>(q.extent(3));
  s.V = static_cast<int>(v.extent(3));
  s.NT = gla_num_chunks(s.T);
  s.math = current_tile_math();
  require_extents(k, s.B, s.T, s.H, s.K, "k");
  require_extents(g, s.B, s.T, s.H, s.K, "g");
  require_extents(v, s.B, s.T, s.H, s.V, "v");
  if (present(states)) require_extents(states, s.B, s.H, s.NT * s.K, s.V, "states");
  require_extents(scores, s.B, s.T, s.H, kChunk, "scores");
  return s;
}

// ---- batched GEMMs over (b, h, chunk) ------------------------------------------------------------------------
// The chunk-level products with a chunk's state and the score products run as batched GEMMs
// (kernels/common/batched_gemm.hpp) over (b, h, chunk), all full chunks in one call and a last partial chunk in
// another.

// f(first chunk, chunks, tokens per chunk), kc::for_chunk_runs over the sequence.
template <class F>
void for_chunk_runs(const Sizes& s, const F& f) {
  kc::for_chunk_runs(s.T, kChunk, f);
}

// The tokens of chunk n0.. of a (B, T, H, D) tensor: batch indices (b, h, chunk).
template <class ViewType>
kc::MatrixBatchOf<typename ViewType::value_type> token_rows(const ViewType& x, int n0) {
  return kc::head_rows(x, static_cast<std::int64_t>(n0) * kChunk, kChunk);
}

// The K x V state of each (b, h, chunk) of a (B, H, NT * K, V) tensor, from chunk n0.
template <class ViewType>
kc::MatrixBatchOf<typename ViewType::value_type> chunk_states(const ViewType& x, int n0, const Sizes& s) {
  return kc::head_blocks(x, s.K, n0);
}

// Forward step 2 / backward step 1: out[n] = alpha * X^T Y over the chunk's tokens, a K x V block written into rows
// n * K .. of out: U_n = k^^T V (alpha 1) or W_n = scale * q^^T dO.
void chunk_local_product(const Exec& exec, const View4& out, const CView4& x, const CView4& y, float alpha,
                         const Sizes& s) {
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    kc::gemm_batched(exec, "T", "N", s.K, s.V, len, alpha, token_rows(x, n0), token_rows(y, n0), 0.0f,
                     chunk_states(out, n0, s), kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
}

// Forward step 5 / backward step 4: out = alpha * x M_n + A' y per chunk, with A' = A (lower triangular, stored with
// zeros above the diagonal) for the outputs o (y = v, x = q^, M_n = S_[n], alpha = scale) and A' = A^T for dv
// (y = dO, x = k^, M_n = dS' = dstates[n], alpha = 1).
void chunk_rows_output(const Exec& exec, const View4& out, const CView4& scores, const CView4& y, const CView4& x,
                       const CView4& m, float alpha, bool transposed, const Sizes& s) {
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    const kc::BatchCount batch{{s.B, s.H, chunks}};
    kc::gemm_batched(exec, "N", "N", len, s.V, s.K, alpha, token_rows(x, n0), chunk_states(m, n0, s), 0.0f,
                     token_rows(out, n0), batch, s.math);
    kc::gemm_batched(exec, transposed ? "T" : "N", "N", len, s.V, len, 1.0f, token_rows(scores, n0), token_rows(y, n0),
                     1.0f, token_rows(out, n0), batch, s.math);
  });
}

// Backward step 3: dA_rs = do_r . v_s per chunk, one batched GEMM (do V^T). Only s <= r is read (DQKIntra); the
// entries above the diagonal are written too and left as they are.
void chunk_score_grads(const Exec& exec, const View4& dscores, const CView4& do_, const CView4& v, const Sizes& s) {
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    kc::gemm_batched(exec, "N", "T", len, len, s.V, 1.0f, token_rows(do_, n0), token_rows(v, n0), 0.0f,
                     token_rows(dscores, n0), kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
}

// Backward step 5: the inter-chunk products S_[n] do_r into dq and dS' v_s into dk (batched GEMMs), the row sums of
// S_[n] * dS' (StateRowDots), then DQKInter.
void inter_chunk_grads(const Exec& exec, const View4& dq, const View4& dk, const View4& dg, const View4& z,
                       const CView4& states, const CView4& dstates, const CGateView& gate_cumsum, const CView4& q,
                       const CView4& k, const CView4& v, const CView4& do_, float scale, const Sizes& s) {
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    const kc::BatchCount batch{{s.B, s.H, chunks}};
    kc::gemm_batched(exec, "N", "T", len, s.K, s.V, 1.0f, token_rows(do_, n0), chunk_states(states, n0, s), 0.0f,
                     token_rows(dq, n0), batch, s.math);
    kc::gemm_batched(exec, "N", "T", len, s.K, s.V, 1.0f, token_rows(v, n0), chunk_states(dstates, n0, s), 0.0f,
                     token_rows(dk, n0), batch, s.math);
  });
  const int rows = s.B * s.H * s.NT * s.K;
  const View2 state_dstate = workspace<View2>("selectiv::gla::state_dstate", s.B * s.H * s.NT, s.K);
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::state_row_dots", nn::detail::vector_per_item(exec, rows),
                       StateRowDots{state_dstate, states, dstates, s});
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::dqk_inter",
                       Kokkos::RangePolicy<Exec>(exec, 0, s.B * s.T * s.H * s.K),
                       DQKInter{dq, dk, dg, z, state_dstate, gate_cumsum, q, k, scale, s});
}

// Backward step 0 / forward step 1, shared.
void run_gate_cumsum(const Exec& exec, const char* label, const GateView& gate_cumsum, const View4& q_decayed,
                     const View4& k_decayed, const CView4& q, const CView4& k, const CView4& g, const Sizes& s) {
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<Exec>(exec, 0, chunk_quads(s)),
      GateCumsum{gate_cumsum, q_decayed, k_decayed, q, k, g, s,
                 kc::quads_aligned(s.K, {q_decayed.data(), k_decayed.data(), q.data(), k.data(), g.data()})});
}

// Launches a chunk-team functor with the level-0 scratch it declares.
template <class Functor>
void run_teams(const Exec& exec, const char* label, const Functor& functor) {
  Kokkos::parallel_for(label, team_policy(exec, functor.league(), Functor::scratch_bytes()), functor);
}

void run_scan(const Exec& exec, const char* label, const StateScan& scan) {
  Kokkos::parallel_for(label, Kokkos::RangePolicy<Exec>(exec, 0, scan.threads()), scan);
}

// Forward steps 2-3: the chunk states S_[n] (and ht when not empty) from k^, v, b and h0 (zero when empty).
void pass_states(const Exec& exec, const char* label, const View4& states, const View4& ht, const CView4& h0,
                 const CView4& k_decayed, const CView4& v, const CGateView& gate_cumsum, const Sizes& s) {
  chunk_local_product(exec, states, k_decayed, v, 1.0f, s);
  run_scan(exec, label, StateScan{states, ht, gate_cumsum, h0, present(h0), present(ht), false, s});
}

}  // namespace

int gla_num_chunks(int T) { return (T + kChunk - 1) / kChunk; }

View4 gla_allocate_states(int B, int T, int H, int K, int V) {
  return View4("selectiv::gla::states", B, H, gla_num_chunks(T) * K, V);
}

View4 gla_allocate_scores(int B, int T, int H) { return View4("selectiv::gla::scores", B, T, H, kChunk); }

View4 gla_workspace_states(int B, int T, int H, int K, int V) {
  return workspace<View4>("selectiv::gla::states", B, H, gla_num_chunks(T) * K, V);
}

void gla_chunked_fwd(const Exec& exec, View4 o, View4 ht, View4 states, View4 scores, CView4 q, CView4 k, CView4 v,
                     CView4 g, CView4 h0, float scale) {
  if (!present(states)) throw std::invalid_argument("selectiv::gla: gla_chunked_fwd needs states");
  const Sizes s = sizes_of(q, k, v, g, states, scores);
  require_extents(o, s.B, s.T, s.H, s.V, "o");
  if (present(h0)) require_extents(h0, s.B, s.H, s.K, s.V, "h0");
  if (present(ht)) require_extents(ht, s.B, s.H, s.K, s.V, "ht");

  // Workspaces, recomputed by the backward: b (fp64), q^ and k^.
  const GateView gate_cumsum = workspace<GateView>("selectiv::gla::gate_cumsum", s.B, s.T, s.H, s.K);
  const View4 q_decayed = workspace<View4>("selectiv::gla::q_decayed", s.B, s.T, s.H, s.K);
  const View4 k_decayed = workspace<View4>("selectiv::gla::k_decayed", s.B, s.T, s.H, s.K);

  run_gate_cumsum(exec, "selectiv::gla::chunked_fwd::gate_cumsum", gate_cumsum, q_decayed, k_decayed, q, k, g, s);
  pass_states(exec, "selectiv::gla::chunked_fwd::state_passing", states, ht, h0, k_decayed, v, gate_cumsum, s);
  run_teams(exec, "selectiv::gla::chunked_fwd::intra_scores", ChunkScores{scores, gate_cumsum, q, k, scale, s});
  chunk_rows_output(exec, o, scores, v, q_decayed, states, scale, false, s);
}

void gla_chunked_bwd(const Exec& exec, View4 dq, View4 dk, View4 dv, View4 dg, View4 dh0, CView4 states, CView4 scores,
                     CView4 do_, CView4 dht, CView4 q, CView4 k, CView4 v, CView4 g, float scale) {
  const Sizes s = sizes_of(q, k, v, g, states, scores);
  require_extents(dq, s.B, s.T, s.H, s.K, "dq");
  require_extents(dk, s.B, s.T, s.H, s.K, "dk");
  require_extents(dg, s.B, s.T, s.H, s.K, "dg");
  require_extents(dv, s.B, s.T, s.H, s.V, "dv");
  require_extents(do_, s.B, s.T, s.H, s.V, "do");
  const bool has_dht = present(dht), has_dh0 = present(dh0);
  if (has_dht) require_extents(dht, s.B, s.H, s.K, s.V, "dht");
  if (has_dh0) require_extents(dh0, s.B, s.H, s.K, s.V, "dh0");

  // Recomputed from the inputs: b, q^, k^ (step 0), and the states when none are given. Workspaces: dstates, dA, z.
  const GateView gate_cumsum = workspace<GateView>("selectiv::gla::gate_cumsum", s.B, s.T, s.H, s.K);
  const View4 q_decayed = workspace<View4>("selectiv::gla::q_decayed", s.B, s.T, s.H, s.K);
  const View4 k_decayed = workspace<View4>("selectiv::gla::k_decayed", s.B, s.T, s.H, s.K);
  const View4 dstates = workspace<View4>("selectiv::gla::dstates", s.B, s.H, s.NT * s.K, s.V);
  const View4 dscores = workspace<View4>("selectiv::gla::dscores", s.B, s.T, s.H, kChunk);
  const View4 z = workspace<View4>("selectiv::gla::dgate_prefix", s.B, s.T, s.H, s.K);

  run_gate_cumsum(exec, "selectiv::gla::chunked_bwd::gate_cumsum", gate_cumsum, q_decayed, k_decayed, q, k, g, s);
  CView4 chunk_states = states;
  if (!present(states)) {  // forward steps 2-3 again, from a zero initial state
    const View4 recomputed = gla_workspace_states(s.B, s.T, s.H, s.K, s.V);
    pass_states(exec, "selectiv::gla::chunked_bwd::state_passing", recomputed, View4(), CView4(), k_decayed, v,
                gate_cumsum, s);
    chunk_states = recomputed;
  }
  chunk_local_product(exec, dstates, q_decayed, do_, scale, s);
  run_scan(exec, "selectiv::gla::chunked_bwd::dstate_passing",
           StateScan{dstates, dh0, gate_cumsum, dht, has_dht, has_dh0, true, s});
  chunk_score_grads(exec, dscores, do_, v, s);
  chunk_rows_output(exec, dv, scores, do_, k_decayed, dstates, 1.0f, true, s);
  inter_chunk_grads(exec, dq, dk, dg, z, chunk_states, dstates, gate_cumsum, q, k, v, do_, scale, s);
  run_teams(exec, "selectiv::gla::chunked_bwd::dqk_intra", DQKIntra{dq, dk, dg, dscores, gate_cumsum, q, k, scale, s});
  Kokkos::parallel_for("selectiv::gla::chunked_bwd::dgate", Kokkos::RangePolicy<Exec>(exec, 0, s.B * s.NT * s.H * s.K),
                       DGate{dg, z, s});
}

}  // namespace selectiv::gla
