// SPDX-License-Identifier: BSD-3-Clause
// Chunkwise-parallel Mamba2 SSD forward and backward: one function per numbered step of README.md §2-§3, then the
// two orchestrators. Every product of a chunk's tokens with a state, with the masked decayed scores, and the
// head-summed dB / dC products run as batched GEMMs over (b, h, chunk) (kernels/common/batched_gemm.hpp); between them
// row kernels (one vector of lanes per token and head) and team kernels per chunk (the scores, the masks, the decay
// gradients), which stage their tiles in team scratch with coalesced loads (README.md §6).
#include "kernels/ssd/chunked.hpp"

#include <stdexcept>
#include <string>

#include "kernels/common/batched_gemm.hpp"
#include "kernels/common/compat.hpp"
#include "kernels/common/reductions.hpp"
#include "kernels/common/team_product.hpp"
#include "kernels/common/team_stage.hpp"
#include "kernels/common/workspace.hpp"

namespace selectiv::ssd {
namespace {

using Range = Kokkos::RangePolicy<Exec>;
using TeamPolicy = Kokkos::TeamPolicy<Exec>;
using Member = TeamPolicy::member_type;
// Chunk-local cumulative log-decays b, kept in fp64 so that the differences b_r - b_s stay exact (README.md §2).
using CumView = Kokkos::View<double***, Kokkos::LayoutRight, DeviceMem>;  // (B, T, H)
using ScratchMatrix = Kokkos::View<float**, Kokkos::LayoutRight, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
using ScratchVector = Kokkos::View<float*, Kokkos::LayoutRight, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;
using ScratchDoubles = Kokkos::View<double*, Kokkos::LayoutRight, Exec::scratch_memory_space, Kokkos::MemoryUnmanaged>;

// Level-0 team scratch a GPU team may use (shared memory; more lowers occupancy or fails to launch).
constexpr std::size_t kScratchBudget = 48 * 1024;
// Chunks whose state loads the passing steps issue together.
constexpr int kPassGroup = 8;

struct Sizes {
  int B, T, H, P, N, NT;
  TileMath math;  // of every tile product (current_tile_math at the call)
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

// ---- team scratch plans and the team's tile product ----------------------------------------------------------

// Bytes of a scratch matrix of `rows` rows padded to `cols` + 1 floats (threads that walk a column of consecutive
// rows then hit different shared-memory banks).
std::size_t tile_bytes(int rows, int cols) { return ScratchMatrix::shmem_size(rows, cols + 1); }
std::size_t chunk_vectors_bytes() { return ScratchDoubles::shmem_size(kChunk) + 2 * ScratchVector::shmem_size(kChunk); }

// A team kernel's contraction tile width (kt rows of every operand tile are staged per pass) and scratch level.
struct Plan {
  int kt;
  int level;
  std::size_t bytes;
};

// The widest contraction tile in {64, 32, 16, 8} whose scratch fits the level-0 budget; level 1 (global memory on
// a GPU, still correct) only for sizes whose smallest tile does not fit.
template <class BytesOf>
Plan make_plan(const char* who, const BytesOf& bytes_of) {
  const std::size_t level0 = static_cast<std::size_t>(TeamPolicy::scratch_size_max(0));
  const std::size_t budget = level0 < kScratchBudget ? level0 : kScratchBudget;
  for (int kt : {64, 32, 16, 8})
    if (bytes_of(kt) <= budget) return Plan{kt, 0, bytes_of(kt)};
  if (bytes_of(8) <= static_cast<std::size_t>(TeamPolicy::scratch_size_max(1))) return Plan{8, 1, bytes_of(8)};
  throw std::invalid_argument(std::string(who) + ": the SSD tiles need " + std::to_string(bytes_of(8)) +
                              " bytes of team scratch, more than the backend offers");
}

TeamPolicy team_policy(const Exec& exec, int league, const Plan& plan) {
  return TeamPolicy(exec, league, Kokkos::AUTO).set_scratch_size(plan.level, Kokkos::PerTeam(plan.bytes));
}

// Stages tile(x, i) = get(x, i) for x < kx, i < ni. `x_fastest`: consecutive threads take consecutive x (when x
// is the contiguous index of the global source), else consecutive i. Either way the global reads are coalesced.
template <class Get>
KOKKOS_INLINE_FUNCTION void stage(const Member& team, const ScratchMatrix& tile, int kx, int ni, bool x_fastest,
                                  const Get& get) {
  if (x_fastest) {
    team_stage(
        team, ni, kx, [&](int i, int x) { return get(x, i); }, [&](int i, int x, float value) { tile(x, i) = value; });
  } else {
    team_stage(team, kx, ni, get, [&](int x, int i, float value) { tile(x, i) = value; });
  }
}

// The chunk's cumulative log-decays b_r, delta_r and e^{b_r} of head h in scratch.
struct ChunkVectors {
  ScratchDoubles cum;
  ScratchVector delta, decay;
};

KOKKOS_INLINE_FUNCTION ChunkVectors load_chunk_vectors(const Member& team, int level, const CumView& cum,
                                                       const CView3& delta, int b, int h, int t0, int len) {
  ChunkVectors v{ScratchDoubles(team.team_scratch(level), kChunk), ScratchVector(team.team_scratch(level), kChunk),
                 ScratchVector(team.team_scratch(level), kChunk)};
  Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len), [&](const int r) {
    v.cum(r) = cum(b, t0 + r, h);
    v.delta(r) = delta(b, t0 + r, h);
    v.decay(r) = exp_of(v.cum(r));
  });
  return v;
}

// ---- batched GEMMs over (b, h, chunk) ----------------------------------------------------------------------------
// The products of a chunk's tokens with a head's state (and of the head-summed G with B and C) are, per chunk, small
// GEMMs; they run batched (kernels/common/batched_gemm.hpp), reading the operands where they lie.

// f(first chunk, chunks, tokens per chunk), kc::for_chunk_runs over the sequence.
template <class F>
void for_chunk_runs(const Sizes& s, const F& f) {
  kc::for_chunk_runs(s.T, kChunk, f);
}

// The tokens of chunk n0.. of a (B, T, width) tensor from column `col`: batch indices (b, h, chunk), the head index
// moving `head` columns (0: shared by the heads).
template <class T>
kc::MatrixBatchOf<T> token_rows(T* data, std::int64_t width, std::int64_t col, std::int64_t head, int n0,
                                const Sizes& s) {
  return kc::MatrixBatchOf<T>(data + static_cast<std::int64_t>(n0) * kChunk * width + col, width, s.T * width, head,
                              kChunk * width);
}

// The P x N state of each (b, h, chunk) of a (B, NT, H * P, N) tensor, from chunk n0.
template <class ViewType>
kc::MatrixBatchOf<typename ViewType::value_type> chunk_states(const ViewType& x, int n0, const Sizes& s) {
  const std::int64_t per_chunk = static_cast<std::int64_t>(x.stride_1());  // H * P * N
  return kc::MatrixBatchOf<typename ViewType::value_type>(x.data() + n0 * per_chunk, s.N,
                                                          static_cast<std::int64_t>(x.stride_0()),
                                                          static_cast<std::int64_t>(s.P) * s.N, per_chunk);
}

// The states of all heads of each (b, chunk), stacked into one (H * P) x N matrix: chunk_states with the head index
// unused (batch indices (b, 1, chunk)).
template <class ViewType>
kc::MatrixBatchOf<typename ViewType::value_type> stacked_chunk_states(const ViewType& x, int n0, const Sizes& s) {
  auto m = chunk_states(x, n0, s);
  m.stride[1] = 0;
  return m;
}

// f(team, b, t, h) for every token t and head h: one vector of lanes per (b, t, h) (a warp on a GPU, one lane on a
// CPU; f spreads the head dim over them with ThreadVectorRange).
template <class F>
void for_each_token_head(const Exec& exec, const char* label, const Sizes& s, const F& f) {
  const int items = s.B * s.T * s.H, H = s.H, T = s.T;
  Kokkos::parallel_for(
      label, nn::detail::vector_per_item(exec, items), KOKKOS_LAMBDA(const Member& team) {
        const int item = nn::detail::vector_item(team);
        if (item < items) f(team, item / (H * T), (item / H) % T, item % H);
      });
}

// x_tail = e^{b_L - b_s} delta_s x_s and (when dy is given) dy_decayed = e^{b_r} dy_r, per (b, t, h).
void decayed_tokens(const Exec& exec, View4 x_tail, View4 dy_decayed, CView3 delta, CumView cum, CView3 xbc, CView4 dy,
                    const Sizes s, const char* label) {
  const bool with_dy = dy.data() != nullptr;
  for_each_token_head(
      exec, label, s, KOKKOS_LAMBDA(const Member& team, int b, int t, int h) {
        const int last = s.chunk_end(t / kChunk) - 1;
        const double b_t = cum(b, t, h);
        const float head = exp_of(b_t), tail = exp_of(cum(b, last, h) - b_t) * delta(b, t, h);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, s.P), [&](const int p) {
          x_tail(b, t, h, p) = tail * xbc(b, t, s.xcol(h, p));
          if (with_dy) dy_decayed(b, t, h, p) = head * dy(b, t, h, p);
        });
      });
}

