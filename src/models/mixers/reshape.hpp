// SPDX-License-Identifier: BSD-3-Clause
// Views of the same contiguous memory in the shapes the kernels want: (B, T, H*D) <-> (B, T, H, D), and flat.
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::models {

inline View4 heads(const View3& v, int H) {
  return View4(v.data(), v.extent(0), v.extent(1), H, v.extent(2) / H);
}
inline CView4 heads(const CView3& v, int H) {
  return CView4(v.data(), v.extent(0), v.extent(1), H, v.extent(2) / H);
}
inline View1 flat(const View3& v) { return View1(v.data(), v.size()); }
inline CView1 flat(const CView3& v) { return CView1(v.data(), v.size()); }

}  // namespace selectiv::models
