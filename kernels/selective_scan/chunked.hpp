// SPDX-License-Identifier: BSD-3-Clause
// The Mamba-1 selective scan as chunked Kokkos kernels, forward next to backward (README.md §2-§4): chunks of 64
// tokens scanned in parallel from a zero state, a sequential state pass across chunks, then a per-chunk correction.
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::selective_scan {

// Tokens per chunk (C). The last chunk of a sequence may be shorter.
constexpr int kChunk = 64;

// NT = ceil(T / C).
int scan_num_chunks(int T);

// The tensor the forward saves for the backward (README.md §4): states(b, n, c, s) = the state of channel c, state
// entry s, just before chunk n (zero for n = 0).
View4 selective_scan_allocate_states(int B, int T, int Din, int N);  // (B, NT, Din, N)

// y_t[c] = sum_n C_t[n] s_t[c, n] + D[c] x_t[c] with s_t[c, n] = exp(dt_t[c] A[c, n]) s_{t-1}[c, n]
// + dt_t[c] B_t[n] x_t[c] from a zero state; ht = s_{T-1} (skipped when empty). Writes the saved states. Runs on
// exec; fence before reading results on the host.
void selective_scan_chunked_fwd(const Exec& exec,
                                View3 y,        // (B, T, Din)
                                View3 ht,       // (B, Din, N) or empty
                                View4 states,   // (B, NT, Din, N) saved for the backward
                                CView3 x,       // (B, T, Din)
                                CView3 dt,      // (B, T, Din) step sizes, > 0
                                CView2 A,       // (Din, N) decay rates, < 0
                                CView3 Bm,      // (B, T, N)
                                CView3 Cm,      // (B, T, N)
                                CView1 D);      // (Din)

// Gradients given dy. Activation gradients dx, ddt, dB, dC are assigned; parameter gradients dA and dD accumulate
// (+=). states is the forward's, unchanged.
void selective_scan_chunked_bwd(const Exec& exec,
                                View3 dx,       // (B, T, Din)
                                View3 ddt,      // (B, T, Din)
                                View2 dA,       // (Din, N) accumulated
                                View3 dB,       // (B, T, N)
                                View3 dC,       // (B, T, N)
                                View1 dD,       // (Din) accumulated
                                CView4 states,  // (B, NT, Din, N) from selective_scan_chunked_fwd
                                CView3 dy,      // (B, T, Din)
                                CView3 x,       // (B, T, Din)
                                CView3 dt,      // (B, T, Din)
                                CView2 A,       // (Din, N)
                                CView3 Bm,      // (B, T, N)
                                CView3 Cm,      // (B, T, N)
                                CView1 D);      // (Din)

}  // namespace selectiv::selective_scan