// ---- forward ---------------------------------------------------------------------------------------------------

// Step 1 (also backward step 0): delta = softplus(dt + dt_bias), b_r = sum_{s<=r} -exp(A_log) delta_s within the
// chunk. One thread per (b, h, chunk).
void gate_cumsum(const Exec& exec, View3 delta, CumView cum, CView3 dt, CView1 dt_bias, CView1 A_log, const Sizes s,
                 const char* label) {
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

// Step 2 (and backward step 1): out[n] = decayed^T Z over the chunk's tokens, Z the N columns of xbc from `col`: a
// batched GEMM over (b, h, chunk). Forward: U_n[p, k] = sum_s (e^{b_L - b_s} delta_s x_s[p]) B_s[k] (decayed =
// x_tail, Z = B) into states[n]; backward: W_n[p, k] = sum_r (e^{b_r} dy_r[p]) C_r[k] (dy_decayed, C) into dstates[n].
void chunk_local_states(const Exec& exec, View4 out, CView4 decayed, CView3 xbc, int col, const Sizes s) {
  const std::int64_t width = xbc.extent(2), HP = static_cast<std::int64_t>(s.H) * s.P;
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    kc::gemm_batched(exec, "T", "N", s.P, s.N, len, 1.0f, token_rows(decayed.data(), HP, 0, s.P, n0, s),
                     token_rows(xbc.data(), width, col, 0, n0, s), 0.0f, chunk_states(out, n0, s),
                     kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
}

// Step 3: S = 0; for each chunk: states[n] <- S (was U_n); S <- e^{b_L} S + U_n. One thread per state entry
// (consecutive threads, consecutive k: coalesced). The U_n of kPassGroup chunks are loaded before any is
// overwritten, so their loads are in flight together instead of one memory latency per chunk.
void state_passing(const Exec& exec, View4 states, CumView cum, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_fwd::state_passing", Range(exec, 0, s.B * s.H * s.P * s.N), KOKKOS_LAMBDA(const int i) {
        const int k = i % s.N, p = (i / s.N) % s.P, h = (i / (s.N * s.P)) % s.H, b = i / (s.N * s.P * s.H);
        float S = 0.0f;
        for (int n0 = 0; n0 < s.NT; n0 += kPassGroup) {
          const int count = s.NT - n0 < kPassGroup ? s.NT - n0 : kPassGroup;
          float U[kPassGroup], decay[kPassGroup];
          for (int j = 0; j < kPassGroup; ++j) {
            if (j < count) {
              U[j] = states(b, n0 + j, h * s.P + p, k);
              decay[j] = exp_of(cum(b, s.chunk_end(n0 + j) - 1, h));
            }
          }
          for (int j = 0; j < kPassGroup; ++j) {
            if (j < count) {
              states(b, n0 + j, h * s.P + p, k) = S;
              S = decay[j] * S + U[j];
            }
          }
        }
      });
}

