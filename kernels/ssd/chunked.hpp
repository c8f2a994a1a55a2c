// SPDX-License-Identifier: BSD-3-Clause
// The Mamba2 SSD scan as chunkwise-parallel Kokkos kernels, forward next to backward (README.md §2-§4).
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::ssd {

// Tokens per chunk (Q). The last chunk of a sequence may be shorter.
constexpr int kChunk = 64;

// NT = ceil(T / Q).
int ssd_num_chunks(int T);

// The two tensors the forward saves for the backward (README.md §4), allocated for one (B, T, H, P, N):
//   states (B, NT, H * P, N): states(b, n, h * P + p, k) = S_[n][h][p, k], the state of head h before chunk n
//                             (S_[0] = 0).
//   scores (B, T, Q):         scores(b, t, s) = C_t . B_{t0 + s}, t in the chunk starting at t0, for s <= t - t0
//                             (0 above the diagonal); shared by all heads.
View4 ssd_allocate_states(int B, int T, int H, int P, int N);
View3 ssd_allocate_scores(int B, int T);
// The states in a workspace shared by every caller (kernels/common/workspace.hpp): where ssd_chunked_bwd recomputes
// them when it is given none; valid until the next request.
View4 ssd_workspace_states(int B, int T, int H, int P, int N);

// y_t[h] = S_t[h] C_t + D[h] x_t[h] with S_t[h] = a_t[h] S_{t-1}[h] + delta_t[h] x_t[h] B_t^T, S_{-1} = 0,
// delta = softplus(dt + dt_bias), a = exp(-exp(A_log) * delta). xbc packs [x | B | C] per token (x_t[h][p] at
// column h*P + p, B at H*P + k, C at H*P + N + k). Sizes: H from dt, P from y; N = (xbc width - H*P) / 2. Writes
// the saved tensors. Runs asynchronously on exec; fence before reading results on the host.
void ssd_chunked_fwd(const Exec& exec,
                     View4 y,         // (B, T, H, P)
                     View4 states,    // (B, NT, H * P, N) saved for the backward
                     View3 scores,    // (B, T, Q) saved for the backward
                     CView3 xbc,      // (B, T, H*P + 2N)
                     CView3 dt,       // (B, T, H) raw, before bias and softplus
                     CView1 dt_bias,  // (H)
                     CView1 A_log,    // (H)
                     CView1 D);       // (H)

// Gradients given dy. Activation gradients dxbc and ddt are assigned; parameter gradients d_dt_bias, dA_log and dD
// accumulate (+=). states and scores are the forward's, unchanged; with states empty the backward recomputes them
// (forward steps 2-3, into ssd_workspace_states), so a caller may keep only y and scores.
void ssd_chunked_bwd(const Exec& exec,
                     View3 dxbc,       // (B, T, H*P + 2N)
                     View3 ddt,        // (B, T, H)
                     View1 d_dt_bias,  // (H)
                     View1 dA_log,     // (H)
                     View1 dD,         // (H)
                     CView4 states,    // (B, NT, H * P, N) from ssd_chunked_fwd, or empty
                     CView3 scores,    // (B, T, Q) from ssd_chunked_fwd
                     CView4 dy,        // (B, T, H, P)
                     CView3 xbc,       // (B, T, H*P + 2N)
                     CView3 dt,        // (B, T, H)
                     CView1 dt_bias,   // (H)
                     CView1 A_log,     // (H)
                     CView1 D);        // (H)

}  // namespace selectiv::ssd
