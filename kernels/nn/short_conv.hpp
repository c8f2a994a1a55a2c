// SPDX-License-Identifier: BSD-3-Clause
// Short causal depthwise convolution over time (fla ShortConvolution, the conv of Mamba/Mamba2), PyTorch Conv1d
// weight layout (C, 1, W) stored as (C, W), zero left padding, optional bias, then SiLU unless switched off:
//   y[b, t, c] = silu(bias[c] + sum_{i=0..W-1} w[c, i] * x[b, t - W + 1 + i, c]),  x[b, tau < 0, c] = 0
// so w[c, W-1] multiplies the current step. W is at most 8 (std::invalid_argument above).
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::nn {

void short_conv_fwd(const Exec& exec,
                    View3 y,      // (B, T, C)
                    CView3 x,     // (B, T, C)
                    CView2 w,     // (C, W)
                    CView1 bias,  // (C) or empty
                    bool apply_silu = true);

// dx assigned (skipped when empty), dw += and dbias += (dbias skipped when empty); the pre-activation is
// recomputed from x, w, bias.
void short_conv_bwd(const Exec& exec,
                    View3 dx,     // (B, T, C) or empty
                    View2 dw,     // (C, W)
                    View1 dbias,  // (C) or empty
                    CView3 dy,    // (B, T, C)
                    CView3 x,     // (B, T, C)
                    CView2 w,     // (C, W)
                    CView1 bias,  // (C) or empty
                    bool apply_silu = true);

}  // namespace selectiv::nn