// Step 4: scores(b, t, s) = C_t . B_{t0+s} for s <= r = t - t0 (0 above the diagonal), shared by all heads. One team
// per (b, chunk); tiles of C and B over the state dimension; the Q x Q result accumulates in place.
void chunk_scores(const Exec& exec, View3 scores, CView3 xbc, const Sizes s) {
  const Plan plan = make_plan("ssd_chunked_fwd", [&](int kt) { return 2 * tile_bytes(kt, kChunk); });
  const int level = plan.level, kt = plan.kt;
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_fwd::chunk_scores", team_policy(exec, s.B * s.NT, plan),
      KOKKOS_LAMBDA(const Member& team) {
        const int n = team.league_rank() % s.NT, b = team.league_rank() / s.NT;
        const int t0 = n * kChunk, len = s.chunk_end(n) - t0;
        ScratchMatrix c_tile(team.team_scratch(level), kt, kChunk + 1);  // (k, r)
        ScratchMatrix b_tile(team.team_scratch(level), kt, kChunk + 1);  // (k, s)
        for (int k0 = 0; k0 < s.N; k0 += kt) {
          const int kx = kc::min(kt, s.N - k0);
          stage(team, c_tile, kx, len, true, [&](int x, int r) { return xbc(b, t0 + r, s.ccol(k0 + x)); });
          stage(team, b_tile, kx, len, true, [&](int x, int j) { return xbc(b, t0 + j, s.bcol(k0 + x)); });
          team.team_barrier();
          team_product(
              team, s.math, len, len, kx, [&](int r, int x) { return c_tile(x, r); },
              [&](int j, int x) { return b_tile(x, j); },
              [&](int r, int j, float dot) {
                float& out = scores(b, t0 + r, j);
                out = (k0 == 0 ? 0.0f : out) + dot;
              });
          team.team_barrier();
        }
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len * kChunk), [&](const int e) {
          const int r = e / kChunk, j = e % kChunk;
          if (j > r) scores(b, t0 + r, j) = 0.0f;
        });
      });
}

// The masked decayed scores of every (b, h, chunk), M(b, t0 + r, h, s) = scores_rs e^{b_r - b_s} w_s for s <= r, 0
// above the diagonal (a (B, T, H, Q) tensor, read as the (Q x Q) matrix of each chunk), with w = delta when given,
// else 1; the forward's extras when given: D(h) added on the diagonal, and the rows of y_state (B, T, H, P) scaled by
// e^{b_r}. One team per (b, h, chunk), the chunk's log-decays in scratch.
void decayed_scores(const Exec& exec, const char* label, View4 M, CView3 scores, CumView cum, CView3 delta, CView1 D,
                    View4 y_state, const Sizes s) {
  const std::size_t bytes = ScratchDoubles::shmem_size(kChunk);
  const int level = bytes <= static_cast<std::size_t>(TeamPolicy::scratch_size_max(0)) ? 0 : 1;
  const bool with_delta = delta.data() != nullptr, with_D = D.data() != nullptr, with_y = y_state.data() != nullptr;
  Kokkos::parallel_for(
      label, TeamPolicy(exec, s.B * s.H * s.NT, Kokkos::AUTO).set_scratch_size(level, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(const Member& team) {
        const int i = team.league_rank();
        const int n = i % s.NT, h = (i / s.NT) % s.H, b = i / (s.NT * s.H);
        const int t0 = n * kChunk, len = s.chunk_end(n) - t0;
        ScratchDoubles b_of(team.team_scratch(level), kChunk);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len), [&](const int r) { b_of(r) = cum(b, t0 + r, h); });
        team.team_barrier();
        const float D_h = with_D ? D(h) : 0.0f;
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len * len), [&](const int e) {
          const int r = e / len, u = e % len;
          float m = 0.0f;
          if (u <= r) {
            m = scores(b, t0 + r, u) * exp_of(b_of(r) - b_of(u));
            if (with_delta) m *= delta(b, t0 + u, h);
            if (u == r) m += D_h;
          }
          M(b, t0 + r, h, u) = m;
        });
        if (!with_y) return;
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len * s.P), [&](const int e) {
          const int r = e / s.P, p = e % s.P;
          y_state(b, t0 + r, h, p) *= exp_of(b_of(r));
        });
      });
}

