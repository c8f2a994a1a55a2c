// SPDX-License-Identifier: BSD-3-Clause
// What the device attention kernels (tiled.hpp, blocked.hpp) share: the shape checks of their arguments and the
// backward's first step, D_t = do_t . o_t.
#pragma once

#include "kernels/common/views.hpp"

namespace selectiv::attention {

struct AttentionShape {
  int batch, length, heads, head_dim;
};

// The shape (B, T, H, D) of q; throws std::invalid_argument naming `op` and the argument when k, v or o is not
// (B, T, H, D) or lse is not (B, H, T).
AttentionShape attention_shape(const CView4& q, const CView4& k, const CView4& v, const CView4& o, const CView3& lse,
                               const char* op);

// Throws std::invalid_argument naming `op` and `name` unless x has the shape of q.
void require_shape_of_q(const CView4& x, const CView4& q, const char* op, const char* name);

// D_t = do_t . o_t for every (b, t, h), into the (B, H, T) workspace `label` (valid until its next request).
View3 output_gradient_dots(const Exec& exec, const char* label, const CView4& do_, const CView4& o);

}  // namespace selectiv::attention
