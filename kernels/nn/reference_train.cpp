// SPDX-License-Identifier: BSD-3-Clause
// Host reference twins of the training ops (serial, double); see reference_train.hpp.
#include "kernels/nn/reference_train.hpp"

#include <Random123/philox.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <stdexcept>

namespace selectiv::nn {

// --- cross-entropy ----------------------------------------------------------------------------------------------

namespace {

double cross_entropy_reference(std::vector<double>* dlogits, const std::vector<double>& logits,
                               const std::vector<int>& targets, const std::vector<double>& mask, int n_rows,
                               int n_classes, std::int64_t* n_valid_out) {
  const std::size_t n_classes_z = static_cast<std::size_t>(n_classes);
  std::int64_t n_valid = 0;
  for (int n = 0; n < n_rows; ++n) n_valid += mask[static_cast<std::size_t>(n)] > 0.5 ? 1 : 0;
  if (n_valid_out != nullptr) *n_valid_out = n_valid;
  if (dlogits != nullptr) dlogits->assign(static_cast<std::size_t>(n_rows) * n_classes_z, 0.0);
  if (n_valid == 0) return std::numeric_limits<double>::quiet_NaN();
  double loss_sum = 0.0;
  for (int n = 0; n < n_rows; ++n) {
    if (!(mask[static_cast<std::size_t>(n)] > 0.5)) continue;
    const double* row = logits.data() + static_cast<std::size_t>(n) * n_classes_z;
    const int target = targets[static_cast<std::size_t>(n)];
    if (target < 0 || target >= n_classes) throw std::invalid_argument("cross_entropy_reference: target out of range");
    double row_max = row[0];
    for (int c = 1; c < n_classes; ++c) row_max = std::max(row_max, row[c]);
    double sum_exp = 0.0;
    for (int c = 0; c < n_classes; ++c) sum_exp += std::exp(row[c] - row_max);
    const double log_sum_exp = row_max + std::log(sum_exp);
    loss_sum += log_sum_exp - row[target];
    if (dlogits != nullptr) {
      double* drow = dlogits->data() + static_cast<std::size_t>(n) * n_classes_z;
      for (int c = 0; c < n_classes; ++c) {
        const double softmax = std::exp(row[c] - log_sum_exp);
        drow[c] = (softmax - (c == target ? 1.0 : 0.0)) / static_cast<double>(n_valid);
      }
    }
  }
  return loss_sum / static_cast<double>(n_valid);
}

}  // namespace

double cross_entropy_reference_fwd(const std::vector<double>& logits, const std::vector<int>& targets,
                                   const std::vector<double>& mask, int n_rows, int n_classes, std::int64_t* n_valid) {
  return cross_entropy_reference(nullptr, logits, targets, mask, n_rows, n_classes, n_valid);
}

double cross_entropy_reference_fwd_bwd(std::vector<double>& dlogits, const std::vector<double>& logits,
                                       const std::vector<int>& targets, const std::vector<double>& mask, int n_rows,
                                       int n_classes, std::int64_t* n_valid) {
  return cross_entropy_reference(&dlogits, logits, targets, mask, n_rows, n_classes, n_valid);
}

// --- clipping and Adam ------------------------------------------------------------------------------------------

double clip_grad_norm_reference(std::vector<double>& grads, double max_norm) {
  double sum_squares = 0.0;
  for (const double g : grads) sum_squares += g * g;
  const double total_norm = std::sqrt(sum_squares);
  if (!std::isfinite(total_norm)) return total_norm;
  const double clip_coef = max_norm / (total_norm + 1e-6);
  if (clip_coef < 1.0) {
    for (double& g : grads) g *= clip_coef;
  }
  return total_norm;
}

void adam_reference_update(std::vector<double>& params, std::vector<double>& m, std::vector<double>& v,
                           const std::vector<double>& grads, double lr, std::int64_t step, const AdamConfig& config) {
  const double t = static_cast<double>(step);
  for (std::size_t i = 0; i < params.size(); ++i) {
    m[i] = config.beta1 * m[i] + (1.0 - config.beta1) * grads[i];
    v[i] = config.beta2 * v[i] + (1.0 - config.beta2) * grads[i] * grads[i];
    const double m_hat = m[i] / (1.0 - std::pow(config.beta1, t));
    const double v_hat = v[i] / (1.0 - std::pow(config.beta2, t));
    params[i] -= lr * m_hat / (std::sqrt(v_hat) + config.eps);
  }
}

// --- dropout ----------------------------------------------------------------------------------------------------

bool dropout_reference_keep(std::uint64_t seed, std::uint64_t stream, std::uint64_t index, float p) {
  const std::uint64_t block = index / 4;
  r123::Philox4x32::ctr_type counter = {{}};
  counter.v[0] = static_cast<std::uint32_t>(block & 0xffffffffu);
  counter.v[1] = static_cast<std::uint32_t>(block >> 32);
  counter.v[2] = static_cast<std::uint32_t>(stream & 0xffffffffu);
  counter.v[3] = static_cast<std::uint32_t>(stream >> 32);
  r123::Philox4x32::key_type key = {{}};
  key.v[0] = static_cast<std::uint32_t>(seed & 0xffffffffu);
  key.v[1] = static_cast<std::uint32_t>(seed >> 32);
  const std::uint32_t word = r123::Philox4x32()(counter, key).v[index % 4];
  const bool dropped = static_cast<double>(word) < static_cast<double>(p) * 4294967296.0;
  return !dropped;
}

namespace {

void dropout_reference(std::vector<double>& out, const std::vector<double>& in, float p, std::uint64_t seed,
                       std::uint64_t stream) {
  out.assign(in.size(), 0.0);
  const double keep_scale = 1.0 / (1.0 - static_cast<double>(p));
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (dropout_reference_keep(seed, stream, i, p)) out[i] = in[i] * keep_scale;
  }
}

}  // namespace