// Step 5: y_r[p] = sum_k (e^{b_r} C_r[k]) S_[n][p, k] + sum_{s<=r} (scores_rs e^{b_r - b_s} delta_s) x_s[p]
// + D x_r[p], as batched GEMMs over (b, h, chunk): the state part C S^T into y; then (decayed_scores) its rows scaled
// by e^{b_r} and M_rs = scores_rs e^{b_r - b_s} delta_s (+ D on the diagonal); then y += M x.
void chunk_output(const Exec& exec, View4 y, CView3 xbc, CView3 delta, CumView cum, CView4 states, CView3 scores,
                  CView1 D, const Sizes s) {
  const std::int64_t width = xbc.extent(2), HP = static_cast<std::int64_t>(s.H) * s.P;
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    kc::gemm_batched(exec, "N", "T", len, s.P, s.N, 1.0f, token_rows(xbc.data(), width, s.ccol(0), 0, n0, s),
                     chunk_states(states, n0, s), 0.0f, token_rows(y.data(), HP, 0, s.P, n0, s),
                     kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
  const View4 M = workspace<View4>("selectiv::ssd::decayed_scores", s.B, s.T, s.H, kChunk);
  decayed_scores(exec, "selectiv::ssd::chunked_fwd::decayed_scores", M, scores, cum, delta, D, y, s);
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    kc::gemm_batched(exec, "N", "N", len, s.P, len, 1.0f,
                     token_rows(M.data(), static_cast<std::int64_t>(s.H) * kChunk, 0, kChunk, n0, s),
                     token_rows(xbc.data(), width, s.xcol(0, 0), s.P, n0, s), 1.0f,
                     token_rows(y.data(), HP, 0, s.P, n0, s), kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
}

// ---- backward --------------------------------------------------------------------------------------------------

// Step 2: dS = 0; for n = NT-1..0: dstates[n] <- dS (was W_n); dS <- e^{b_L} dS + W_n. Afterwards dstates[n] is
// dS', the gradient of the state at the end of chunk n. Loads grouped as in state_passing.
void dstate_passing(const Exec& exec, View4 dstates, CumView cum, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::dstate_passing", Range(exec, 0, s.B * s.H * s.P * s.N), KOKKOS_LAMBDA(const int i) {
        const int k = i % s.N, p = (i / s.N) % s.P, h = (i / (s.N * s.P)) % s.H, b = i / (s.N * s.P * s.H);
        float dS = 0.0f;
        for (int n1 = s.NT - 1; n1 >= 0; n1 -= kPassGroup) {
          const int count = n1 + 1 < kPassGroup ? n1 + 1 : kPassGroup;  // chunks n1, n1 - 1, ..., n1 - count + 1
          float W[kPassGroup], decay[kPassGroup];
          for (int j = 0; j < kPassGroup; ++j) {
            if (j < count) {
              W[j] = dstates(b, n1 - j, h * s.P + p, k);
              decay[j] = exp_of(cum(b, s.chunk_end(n1 - j) - 1, h));
            }
          }
          for (int j = 0; j < kPassGroup; ++j) {
            if (j < count) {
              dstates(b, n1 - j, h * s.P + p, k) = dS;
              dS = decay[j] * dS + W[j];
            }
          }
        }
      });
}

