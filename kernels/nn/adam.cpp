// SPDX-License-Identifier: BSD-3-Clause
// Global-norm gradient clipping and the Adam update over the flat parameter arena; see adam.hpp.
#include "kernels/nn/adam.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/common/compat.hpp"

namespace selectiv::nn {

double clip_grad_norm(const Exec& exec, View1 grads, double max_norm) {
  if (!(max_norm > 0.0)) throw std::invalid_argument("clip_grad_norm: max_norm must be > 0");
  using Policy = Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>;
  const std::int64_t n = static_cast<std::int64_t>(grads.extent(0));
  double sum_squares = 0.0;
  Kokkos::parallel_reduce(
      "selectiv::adam::grad_norm", Policy(exec, 0, n),
      KOKKOS_LAMBDA(const std::int64_t i, double& sum) {
        const double g = static_cast<double>(grads(i));
        sum += g * g;
      },
      sum_squares);
  const double total_norm = std::sqrt(sum_squares);
  if (!std::isfinite(total_norm)) return total_norm;
  const double clip_coef = max_norm / (total_norm + 1e-6);
  if (clip_coef < 1.0) {
    const float scale = static_cast<float>(clip_coef);
    Kokkos::parallel_for(
        "selectiv::adam::clip", Policy(exec, 0, n), KOKKOS_LAMBDA(const std::int64_t i) { grads(i) *= scale; });
  }
  return total_norm;
}

void adam_update(const Exec& exec, View1 params, View1 m, View1 v, CView1 grads, double lr, std::int64_t step,
                 const AdamConfig& config) {
  const std::size_t n_params = params.extent(0);
  if (m.extent(0) != n_params || v.extent(0) != n_params || grads.extent(0) != n_params) {
    throw std::invalid_argument("adam_update: params (" + std::to_string(n_params) + "), m (" +
                                std::to_string(m.extent(0)) + "), v (" + std::to_string(v.extent(0)) + ") and grads (" +
                                std::to_string(grads.extent(0)) + ") must have the same length");
  }
  if (step < 1) throw std::invalid_argument("adam_update: step counts this update and must be >= 1");
  // Host scalars, in double as PyTorch computes them in Python, rounded to float where its kernels do.
  const double bias_correction1 = 1.0 - std::pow(config.beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(config.beta2, static_cast<double>(step));
  const float one_minus_beta1 = static_cast<float>(1.0 - config.beta1);
  const float beta2 = static_cast<float>(config.beta2);
  const float one_minus_beta2 = static_cast<float>(1.0 - config.beta2);
  const float neg_step_size = static_cast<float>(-(lr / bias_correction1));
  const float bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  const float eps = static_cast<float>(config.eps);
  Kokkos::parallel_for(
      "selectiv::adam::update",
      Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(exec, 0, static_cast<std::int64_t>(n_params)),
      KOKKOS_LAMBDA(const std::int64_t i) {
        const float g = grads(i);
        const float m_new = m(i) + one_minus_beta1 * (g - m(i));
        float v_new = v(i) * beta2;
        v_new = v_new + one_minus_beta2 * g * g;
        const float denom = kc::sqrt(v_new) / bias_correction2_sqrt + eps;
        params(i) = params(i) + neg_step_size * (m_new / denom);
        m(i) = m_new;
        v(i) = v_new;
      });
}

}  // namespace selectiv::nn
