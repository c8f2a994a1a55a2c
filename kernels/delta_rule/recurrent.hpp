// SPDX-License-Identifier: BSD-3-Clause
// The (gated) delta rule with n Householder sub-steps per token as token-by-token Kokkos kernels, forward next to
// backward (README.md §2). The forward runs one thread per state column (b, h, value channel): the columns of S
// evolve independently. The backward runs one thread per state column too, in teams of 32 columns: it recomputes
// the states of a stretch of kCheckpointEvery tokens from the forward's checkpoint, walks back through them, and
// the team sums its columns' shares of dq, dk, dbeta, dg (a second kernel adds the tiles of one head).
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::delta_rule {

// Tokens between two saved states (checkpoints) of the forward.
constexpr int kCheckpointEvery = 16;
// Largest key dim (state rows) the kernels accept: a state column lives in a per-thread array of this size.
constexpr int kMaxKeyDim = 128;

// NC = ceil(T / kCheckpointEvery).
int delta_num_checkpoints(int T);

// checkpoints (B, H, NC * K, V): checkpoints(b, h, c * K + e, v) = S[e, v] before token c * kCheckpointEvery.
View4 delta_allocate_checkpoints(int B, int T, int H, int K, int V);

// Per token t:  S <- exp(g_t) S (no decay when g is empty);  for j = 0..n-1 (sub-step row r = t * n + j):
//   u = v_r - S^T k_r;  S <- S + k_r (beta_r u)^T;   then o_t = scale * S^T q_t.
// S starts at h0 (zero when empty); ht = the final S (skipped when empty). n = k.extent(1) / T. Keys and queries
// are expected l2-normalised (not required). Runs asynchronously on exec.
void delta_recurrent_fwd(const Exec& exec,
                         View4 o,             // (B, T, H, V)
                         View4 ht,            // (B, H, K, V) or empty
                         View4 checkpoints,   // (B, H, NC * K, V) saved for the backward
                         CView4 q,            // (B, T, H, K)
                         CView4 k,            // (B, T * n, H, K)
                         CView4 v,            // (B, T * n, H, V)
                         CView3 beta,         // (B, T * n, H)
                         CView3 g,            // (B, T, H) log-decay <= 0, or empty
                         CView4 h0,           // (B, H, K, V) or empty
                         float scale);

// Gradients given do (and dht, empty for zero): dq, dk, dv, dbeta, dg (skipped when g is empty) and dh0 (skipped
// when empty) are assigned. checkpoints are the forward's (they carry h0).
void delta_recurrent_bwd(const Exec& exec,
                         View4 dq,            // (B, T, H, K)
                         View4 dk,            // (B, T * n, H, K)
                         View4 dv,            // (B, T * n, H, V)
                         View3 dbeta,         // (B, T * n, H)
                         View3 dg,            // (B, T, H) or empty (must be empty when g is)
                         View4 dh0,           // (B, H, K, V) or empty
                         CView4 checkpoints,  // (B, H, NC * K, V) from delta_recurrent_fwd
                         CView4 do_,          // (B, T, H, V)
                         CView4 dht,          // (B, H, K, V) or empty
                         CView4 q,            // (B, T, H, K)
                         CView4 k,            // (B, T * n, H, K)
                         CView4 v,            // (B, T * n, H, V)
                         CView3 beta,         // (B, T * n, H)
                         CView3 g,            // (B, T, H) or empty
                         float scale);

}  // namespace selectiv::delta_rule
