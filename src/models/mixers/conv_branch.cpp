// SPDX-License-Identifier: BSD-3-Clause
#include "models/mixers/conv_branch.hpp"

#include "kernels/nn/linear.hpp"
#include "kernels/nn/short_conv.hpp"
#include "models/mixers/reshape.hpp"

namespace selectiv::models {
namespace {

std::string proj_name(const std::string& prefix, const char* branch) { return prefix + branch + "_proj.weight"; }
std::string conv_name(const std::string& prefix, const char* branch) { return prefix + branch + "_conv1d.weight"; }

}  // namespace

void conv_branches_fwd(const Exec& exec, const ParamTable& p, const std::string& prefix,
                       std::initializer_list<ConvBranch> branches, CView3 h) {
  const CView2 x = nn::as_matrix(h);
  for (const ConvBranch& b : branches) {
    nn::linear_fwd(exec, nn::as_matrix(b.pre), x, p.value2(proj_name(prefix, b.name)), CView1());
    nn::short_conv_fwd(exec, b.y, b.pre, p.value2(conv_name(prefix, b.name)), CView1(), true);
  }
}

void conv_branches_recompute(const Exec& exec, const ParamTable& p, const std::string& prefix,
                             std::initializer_list<ConvBranch> branches) {
  for (const ConvBranch& b : branches) {
    nn::short_conv_fwd(exec, b.y, b.pre, p.value2(conv_name(prefix, b.name)), CView1(), true);
  }
}

void conv_branch_bwd(const Exec& exec, const ParamTable& p, const std::string& prefix, const ConvBranch& b, View3 dh,
                     bool assign_dh, View3 dpre, CView3 dy, CView3 h) {
  nn::short_conv_bwd(exec, dpre, p.grad2(conv_name(prefix, b.name)), View1(), dy, CView3(b.pre),
                     p.value2(conv_name(prefix, b.name)), CView1(), true);
  nn::linear_bwd(exec, nn::as_matrix(dh), p.grad2(proj_name(prefix, b.name)), View1(), nn::as_matrix(CView3(dpre)),
                 nn::as_matrix(h), p.value2(proj_name(prefix, b.name)), !assign_dh);
}

}  // namespace selectiv::models