void dropout_reference_fwd(std::vector<double>& y, const std::vector<double>& x, float p, std::uint64_t seed,
                           std::uint64_t stream) {
  dropout_reference(y, x, p, seed, stream);
}

void dropout_reference_bwd(std::vector<double>& dx, const std::vector<double>& dy, float p, std::uint64_t seed,
                           std::uint64_t stream) {
  dropout_reference(dx, dy, p, seed, stream);
}

// --- RoPE -------------------------------------------------------------------------------------------------------

namespace {

// direction = -1 multiplies each pair by exp(-i theta), +1 by exp(+i theta).
void rope_reference_rotate(std::vector<double>& out, const std::vector<double>& in, const std::vector<float>& inv_freq,
                           double direction, int batch, int n_time, int n_heads, int head_dim) {
  const int half = head_dim / 2;
  out.assign(in.size(), 0.0);
  for (int b = 0; b < batch; ++b) {
    for (int t = 0; t < n_time; ++t) {
      for (int h = 0; h < n_heads; ++h) {
        const std::size_t base = ((static_cast<std::size_t>(b) * n_time + t) * n_heads + h) * head_dim;
        for (int i = 0; i < half; ++i) {
          // The reference's angle: a float32 product of the float32 position and the float32 frequency.
          const float theta = static_cast<float>(t) * inv_freq[static_cast<std::size_t>(i)];
          const std::complex<double> rotation = std::polar(1.0, direction * static_cast<double>(theta));
          const std::complex<double> z(in[base + i], in[base + half + i]);
          const std::complex<double> rotated = z * rotation;
          out[base + i] = rotated.real();
          out[base + half + i] = rotated.imag();
        }
      }
    }
  }
}

double rope_reference_direction(RopeConvention convention) {
  return convention == RopeConvention::reference_transformer ? -1.0 : 1.0;
}

}  // namespace

void rope_reference_fwd(std::vector<double>& y, const std::vector<double>& x, const std::vector<float>& inv_freq,
                        RopeConvention convention, int batch, int n_time, int n_heads, int head_dim) {
  rope_reference_rotate(y, x, inv_freq, rope_reference_direction(convention), batch, n_time, n_heads, head_dim);
}

void rope_reference_bwd(std::vector<double>& dx, const std::vector<double>& dy, const std::vector<float>& inv_freq,
                        RopeConvention convention, int batch, int n_time, int n_heads, int head_dim) {
  rope_reference_rotate(dx, dy, inv_freq, -rope_reference_direction(convention), batch, n_time, n_heads, head_dim);
}

// --- SwiGLU -----------------------------------------------------------------------------------------------------

namespace {
double sigmoid_reference(double z) { return 1.0 / (1.0 + std::exp(-z)); }
}  // namespace

void swiglu_reference_fwd(std::vector<double>& out, const std::vector<double>& u, double beta, int n_rows,
                          int n_features) {
  const std::size_t width = 2 * static_cast<std::size_t>(n_features);
  out.assign(static_cast<std::size_t>(n_rows) * n_features, 0.0);
  for (int n = 0; n < n_rows; ++n) {
    for (int f = 0; f < n_features; ++f) {
      const double u1 = u[n * width + f];
      const double u2 = u[n * width + n_features + f];
      out[static_cast<std::size_t>(n) * n_features + f] = u1 * sigmoid_reference(beta * u1) * u2;
    }
  }
}

void swiglu_reference_bwd(std::vector<double>& du, double* dbeta, const std::vector<double>& dout,
                          const std::vector<double>& u, double beta, int n_rows, int n_features) {
  const std::size_t width = 2 * static_cast<std::size_t>(n_features);
  du.assign(static_cast<std::size_t>(n_rows) * width, 0.0);
  for (int n = 0; n < n_rows; ++n) {
    for (int f = 0; f < n_features; ++f) {
      const double u1 = u[n * width + f];
      const double u2 = u[n * width + n_features + f];
      const double g = dout[static_cast<std::size_t>(n) * n_features + f];
      const double s = sigmoid_reference(beta * u1);
      // d/du1 [u1 s(beta u1)] = s + u1 s' beta;  d/dbeta [u1 s(beta u1)] = u1 s' u1;  s' = s (1 - s).
      du[n * width + f] = g * u2 * (s + beta * u1 * s * (1.0 - s));
      du[n * width + n_features + f] = g * u1 * s;
      *dbeta += g * u2 * u1 * u1 * s * (1.0 - s);
    }
  }
}

}  // namespace selectiv::nn
