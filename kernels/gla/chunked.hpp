// SPDX-License-Identifier: BSD-3-Clause
// The GLA recurrence as chunkwise-parallel Kokkos kernels, forward next to backward (README.md §2-§4).
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::gla {

// Tokens per chunk (C). The last chunk of a sequence may be shorter.
constexpr int kChunk = 64;

// NT = ceil(T / C).
int gla_num_chunks(int T);

// The two tensors the forward saves for the backward (README.md §4), allocated for one (B, T, H, K, V):
//   states (B, H, NT * K, V): states(b, h, n * K + k, v) = S_[n][k, v], the state before chunk n (S_[0] = h0).
//   scores (B, T, H, C):      scores(b, t, h, s) = A_rs, the intra-chunk attention of token t (row r of its chunk)
//                             to row s of the same chunk (0 for s > r).
View4 gla_allocate_states(int B, int T, int H, int K, int V);
View4 gla_allocate_scores(int B, int T, int H);
// The states in a workspace shared by every caller (kernels/common/workspace.hpp): where gla_chunked_bwd recomputes
// them when it is given none; valid until the next request.
View4 gla_workspace_states(int B, int T, int H, int K, int V);

// o_t = scale * S_t^T q_t with S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T, S_{-1} = h0 (zero when h0 is empty),
// ht = S_{T-1} (skipped when ht is empty). Writes the saved tensors states and scores. Sizes come from q and v.
// Runs asynchronously on exec; fence before reading results on the host.
void gla_chunked_fwd(const Exec& exec,
                     View4 o,       // (B, T, H, V)
                     View4 ht,      // (B, H, K, V) or empty
                     View4 states,  // (B, H, NT * K, V) saved for the backward
                     View4 scores,  // (B, T, H, C) saved for the backward
                     CView4 q,      // (B, T, H, K)
                     CView4 k,      // (B, T, H, K)
                     CView4 v,      // (B, T, H, V)
                     CView4 g,      // (B, T, H, K) log-decay, <= 0
                     CView4 h0,     // (B, H, K, V) or empty
                     float scale);

// Gradients given do (and dht, empty for zero). Activation gradients: dq, dk, dv, dg and dh0 (skipped when empty)
// are assigned. states and scores are the forward's, unchanged. The initial state h0 enters only through states.
// With states empty the backward recomputes them from a zero h0 (forward steps 2-3, into gla_workspace_states), so
// a caller may keep only o and scores.
void gla_chunked_bwd(const Exec& exec,
                     View4 dq,       // (B, T, H, K)
                     View4 dk,       // (B, T, H, K)
                     View4 dv,       // (B, T, H, V)
                     View4 dg,       // (B, T, H, K)
                     View4 dh0,      // (B, H, K, V) or empty
                     CView4 states,  // (B, H, NT * K, V) from gla_chunked_fwd, or empty
                     CView4 scores,  // (B, T, H, C) from gla_chunked_fwd
                     CView4 do_,     // (B, T, H, V)
                     CView4 dht,     // (B, H, K, V) or empty
                     CView4 q,       // (B, T, H, K)
                     CView4 k,       // (B, T, H, K)
                     CView4 v,       // (B, T, H, V)
                     CView4 g,       // (B, T, H, K)
                     float scale);

}  // namespace selectiv::gla
