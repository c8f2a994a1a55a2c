// SPDX-License-Identifier: BSD-3-Clause
// The (gated) delta rule in chunkwise-parallel WY / UT form on the interleaved sub-step sequence (README.md §5):
// forward and backward kernels.
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::delta_rule {

// Rows (sub-steps) per chunk of the interleaved sequence of R = T * n rows; the last chunk may be shorter.
constexpr int kChunkRows = 64;

// NR = ceil(R / kChunkRows).
int delta_num_row_chunks(int rows);

// states (B, H, NR * K, V): states(b, h, c * K + e, v) = S[e, v] before row chunk c (S before chunk 0 = h0).
View4 delta_allocate_chunk_states(int B, int rows, int H, int K, int V);
// The same tensor in a workspace shared by every caller (kernels/common/workspace.hpp), for a forward whose states
// are not kept (the backward recomputes them, see delta_chunked_bwd): valid until the next request.
View4 delta_workspace_chunk_states(int B, int rows, int H, int K, int V);

// The same maths as delta_recurrent_fwd (recurrent.hpp), computed chunk by chunk: per chunk of rows with
// cumulative log-decay b (the token's g sits on its sub-step 0), A = (I + strict_tril(diag(beta) (K K^T . Gamma)))^-1,
// W = A diag(beta exp(b)) K, U = A diag(beta) V, V_new = U - W S, S <- exp(b_last) S + (K . exp(b_last - b))^T V_new,
// o = scale (exp(b) Q S + (tril(Q K^T) . Gamma) V_new) on the last sub-step row of every token.
// Writes the chunk-start states. ht skipped when empty. Runs asynchronously on exec.
void delta_chunked_fwd(const Exec& exec,
                       View4 o,        // (B, T, H, V)
                       View4 ht,       // (B, H, K, V) or empty
                       View4 states,   // (B, H, NR * K, V)
                       CView4 q,       // (B, T, H, K)
                       CView4 k,       // (B, T * n, H, K)
                       CView4 v,       // (B, T * n, H, V)
                       CView3 beta,    // (B, T * n, H)
                       CView3 g,       // (B, T, H) log-decay <= 0, or empty
                       CView4 h0,      // (B, H, K, V) or empty
                       float scale);

// Gradients given do (and dht, empty for zero): dq, dk, dv, dbeta, dg (skipped when g is empty) and dh0 (skipped
// when empty) are assigned. states are the forward's, or empty: then the backward recomputes them (one more
// sequential pass over the chunks, into delta_workspace_chunk_states; only for a forward without h0) and the forward
// need not keep them. W, U, V_new and the log-decays are recomputed.
void delta_chunked_bwd(const Exec& exec,
                       View4 dq,       // (B, T, H, K)
                       View4 dk,       // (B, T * n, H, K)
                       View4 dv,       // (B, T * n, H, V)
                       View3 dbeta,    // (B, T * n, H)
                       View3 dg,       // (B, T, H) or empty (must be empty when g is)
                       View4 dh0,      // (B, H, K, V) or empty
                       CView4 states,  // (B, H, NR * K, V) from delta_chunked_fwd, or empty
                       CView4 do_,     // (B, T, H, V)
                       CView4 dht,     // (B, H, K, V) or empty
                       CView4 q,       // (B, T, H, K)
                       CView4 k,       // (B, T * n, H, K)
                       CView4 v,       // (B, T * n, H, V)
                       CView3 beta,    // (B, T * n, H)
                       CView3 g,       // (B, T, H) or empty
                       float scale);

}  // namespace selectiv::delta_rule
