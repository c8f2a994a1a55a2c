// SPDX-License-Identifier: BSD-3-Clause
// The q / k / v input branches of the fla-style mixers (GLA, RetNet, linear attention, the delta family): for "q",
//   pre = h W^T            with <prefix>q_proj.weight   (out, d), no bias
//   y   = SiLU(conv(pre))  with <prefix>q_conv1d.weight (out, 1, 4), causal depthwise, no bias
// Forward and backward of the three branches side by side; pre is what the backward reads.
#pragma once

#include <string>

#include "kernels/common/views.hpp"
#include "models/param_table.hpp"

namespace selectiv::models {

struct ConvBranch {
  const char* name;  // "q", "k" or "v"
  View3 pre;         // (B, T, out) projection before the conv (saved by forward)
  View3 y;           // (B, T, out) branch output
};

// Every branch's pre and y from h (B, T, d).
void conv_branches_fwd(const Exec& exec, const ParamTable& params, const std::string& prefix,
                       std::initializer_list<ConvBranch> branches, CView3 h);

// Every branch's y again from its saved pre (for a backward that keeps y in a workspace instead of saving it).
void conv_branches_recompute(const Exec& exec, const ParamTable& params, const std::string& prefix,
                             std::initializer_list<ConvBranch> branches);

// Gradient of one branch given dy: accumulates the branch's weight gradients and adds dpre W into dh (assigns it
// when `assign_dh`). dpre: (B, T, out) scratch.
void conv_branch_bwd(const Exec& exec, const ParamTable& params, const std::string& prefix, const ConvBranch& branch,
                     View3 dh, bool assign_dh, View3 dpre, CView3 dy, CView3 h);

}  // namespace selectiv::models
