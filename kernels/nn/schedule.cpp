// SPDX-License-Identifier: BSD-3-Clause
// Warmup + cosine learning-rate schedule; see schedule.hpp.
#include "kernels/nn/schedule.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace selectiv::nn {

double warmup_cosine_factor(std::int64_t updates_done, std::int64_t warmup_updates, std::int64_t total_updates) {
  if (updates_done < 0 || warmup_updates < 0 || total_updates <= warmup_updates) {
    throw std::invalid_argument(
        "warmup_cosine_factor: need updates_done >= 0 and 0 <= warmup < total, got s=" + std::to_string(updates_done) +
        " W=" + std::to_string(warmup_updates) + " S=" + std::to_string(total_updates));
  }
  const double s = static_cast<double>(updates_done);
  const double warmup = static_cast<double>(warmup_updates);
  if (updates_done < warmup_updates) return s / warmup;
  const double pi = std::acos(-1.0);
  const double progress = (s - warmup) / static_cast<double>(total_updates - warmup_updates);
  return 0.5 * (1.0 + std::cos(pi * progress));
}

double warmup_cosine_lr(double base_lr, std::int64_t updates_done, std::int64_t warmup_updates,
                        std::int64_t total_updates) {
  return base_lr * warmup_cosine_factor(updates_done, warmup_updates, total_updates);
}

}  // namespace selectiv::nn
