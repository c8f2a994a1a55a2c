// SPDX-License-Identifier: BSD-3-Clause
// L2 normalisation over consecutive groups of G channels of the last dimension (fla l2norm, per head):
// y = x / sqrt(sum(x^2) + eps), eps = 1e-6. The forward saves rstd = 1 / sqrt(sum(x^2) + eps) per (row, group).
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::nn {

constexpr float kL2NormEps = 1e-6f;

void l2_norm_fwd(const Exec& exec,
                 View2 y,     // (N, D)
                 View2 rstd,  // (N, D / G) saved for the backward
                 CView2 x,    // (N, D)
                 int group_size, float eps = kL2NormEps);

// dx = rstd * (dy - y * sum(dy * y)), assigned.
void l2_norm_bwd(const Exec& exec,
                 View2 dx,     // (N, D)
                 CView2 rstd,  // (N, D / G) from the forward
                 CView2 dy,    // (N, D)
                 CView2 x,     // (N, D)
                 int group_size);

}  // namespace selectiv::nn
