// SPDX-License-Identifier: BSD-3-Clause
// Global-norm gradient clipping and the Adam update over one flat parameter arena (reference-spec §4): exactly
// torch.nn.utils.clip_grad_norm_(params, max_norm) followed by torch.optim.Adam(params, lr, betas=(0.9, 0.999),
// eps=1e-8, weight_decay=0).step(). A training step is
//   const double total_norm = clip_grad_norm(exec, grads, 1.0);
//   if (!std::isfinite(total_norm)) -> diverged (PyTorch would write NaN into the weights; we leave them untouched)
//   adam_update(exec, params, m, v, grads, lr, step);   // step = 1 for the first update
#pragma once

#include <cstdint>

#include "kernels/common/views.hpp"

namespace selectiv::nn {

struct AdamConfig {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

// total_norm = sqrt(sum_i grads_i^2) over the whole arena (accumulated in double); clip_coef = max_norm /
// (total_norm + 1e-6); when clip_coef < 1 every gradient is multiplied by float(clip_coef). Returns total_norm. A
// non-finite total_norm (NaN/Inf gradients) is returned with the gradients left as they are.
double clip_grad_norm(const Exec& exec, View1 grads /*(P)*/, double max_norm);

// One Adam update, step >= 1 counting this update. Per element, in float, in PyTorch's operation order
// (torch/optim/adam.py, single-tensor path):
//   m = m + (1 - beta1) * (g - m)                 (exp_avg.lerp_(grad, 1 - beta1))
//   v = v * beta2 + (1 - beta2) * g * g           (exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2))
//   denom = sqrt(v) / sqrt(bias_correction2) + eps
//   p = p - step_size * (m / denom)               (param.addcdiv_(exp_avg, denom, value=-step_size))
// with bias_correction1 = 1 - beta1^step, bias_correction2 = 1 - beta2^step, step_size = lr / bias_correction1,
// computed in double on the host and rounded to float, as PyTorch passes Python floats to those kernels.
void adam_update(const Exec& exec,
                 View1 params,  // (P) updated in place
                 View1 m,       // (P) first moment (exp_avg), updated in place
                 View1 v,       // (P) second moment (exp_avg_sq), updated in place
                 CView1 grads,  // (P)
                 double lr, std::int64_t step, const AdamConfig& config = AdamConfig());

}  // namespace selectiv::nn