// Step 3: dyx(b, t, h, s) = dy_r . x_s, r = t - t0, per chunk: one batched GEMM over (b, h, chunk). Only s <= r
// is read by the later steps; the entries above the diagonal are written too and left as they are.
void output_input_dots(const Exec& exec, View4 dyx, CView4 dy, CView3 xbc, const Sizes s) {
  const std::int64_t width = xbc.extent(2), HP = static_cast<std::int64_t>(s.H) * s.P;
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    kc::gemm_batched(exec, "N", "T", len, len, s.P, 1.0f, token_rows(dy.data(), HP, 0, s.P, n0, s),
                     token_rows(xbc.data(), width, s.xcol(0, 0), s.P, n0, s), 0.0f,
                     token_rows(dyx.data(), static_cast<std::int64_t>(s.H) * kChunk, 0, kChunk, n0, s),
                     kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
}

// Steps 4 and 6: per token s of the chunk, with du_s = e^{b_L - b_s} (dS' B_s) + sum_{r>=s} M_rs dy_r and the masked
// decayed scores M_rs = scores_rs e^{b_r - b_s} (r >= s, else 0):  dx_s = delta_s du_s + D dy_s,  ddelta_s (direct) =
// x_s . du_s,  beta_s = delta_s e^{b_L - b_s} x_s . (dS' B_s) = x_tail_s . (dS' B_s),  alpha_s = e^{b_s} dy_s .
// (S_[n] C_s),  and dy_s . x_s (the diagonal of dyx, for dD). Every product is a batched GEMM over (b, h, chunk):
// dS' B_s into du and S_[n] C_s into state_c; then per token and head (state_terms) beta, alpha, dD's diagonal and
// du <- e^{b_L - b_s} du; per chunk (decayed_scores) M; du += M^T dy; per token and head (input_terms) dx, ddelta.
void dx_token_terms(const Exec& exec, View3 dxbc, View3 alpha, View3 beta, View3 ddelta, View3 dD_part, CView3 delta,
                    CumView cum, CView4 states, CView4 dstates, CView3 scores, CView4 dyx, CView4 dy, CView4 x_tail,
                    CView3 xbc, CView1 D, const Sizes s) {
  const View4 du = workspace<View4>("selectiv::ssd::du", s.B, s.T, s.H, s.P);
  const View4 state_c = workspace<View4>("selectiv::ssd::state_times_c", s.B, s.T, s.H, s.P);
  const View4 M = workspace<View4>("selectiv::ssd::decayed_scores", s.B, s.T, s.H, kChunk);
  const std::int64_t width = xbc.extent(2), HP = static_cast<std::int64_t>(s.H) * s.P;
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    const kc::BatchCount batch{{s.B, s.H, chunks}};
    kc::gemm_batched(exec, "N", "T", len, s.P, s.N, 1.0f, token_rows(xbc.data(), width, s.bcol(0), 0, n0, s),
                     chunk_states(dstates, n0, s), 0.0f, token_rows(du.data(), HP, 0, s.P, n0, s), batch, s.math);
    kc::gemm_batched(exec, "N", "T", len, s.P, s.N, 1.0f, token_rows(xbc.data(), width, s.ccol(0), 0, n0, s),
                     chunk_states(states, n0, s), 0.0f, token_rows(state_c.data(), HP, 0, s.P, n0, s), batch, s.math);
  });
  for_each_token_head(
      exec, "selectiv::ssd::chunked_bwd::state_terms", s, KOKKOS_LAMBDA(const Member& team, int b, int t, int h) {
        const int t0 = t / kChunk * kChunk, last = s.chunk_end(t / kChunk) - 1;
        const double b_t = cum(b, t, h);
        const float tail = exp_of(cum(b, last, h) - b_t);
        float beta_dot = 0.0f, alpha_dot = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, s.P),
            [&](int p, float& acc) { acc += x_tail(b, t, h, p) * du(b, t, h, p); }, beta_dot);
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, s.P),
            [&](int p, float& acc) { acc += dy(b, t, h, p) * state_c(b, t, h, p); }, alpha_dot);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, s.P), [&](int p) { du(b, t, h, p) *= tail; });
        Kokkos::single(Kokkos::PerThread(team), [&]() {
          beta(b, t, h) = beta_dot;
          alpha(b, t, h) = exp_of(b_t) * alpha_dot;
          dD_part(b, t, h) = dyx(b, t, h, t - t0);
        });
      });
  decayed_scores(exec, "selectiv::ssd::chunked_bwd::decayed_scores", M, scores, cum, CView3(), CView1(), View4(), s);
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    kc::gemm_batched(exec, "T", "N", len, s.P, len, 1.0f,
                     token_rows(M.data(), static_cast<std::int64_t>(s.H) * kChunk, 0, kChunk, n0, s),
                     token_rows(dy.data(), HP, 0, s.P, n0, s), 1.0f, token_rows(du.data(), HP, 0, s.P, n0, s),
                     kc::BatchCount{{s.B, s.H, chunks}}, s.math);
  });
  for_each_token_head(
      exec, "selectiv::ssd::chunked_bwd::input_terms", s, KOKKOS_LAMBDA(const Member& team, int b, int t, int h) {
        const float delta_t = delta(b, t, h), D_h = D(h);
        float dot = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(team, s.P),
            [&](int p, float& acc) {
              const float du_p = du(b, t, h, p);
              dxbc(b, t, s.xcol(h, p)) = delta_t * du_p + D_h * dy(b, t, h, p);
              acc += xbc(b, t, s.xcol(h, p)) * du_p;
            },
            dot);
        Kokkos::single(Kokkos::PerThread(team), [&]() { ddelta(b, t, h) = dot; });
      });
}

// Step 5: dB and dC, summed over heads (README.md §3). With the head-summed decayed dots
// G_rs = sum_h e^{b_r - b_s} delta_s dyx_rs (s <= r):
//   dC_r = sum_s G_rs B_s + sum_{h,p} (e^{b_r} dy_r[h, p]) S_[n][h][p, :]
//   dB_s = sum_r G_rs C_r + sum_{h,p} (e^{b_L - b_s} delta_s x_s[h, p]) dS'[h][p, :]
// G per (b, chunk) and the decayed dy and x per token (head_summed_dots), then batched GEMMs over (b, chunk): G B and
// G^T C, plus one accumulating GEMM each for the state terms, contracting over (h, p) (the states of a chunk are laid
// out head after head, so all heads' states form one (H P) x N matrix).

// G (B * NT, Q, Q) of every (b, chunk): one team per chunk, the chunk's log-decays and deltas of every head in scratch.
void head_summed_dots(const Exec& exec, View3 G, CView3 delta, CumView cum, CView4 dyx, const Sizes s) {
  const std::size_t bytes = ScratchDoubles::shmem_size(s.H * kChunk) + ScratchVector::shmem_size(s.H * kChunk);
  const int level = bytes <= static_cast<std::size_t>(TeamPolicy::scratch_size_max(0)) ? 0 : 1;
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::head_summed_dots",
      TeamPolicy(exec, s.B * s.NT, Kokkos::AUTO).set_scratch_size(level, Kokkos::PerTeam(bytes)),
      KOKKOS_LAMBDA(const Member& team) {
        const int n = team.league_rank() % s.NT, b = team.league_rank() / s.NT;
        const int t0 = n * kChunk, len = s.chunk_end(n) - t0;
        ScratchDoubles b_of(team.team_scratch(level), s.H * kChunk);  // (h, r)
        ScratchVector delta_of(team.team_scratch(level), s.H * kChunk);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len * s.H), [&](const int e) {
          const int r = e / s.H, h = e % s.H;
          b_of(h * kChunk + r) = cum(b, t0 + r, h);
          delta_of(h * kChunk + r) = delta(b, t0 + r, h);
        });
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len * len), [&](const int e) {
          const int r = e / len, u = e % len;
          float g = 0.0f;
          if (u <= r)
            for (int h = 0; h < s.H; ++h)
              g +=
                  exp_of(b_of(h * kChunk + r) - b_of(h * kChunk + u)) * delta_of(h * kChunk + u) * dyx(b, t0 + r, h, u);
          G(b * s.NT + n, r, u) = g;
        });
      });
}

