// SPDX-License-Identifier: BSD-3-Clause
// Mamba's decay rates from their stored logarithm, A = -exp(A_log), forward and backward (golden/README.md §4.7).
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::selective_scan {

// A = -exp(A_log), elementwise.
void decay_rate_fwd(const Exec& exec,
                    View2 A,       // (Din, N)
                    CView2 A_log); // (Din, N)

// dA_log += dA * A (dA/dA_log = -exp(A_log) = A): a parameter gradient, accumulated.
void decay_rate_bwd(const Exec& exec,
                    View2 dA_log,  // (Din, N) accumulated
                    CView2 dA,     // (Din, N)
                    CView2 A);     // (Din, N) from decay_rate_fwd
}  // namespace selectiv::selective_scan
