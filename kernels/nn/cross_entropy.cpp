// SPDX-License-Identifier: BSD-3-Clause
// Fused softmax cross-entropy: forward (loss) and backward (dlogits) in one pass per row; see cross_entropy.hpp.
#include "kernels/nn/cross_entropy.hpp"

#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"

namespace selectiv::nn {
namespace {

void check_shapes(const char* op, CView2 logits, IView1 targets, CView1 mask) {
  const std::size_t n_rows = logits.extent(0);
  if (targets.extent(0) != n_rows || mask.extent(0) != n_rows) {
    throw std::invalid_argument(std::string(op) + ": logits have " + std::to_string(n_rows) + " rows but targets " +
                                std::to_string(targets.extent(0)) + " and mask " + std::to_string(mask.extent(0)));
  }
}

// Step 1: count the valid rows (the mean's denominator) and the valid rows whose target is out of range.
std::int64_t count_valid_rows(const Exec& exec, const char* op, IView1 targets, CView1 mask, int n_classes) {
  std::int64_t n_valid = 0;
  std::int64_t n_bad_targets = 0;
  Kokkos::parallel_reduce(
      "selectiv::cross_entropy::count_valid", Kokkos::RangePolicy<Exec>(exec, 0, mask.extent(0)),
      KOKKOS_LAMBDA(const int n, std::int64_t& valid, std::int64_t& bad_targets) {
        if (mask(n) > 0.5f) {
          ++valid;
          if (targets(n) < 0 || targets(n) >= n_classes) ++bad_targets;
        }
      },
      Kokkos::Sum<std::int64_t>(n_valid), Kokkos::Sum<std::int64_t>(n_bad_targets));
  if (n_bad_targets > 0) {
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(n_bad_targets) +
                                " valid rows have a target outside [0, " + std::to_string(n_classes) + ")");
  }
  return n_valid;
}

// Step 2: one team per row: max, sum of exponentials, row loss and (when write_gradient) the row of dlogits.
// Returns the double sum of the valid rows' losses.
double softmax_cross_entropy_rows(const Exec& exec, View2 dlogits, CView2 logits, IView1 targets, CView1 mask,
                                  float gradient_scale, bool write_gradient) {
  using Team = Kokkos::TeamPolicy<Exec>;
  using Member = Team::member_type;
  const int n_rows = static_cast<int>(logits.extent(0));
  const int n_classes = static_cast<int>(logits.extent(1));
  double loss_sum = 0.0;
  Kokkos::parallel_reduce(
      "selectiv::cross_entropy::rows", Team(exec, n_rows, Kokkos::AUTO),
      KOKKOS_LAMBDA(const Member& team, double& row_loss_sum) {
        const int n = team.league_rank();
        if (!(mask(n) > 0.5f)) {
          if (write_gradient) {
            Kokkos::parallel_for(Kokkos::TeamThreadRange(team, n_classes), [&](const int c) { dlogits(n, c) = 0.0f; });
          }
          return;
        }
        const int target = targets(n);
        // Read before the reductions below, which every thread of the team passes before any write of the row.
        const float target_logit = logits(n, target);
        float row_max = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, n_classes),
            [&](const int c, float& running_max) { running_max = kc::fmax(running_max, logits(n, c)); },
            Kokkos::Max<float>(row_max));
        float sum_exp = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, n_classes),
            [&](const int c, float& running_sum) { running_sum += kc::exp(logits(n, c) - row_max); }, sum_exp);
        const float log_sum_exp = row_max + kc::log(sum_exp);
        if (write_gradient) {
          Kokkos::parallel_for(Kokkos::TeamThreadRange(team, n_classes), [&](const int c) {
            const float probability = kc::exp(logits(n, c) - log_sum_exp);
            dlogits(n, c) = (probability - (c == target ? 1.0f : 0.0f)) * gradient_scale;
          });
        }
        Kokkos::single(Kokkos::PerTeam(team),
                       [&]() { row_loss_sum += static_cast<double>(log_sum_exp) - static_cast<double>(target_logit); });
      },
      loss_sum);
  return loss_sum;
}

CrossEntropyLoss make_loss(double sum, std::int64_t n_valid) {
  CrossEntropyLoss loss;
  loss.sum = sum;
  loss.n_valid = n_valid;
  loss.mean = n_valid > 0 ? sum / static_cast<double>(n_valid) : std::numeric_limits<double>::quiet_NaN();
  return loss;
}

}  // namespace

CrossEntropyLoss cross_entropy_fwd(const Exec& exec, CView2 logits, IView1 targets, CView1 mask) {
  check_shapes("cross_entropy_fwd", logits, targets, mask);
  const int n_classes = static_cast<int>(logits.extent(1));
  const std::int64_t n_valid = count_valid_rows(exec, "cross_entropy_fwd", targets, mask, n_classes);
  const double sum = softmax_cross_entropy_rows(exec, View2(), logits, targets, mask, 0.0f, false);
  return make_loss(sum, n_valid);
}

CrossEntropyLoss cross_entropy_fwd_bwd(const Exec& exec, View2 dlogits, CView2 logits, IView1 targets, CView1 mask) {
  check_shapes("cross_entropy_fwd_bwd", logits, targets, mask);
  if (dlogits.extent(0) != logits.extent(0) || dlogits.extent(1) != logits.extent(1)) {
    throw std::invalid_argument("cross_entropy_fwd_bwd: dlogits and logits shapes differ");
  }
  const int n_classes = static_cast<int>(logits.extent(1));
  const std::int64_t n_valid = count_valid_rows(exec, "cross_entropy_fwd_bwd", targets, mask, n_classes);
  const float gradient_scale = n_valid > 0 ? static_cast<float>(1.0 / static_cast<double>(n_valid)) : 0.0f;
  const double sum = softmax_cross_entropy_rows(exec, dlogits, logits, targets, mask, gradient_scale, true);
  return make_loss(sum, n_valid);
}

}  // namespace selectiv::nn
