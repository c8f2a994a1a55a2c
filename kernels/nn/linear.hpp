// SPDX-License-Identifier: BSD-3-Clause
// Linear layer in PyTorch nn.Linear layout: y = x W^T + b, W stored (out, in). Both directions go through
// kc::gemm (cuBLAS / host BLAS where Kokkos Kernels has them). Also: (B, T, d) tensors seen as (B*T, d) matrices.
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::nn {

// y = x W^T + b.  b may be an empty view (no bias).
void linear_fwd(const Exec& exec,
                View2 y,    // (N, out)
                CView2 x,   // (N, in)
                CView2 w,   // (out, in)
                CView1 b);  // (out) or empty

// dx = dy W (assigned, or added to dx when accumulate_dx; skipped when dx is empty), dw += dy^T x, db += sum over
// rows of dy (skipped when db is empty).
void linear_bwd(const Exec& exec,
                View2 dx,   // (N, in) or empty
                View2 dw,   // (out, in)
                View1 db,   // (out) or empty
                CView2 dy,  // (N, out)
                CView2 x,   // (N, in)
                CView2 w,   // (out, in)
                bool accumulate_dx = false);

// A contiguous (B, T, d) tensor as the (B*T, d) matrix over the same memory. The result is unmanaged: the caller
// keeps the 3-D view alive while the matrix is used.
inline CView2 as_matrix(const CView3& v) { return CView2(v.data(), v.extent(0) * v.extent(1), v.extent(2)); }
inline View2 as_matrix(const View3& v) { return View2(v.data(), v.extent(0) * v.extent(1), v.extent(2)); }

}  // namespace selectiv::nn