void dbc_step(const Exec& exec, View3 dxbc, CView3 delta, CumView cum, CView4 states, CView4 dstates, CView4 dyx,
              CView4 dy_decayed, CView4 x_tail, CView3 xbc, const Sizes s) {
  const View3 G = workspace<View3>("selectiv::ssd::head_summed_dots", s.B * s.NT, kChunk, kChunk);
  head_summed_dots(exec, G, delta, cum, dyx, s);
  const std::int64_t width = xbc.extent(2), HP = static_cast<std::int64_t>(s.H) * s.P;
  for_chunk_runs(s, [&](int n0, int chunks, int len) {
    // batch indices (b, 1, chunk): the head index is unused (G and dB, dC are summed over the heads)
    const kc::BatchCount batch{{s.B, 1, chunks}};
    const kc::ConstMatrixBatch g(G.data() + static_cast<std::int64_t>(n0) * kChunk * kChunk, kChunk,
                                 static_cast<std::int64_t>(s.NT) * kChunk * kChunk, 0, kChunk * kChunk);
    const auto dC = token_rows(dxbc.data(), width, s.ccol(0), 0, n0, s);
    const auto dB = token_rows(dxbc.data(), width, s.bcol(0), 0, n0, s);
    kc::gemm_batched(exec, "N", "N", len, s.N, len, 1.0f, g, token_rows(xbc.data(), width, s.bcol(0), 0, n0, s), 0.0f,
                     dC, batch, s.math);
    kc::gemm_batched(exec, "T", "N", len, s.N, len, 1.0f, g, token_rows(xbc.data(), width, s.ccol(0), 0, n0, s), 0.0f,
                     dB, batch, s.math);
    // the state terms, summed over the heads: one contraction over (h, p), the chunk's states of all heads stacked
    kc::gemm_batched(exec, "N", "N", len, s.N, HP, 1.0f, token_rows(dy_decayed.data(), HP, 0, 0, n0, s),
                     stacked_chunk_states(states, n0, s), 1.0f, dC, batch, s.math);
    kc::gemm_batched(exec, "N", "N", len, s.N, HP, 1.0f, token_rows(x_tail.data(), HP, 0, 0, n0, s),
                     stacked_chunk_states(dstates, n0, s), 1.0f, dB, batch, s.math);
  });
}

// Step 7: gamma_n = e^{b_L} <dS', S_[n]> per (b, h, chunk): one team per chunk, a coalesced team reduction.
void chunk_gamma(const Exec& exec, View3 gamma, CumView cum, CView4 states, CView4 dstates, const Sizes s) {
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::chunk_gamma", TeamPolicy(exec, s.B * s.H * s.NT, Kokkos::AUTO),
      KOKKOS_LAMBDA(const Member& team) {
        const int i = team.league_rank();
        const int n = i % s.NT, h = (i / s.NT) % s.H, b = i / (s.NT * s.H);
        float acc = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, s.P * s.N),
            [&](const int e, float& part) {
              const int p = e / s.N, k = e % s.N;
              part += dstates(b, n, h * s.P + p, k) * states(b, n, h * s.P + p, k);
            },
            acc);
        Kokkos::single(Kokkos::PerTeam(team), [&]() { gamma(b, h, n) = exp_of(cum(b, s.chunk_end(n) - 1, h)) * acc; });
      });
}

