// SPDX-License-Identifier: BSD-3-Clause
// LayerNorm over the last dimension (PyTorch nn.LayerNorm with affine weight and bias, biased variance):
// y = (x - mean) * rstd * w + b, rstd = 1 / sqrt(var + eps). The forward saves mean and rstd per row.
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::nn {

constexpr float kLayerNormEps = 1e-5f;

void layer_norm_fwd(const Exec& exec,
                    View2 y,     // (N, D)
                    View1 mean,  // (N) saved for the backward
                    View1 rstd,  // (N) saved for the backward
                    CView2 x,    // (N, D)
                    CView1 w,    // (D)
                    CView1 b,    // (D)
                    float eps = kLayerNormEps);

// dx assigned; dw += sum_rows dy * xhat, db += sum_rows dy (xhat = (x - mean) * rstd).
void layer_norm_bwd(const Exec& exec,
                    View2 dx,     // (N, D)
                    View1 dw,     // (D)
                    View1 db,     // (D)
                    CView1 mean,  // (N) from the forward
                    CView1 rstd,  // (N) from the forward
                    CView2 dy,    // (N, D)
                    CView2 x,     // (N, D)
                    CView1 w);    // (D)

}  // namespace selectiv::nn
