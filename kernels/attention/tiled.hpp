// SPDX-License-Identifier: BSD-3-Clause
// Causal softmax attention on the device, tiled with an online softmax (README.md §2) and a deterministic two-pass
// backward (README.md §3). No T x T matrix is ever allocated: the forward saves only the per-row logsumexp.
#pragma once

#include <cstddef>

#include "kernels/common/views.hpp"

namespace selectiv::attention {

// How a tiled kernel runs: square tiles of `tile` query rows x `tile` key rows, and the team scratch level that holds
// them (0: on-chip, 1: larger and slower). Picked from the head dimension and the backend's scratch limits.
struct TilePlan {
  int tile = 0;
  int scratch_level = 0;
  std::size_t scratch_bytes = 0;  // per team
};

// requested_tile = 0 picks the tile; a positive value forces it (tests use this to cover every tile size).
TilePlan attention_tiled_fwd_plan(int head_dim, int requested_tile = 0);
TilePlan attention_tiled_bwd_plan(int head_dim, int requested_tile = 0);

// The reference Transformer's scale, head_dim^-1/2.
float attention_default_scale(int head_dim);

// o_t = sum_{s<=t} softmax_s(scale q_t.k_s) v_s for every batch row and head; lse_t = log sum_{s<=t} exp(scale q_t.k_s)
// is saved for the backward. Throws std::invalid_argument when the shapes disagree.
void attention_tiled_fwd(const Exec& exec,
                         View4 o,    // (B, T, H, D)
                         View3 lse,  // (B, H, T) saved for the backward
                         CView4 q,   // (B, T, H, D)
                         CView4 k,   // (B, T, H, D)
                         CView4 v,   // (B, T, H, D)
                         float scale, int requested_tile = 0);

// Gradients with respect to q, k and v (assigned, not accumulated), given do_ = dL/do and the forward's saved o and
// lse. Deterministic: every output element is written by one team, with no atomics. Allocates one (B, H, T) float
// workspace for D_t = do_t . o_t.
void attention_tiled_bwd(const Exec& exec,
                         View4 dq,    // (B, T, H, D)
                         View4 dk,    // (B, T, H, D)
                         View4 dv,    // (B, T, H, D)
                         CView4 do_,  // (B, T, H, D)
                         CView4 o,    // (B, T, H, D) saved by the forward
                         CView3 lse,  // (B, H, T) saved by the forward
                         CView4 q,    // (B, T, H, D)
                         CView4 k,    // (B, T, H, D)
                         CView4 v,    // (B, T, H, D)
                         float scale, int requested_tile = 0);

}  // namespace selectiv::attention