// Step 8: dg_t = sum_{r>=t} alpha_r + sum_{r>=t, s<t} M_rs + gamma + sum_{s<t} beta_s with M_rs = scores_rs
// e^{b_r - b_s} delta_s dyx_rs; then ddt = (ddelta + dg A) softplus'(dt + dt_bias) and the per-token parts of dA_log.
// One team per (b, h, chunk): M is staged in scratch (coalesced rows of scores and dyx) and turned into row prefix
// sums, pref_rt = sum_{s<t} M_rs, so that token t adds pref_rt over r >= t (O(Q) per token, not O(Q^2)).
void decay_grads(const Exec& exec, View3 ddt, View3 dA_part, CView3 alpha, CView3 beta, CView3 ddelta, CView3 gamma,
                 CView3 delta, CumView cum, CView3 scores, CView4 dyx, CView3 dt, CView1 dt_bias, CView1 A_log,
                 const Sizes s) {
  const Plan plan =
      make_plan("ssd_chunked_bwd", [&](int) { return chunk_vectors_bytes() + tile_bytes(kChunk, kChunk); });
  const int level = plan.level;
  Kokkos::parallel_for(
      "selectiv::ssd::chunked_bwd::decay_grads", team_policy(exec, s.B * s.H * s.NT, plan),
      KOKKOS_LAMBDA(const Member& team) {
        const int i = team.league_rank();
        const int n = i % s.NT, h = (i / s.NT) % s.H, b = i / (s.NT * s.H);
        const int t0 = n * kChunk, len = s.chunk_end(n) - t0;
        const ChunkVectors v = load_chunk_vectors(team, level, cum, delta, b, h, t0, len);
        ScratchMatrix pref(team.team_scratch(level), kChunk, kChunk + 1);  // (r, s): M_rs, then pref_rs, s <= r
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len * len), [&](const int e) {
          const int r = e / len, u = e % len;
          if (u < r)
            pref(r, u) = scores(b, t0 + r, u) * exp_of(v.cum(r) - v.cum(u)) * v.delta(u) * dyx(b, t0 + r, h, u);
        });
        team.team_barrier();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len), [&](const int r) {
          float run = 0.0f;
          for (int t = 0; t <= r; ++t) {
            const float m = t < r ? pref(r, t) : 0.0f;
            pref(r, t) = run;
            run += m;
          }
        });
        team.team_barrier();
        const float A = -kc::exp(A_log(h));
        const float gamma_n = gamma(b, h, n);
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, len), [&](const int t) {
          float dg = gamma_n;
          for (int r = t; r < len; ++r) dg += alpha(b, t0 + r, h);
          for (int u = 0; u < t; ++u) dg += beta(b, t0 + u, h);
          for (int r = t; r < len; ++r) dg += pref(r, t);
          const float d_delta = ddelta(b, t0 + t, h) + dg * A;
          ddt(b, t0 + t, h) = d_delta * softplus_grad_of(dt(b, t0 + t, h) + dt_bias(h));
          dA_part(b, t0 + t, h) = dg * A * v.delta(t);  // dg * d(g_t)/d(A_log), g_t = A delta_t
        });
      });
}

