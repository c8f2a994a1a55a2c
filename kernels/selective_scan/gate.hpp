// SPDX-License-Identifier: BSD-3-Clause
// Mamba's output gate, out = y * silu(z), forward and backward (golden/README.md §4.7).
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::selective_scan {

// out = y * silu(z), elementwise.
void silu_gate_fwd(const Exec& exec,
                   View1 out,  // (n)
                   CView1 y,   // (n)
                   CView1 z);  // (n)

// dy = dout * silu(z), dz = dout * y * silu'(z) (both assigned).
void silu_gate_bwd(const Exec& exec,
                   View1 dy,     // (n)
                   View1 dz,     // (n)
                   CView1 dout,  // (n)
                   CView1 y,     // (n)
                   CView1 z);    // (n)

}  // namespace selectiv::selective_scan
