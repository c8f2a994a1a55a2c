// SPDX-License-Identifier: BSD-3-Clause
// SwiGLU with a learned scalar beta, the gate of the reference transformer's feed-forward block
// (reference-spec §5.2, golden/README.md §4.8): the input u (N, 2F) is split into u1 = u[:, :F] and u2 = u[:, F:]
// (F = 4d in the transformer), and
//   out = u1 * sigmoid(beta * u1) * u2                                             (N, F)
// Backward, with s = sigmoid(beta * u1):
//   du1 = dout * u2 * (s + beta * u1 * s * (1 - s)),  du2 = dout * u1 * s          (activation gradient: assigned)
//   dbeta += sum over all (n, f) of dout * u2 * u1^2 * s * (1 - s)                 (parameter gradient: accumulated)
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::nn {

void swiglu_fwd(const Exec& exec,
                View2 out,     // (N, F)
                CView2 u,      // (N, 2F)
                CView1 beta);  // (1) device scalar

// The dbeta sum is accumulated in double and added to dbeta(0) on the device (no host synchronisation).
void swiglu_bwd(const Exec& exec,
                View2 du,      // (N, 2F) assigned
                View1 dbeta,   // (1) accumulated (+=)
                CView2 dout,   // (N, F)
                CView2 u,      // (N, 2F)
                CView1 beta);  // (1)

}  // namespace selectiv::nn
