// SPDX-License-Identifier: BSD-3-Clause
// The scalar per-head log-decay of Gated DeltaNet / Gated DeltaProduct (fla, computed in fp32 with the exact
// softplus of PyTorch, which returns x itself above 20):
//   g[n, h] = -exp(A_log[h]) * softplus(x[n, h] + dt_bias[h])   <= 0,   x = h W_a^T (one logit per head)
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::delta_rule {

void decay_gate_fwd(const Exec& exec,
                    View2 g,         // (N, H)
                    CView2 x,        // (N, H)
                    CView1 A_log,    // (H)
                    CView1 dt_bias); // (H)

// dx assigned; dA_log += sum_n dg * g, ddt_bias += sum_n dx.
void decay_gate_bwd(const Exec& exec,
                    View2 dx,         // (N, H)
                    View1 dA_log,     // (H)
                    View1 ddt_bias,   // (H)
                    CView2 dg,        // (N, H)
                    CView2 x,         // (N, H)
                    CView1 A_log,     // (H)
                    CView1 dt_bias);  // (H)

}  // namespace selectiv::delta_rule
