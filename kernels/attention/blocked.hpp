// SPDX-License-Identifier: BSD-3-Clause
// Causal softmax attention through blocks of the score matrix (README.md §4): per block of query rows, the scores
// against every key up to the block's last row are one batched GEMM over (b, h), a row kernel turns them into
// probabilities, and a second GEMM gives the outputs; the backward recomputes the block's probabilities and runs its
// five products as batched GEMMs. The GEMMs go to cuBLAS on a CUDA build (tensor cores in tf32 / bf16), so on a GPU
// this is far faster than the tiled kernels (tiled.hpp), at the price of a score workspace of at most
// kScoreBlockBytes (two in the backward).
#pragma once

#include <cstddef>

#include "kernels/common/views.hpp"

namespace selectiv::attention {

// Bytes of one score workspace: (B * H) x rows x T floats, rows chosen to fit.
constexpr std::size_t kScoreBlockBytes = std::size_t(512) << 20;

// Query rows per block for (B, H, T): the most that keep a (B * H, rows, T) float block within kScoreBlockBytes (a
// multiple of 16 when that is at least 16), at least 1, at most T. requested_rows > 0 forces it (tests cover several
// blocks with short sequences); requested_rows < 0 throws std::invalid_argument.
int attention_blocked_rows(int batch, int heads, int length, int requested_rows = 0);

// As attention_tiled_fwd (tiled.hpp): o_t = sum_{s<=t} softmax_s(scale q_t.k_s) v_s and lse_t = log sum_{s<=t}
// exp(scale q_t.k_s). Throws std::invalid_argument when the shapes disagree.
void attention_blocked_fwd(const Exec& exec,
                           View4 o,    // (B, T, H, D)
                           View3 lse,  // (B, H, T) saved for the backward
                           CView4 q,   // (B, T, H, D)
                           CView4 k,   // (B, T, H, D)
                           CView4 v,   // (B, T, H, D)
                           float scale, int requested_rows = 0);

// As attention_tiled_bwd: dq, dk, dv assigned, given do_ = dL/do and the forward's o and lse. Deterministic (the
// blocks run in a fixed order, no atomics).
void attention_blocked_bwd(const Exec& exec,
                           View4 dq,    // (B, T, H, D)
                           View4 dk,    // (B, T, H, D)
                           View4 dv,    // (B, T, H, D)
                           CView4 do_,  // (B, T, H, D)
                           CView4 o,    // (B, T, H, D) saved by the forward
                           CView3 lse,  // (B, H, T) saved by the forward
                           CView4 q,    // (B, T, H, D)
                           CView4 k,    // (B, T, H, D)
                           CView4 v,    // (B, T, H, D)
                           float scale, int requested_rows = 0);

}  // namespace selectiv::attention
