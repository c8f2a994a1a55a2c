// SPDX-License-Identifier: BSD-3-Clause
// Learning-rate schedule of the reference (reference-spec §4, cosine_schedule_with_warmup under LambdaLR, stepped
// once per optimizer update): linear warmup from 0, then a half cosine down to 0. Host code, double precision.
#pragma once

#include <cstdint>

namespace selectiv::nn {

// f(s) = s / W                                  for s < W
//      = 0.5 * (1 + cos(pi * (s - W) / (S - W)))  for s >= W
// where s = optimizer updates already done (the first update uses f(0) = 0), W = warmup_updates >= 0 and
// S = total_updates > W. Defined for every s >= 0 (like LambdaLR, it does not clamp past S).
double warmup_cosine_factor(std::int64_t updates_done, std::int64_t warmup_updates, std::int64_t total_updates);

// base_lr * warmup_cosine_factor(...): the learning rate of update number updates_done + 1.
double warmup_cosine_lr(double base_lr, std::int64_t updates_done, std::int64_t warmup_updates,
                        std::int64_t total_updates);

}  // namespace selectiv::nn