// Step 9: the parameter gradients, reduced over (b, t) and accumulated: the 3 H columns (ddt, dA_part, dD_part of
// every head) of the (B T) rows summed in two deterministic passes (nn::detail::column_sums; one team per head took
// 0.9 ms per call at d = 256, T = 1300, B = 64 on an H200).
void parameter_grads(const Exec& exec, View1 d_dt_bias, View1 dA_log, View1 dD, CView3 ddt, CView3 dA_part,
                     CView3 dD_part, const Sizes s) {
  const int H = s.H, T = s.T;
  nn::detail::column_sums(
      exec, "selectiv::ssd::chunked_bwd::parameter_grads_partial", "selectiv::ssd::chunked_bwd::parameter_grads",
      s.B * s.T, 3 * H,
      KOKKOS_LAMBDA(int row, int col) {
        const int b = row / T, t = row % T, h = col % H;
        return col < H ? ddt(b, t, h) : col < 2 * H ? dA_part(b, t, h) : dD_part(b, t, h);
      },
      KOKKOS_LAMBDA(int col, float total) {
        const int h = col % H;
        if (col < H) {
          d_dt_bias(h) += total;
        } else if (col < 2 * H) {
          dA_log(h) += total;
        } else {
          dD(h) += total;
        }
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
  s.math = current_tile_math();
  if (static_cast<int>(dt.extent(0)) != s.B || static_cast<int>(dt.extent(1)) != s.T ||
      static_cast<int>(dt.extent(2)) != H || static_cast<int>(dt_bias.extent(0)) != H ||
      static_cast<int>(A_log.extent(0)) != H || static_cast<int>(D.extent(0)) != H)
    throw std::invalid_argument(std::string(who) + ": dt must be (B, T, H) and dt_bias, A_log, D (H)");
  return s;
}

// Throws unless states and (when `with_scores`) scores have the extents of s.
// states may be empty for the backward (it recomputes them then).
void check_saved(const char* who, const Sizes& s, const CView4& states, const CView3& scores) {
  const bool states_ok =
      (states.data() == nullptr && std::string(who) == "ssd_chunked_bwd") ||
      (static_cast<int>(states.extent(0)) == s.B && static_cast<int>(states.extent(1)) == s.NT &&
       static_cast<int>(states.extent(2)) == s.H * s.P && static_cast<int>(states.extent(3)) == s.N);
  if (!states_ok || static_cast<int>(scores.extent(0)) != s.B || static_cast<int>(scores.extent(1)) != s.T ||
      static_cast<int>(scores.extent(2)) != kChunk)
    throw std::invalid_argument(std::string(who) + ": states / scores do not match (B, T, H, P, N)");
}

}  // namespace

int ssd_num_chunks(int T) { return (T + kChunk - 1) / kChunk; }

View4 ssd_allocate_states(int B, int T, int H, int P, int N) {
  return View4("selectiv::ssd::states", B, ssd_num_chunks(T), static_cast<std::size_t>(H) * P, N);
}

View3 ssd_allocate_scores(int B, int T) { return View3("selectiv::ssd::scores", B, T, kChunk); }

View4 ssd_workspace_states(int B, int T, int H, int P, int N) {
  return workspace<View4>("selectiv::ssd::states", B, ssd_num_chunks(T), static_cast<std::size_t>(H) * P, N);
}

void ssd_chunked_fwd(const Exec& exec, View4 y, View4 states, View3 scores, CView3 xbc, CView3 dt, CView1 dt_bias,
                     CView1 A_log, CView1 D) {
  const Sizes s = sizes_of("ssd_chunked_fwd", xbc, static_cast<int>(dt.extent(2)), static_cast<int>(y.extent(3)), dt,
                           dt_bias, A_log, D);
  if (static_cast<int>(y.extent(0)) != s.B || static_cast<int>(y.extent(1)) != s.T ||
      static_cast<int>(y.extent(2)) != s.H)
    throw std::invalid_argument("ssd_chunked_fwd: y must be (B, T, H, P)");
  check_saved("ssd_chunked_fwd", s, states, scores);
  View3 delta = workspace<View3>("selectiv::ssd::delta", s.B, s.T, s.H);
  CumView cum = workspace<CumView>("selectiv::ssd::cum", s.B, s.T, s.H);
  View4 x_tail = workspace<View4>("selectiv::ssd::x_tail", s.B, s.T, s.H, s.P);
  gate_cumsum(exec, delta, cum, dt, dt_bias, A_log, s, "selectiv::ssd::chunked_fwd::gate_cumsum");
  decayed_tokens(exec, x_tail, View4(), delta, cum, xbc, CView4(), s, "selectiv::ssd::chunked_fwd::decayed_tokens");
  chunk_local_states(exec, states, x_tail, xbc, s.bcol(0), s);
  state_passing(exec, states, cum, s);
  chunk_scores(exec, scores, xbc, s);
  chunk_output(exec, y, xbc, delta, cum, states, scores, D, s);
}

void ssd_chunked_bwd(const Exec& exec, View3 dxbc, View3 ddt, View1 d_dt_bias, View1 dA_log, View1 dD, CView4 states,
                     CView3 scores, CView4 dy, CView3 xbc, CView3 dt, CView1 dt_bias, CView1 A_log, CView1 D) {
  const Sizes s = sizes_of("ssd_chunked_bwd", xbc, static_cast<int>(dy.extent(2)), static_cast<int>(dy.extent(3)), dt,
                           dt_bias, A_log, D);
  check_saved("ssd_chunked_bwd", s, states, scores);
  if (dxbc.extent(0) != xbc.extent(0) || dxbc.extent(1) != xbc.extent(1) || dxbc.extent(2) != xbc.extent(2) ||
      ddt.extent(0) != dt.extent(0) || ddt.extent(1) != dt.extent(1) || ddt.extent(2) != dt.extent(2) ||
      static_cast<int>(d_dt_bias.extent(0)) != s.H || static_cast<int>(dA_log.extent(0)) != s.H ||
      static_cast<int>(dD.extent(0)) != s.H)
    throw std::invalid_argument("ssd_chunked_bwd: gradient shapes do not match their inputs");
  View3 delta = workspace<View3>("selectiv::ssd::delta", s.B, s.T, s.H);
  CumView cum = workspace<CumView>("selectiv::ssd::cum", s.B, s.T, s.H);
  View4 dstates = workspace<View4>("selectiv::ssd::dstates", s.B, s.NT, s.H * s.P, s.N);
  View4 dyx = workspace<View4>("selectiv::ssd::dyx", s.B, s.T, s.H, kChunk);
  View3 alpha = workspace<View3>("selectiv::ssd::alpha", s.B, s.T, s.H);
  View3 beta = workspace<View3>("selectiv::ssd::beta", s.B, s.T, s.H);
  View3 ddelta = workspace<View3>("selectiv::ssd::ddelta", s.B, s.T, s.H);
  View3 dD_part = workspace<View3>("selectiv::ssd::dD_part", s.B, s.T, s.H);
  View3 dA_part = workspace<View3>("selectiv::ssd::dA_part", s.B, s.T, s.H);
  View3 gamma = workspace<View3>("selectiv::ssd::gamma", s.B, s.H, s.NT);

  View4 x_tail = workspace<View4>("selectiv::ssd::x_tail", s.B, s.T, s.H, s.P);
  View4 dy_decayed = workspace<View4>("selectiv::ssd::dy_decayed", s.B, s.T, s.H, s.P);
  gate_cumsum(exec, delta, cum, dt, dt_bias, A_log, s, "selectiv::ssd::chunked_bwd::gate_cumsum");
  decayed_tokens(exec, x_tail, dy_decayed, delta, cum, xbc, dy, s, "selectiv::ssd::chunked_bwd::decayed_tokens");
  if (states.data() == nullptr) {  // forward steps 2-3 again
    const View4 recomputed = ssd_workspace_states(s.B, s.T, s.H, s.P, s.N);
    chunk_local_states(exec, recomputed, x_tail, xbc, s.bcol(0), s);
    state_passing(exec, recomputed, cum, s);
    states = recomputed;
  }
  chunk_local_states(exec, dstates, dy_decayed, xbc, s.ccol(0), s);  // step 1: W_n
  dstate_passing(exec, dstates, cum, s);
  output_input_dots(exec, dyx, dy, xbc, s);
  dx_token_terms(exec, dxbc, alpha, beta, ddelta, dD_part, delta, cum, states, dstates, scores, dyx, dy, x_tail, xbc, D,
                 s);
  dbc_step(exec, dxbc, delta, cum, states, dstates, dyx, dy_decayed, x_tail, xbc, s);
  chunk_gamma(exec, gamma, cum, states, dstates, s);
  decay_grads(exec, ddt, dA_part, alpha, beta, ddelta, gamma, delta, cum, scores, dyx, dt, dt_bias, A_log, s);
  parameter_grads(exec, d_dt_bias, dA_log, dD, ddt, dA_part, dD_part, s);
}

}  // namespace selectiv::ssd
