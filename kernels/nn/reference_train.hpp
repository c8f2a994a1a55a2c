// SPDX-License-Identifier: BSD-3-Clause
// Host reference twins of the training ops in this folder (cross_entropy, adam, dropout, rope, swiglu): serial,
// double precision, written straight from the definitions and never optimised. Tests use them as the oracle of the
// device kernels, and finite differences check their backward. Tensors are flat row-major std::vectors with the
// shapes given in the comments; shape integers come last.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/nn/adam.hpp"
#include "kernels/nn/rope.hpp"

namespace selectiv::nn {

// --- cross-entropy: mean over rows with mask > 0.5 of logsumexp(logits[n]) - logits[n, targets[n]] -------------
// Returns the mean (NaN when no row is valid) and writes the number of valid rows to *n_valid when given.
double cross_entropy_reference_fwd(const std::vector<double>& logits,  // (N, C)
                                   const std::vector<int>& targets,    // (N)
                                   const std::vector<double>& mask,    // (N)
                                   int n_rows, int n_classes, std::int64_t* n_valid = nullptr);
// Also dlogits = d mean / d logits: (softmax - onehot) / n_valid on valid rows, 0 elsewhere.
double cross_entropy_reference_fwd_bwd(std::vector<double>& dlogits,       // (N, C)
                                       const std::vector<double>& logits,  // (N, C)
                                       const std::vector<int>& targets,    // (N)
                                       const std::vector<double>& mask,    // (N)
                                       int n_rows, int n_classes, std::int64_t* n_valid = nullptr);

// --- global-norm clipping and Adam in the textbook form: m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2,
//     m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t), p -= lr * m_hat / (sqrt(v_hat) + eps)
//     (algebraically PyTorch's step_size = lr / bc1, denom = sqrt(v) / sqrt(bc2) + eps) ----------------------------
double clip_grad_norm_reference(std::vector<double>& grads /*(P)*/, double max_norm);
void adam_reference_update(std::vector<double>& params,       // (P)
                           std::vector<double>& m,            // (P)
                           std::vector<double>& v,            // (P)
                           const std::vector<double>& grads,  // (P)
                           double lr, std::int64_t step, const AdamConfig& config = AdamConfig());

// --- dropout: element i dropped <=> word (i % 4) of Philox4x32-10(counter {i/4, stream}, key seed) < p * 2^32 ---
bool dropout_reference_keep(std::uint64_t seed, std::uint64_t stream, std::uint64_t index, float p);
void dropout_reference_fwd(std::vector<double>& y, const std::vector<double>& x,  // (n), (n)
                           float p, std::uint64_t seed, std::uint64_t stream);
void dropout_reference_bwd(std::vector<double>& dx, const std::vector<double>& dy,  // (n), (n)
                           float p, std::uint64_t seed, std::uint64_t stream);

// --- RoPE as a complex rotation of z = x1 + i x2 per pair: by exp(-i theta) (reference_transformer) or
//     exp(+i theta) (rotate_half), theta = double(float(t) * inv_freq[i]); the backward multiplies by the conjugate.
void rope_reference_fwd(std::vector<double>& y,              // (B, T, H, hd)
                        const std::vector<double>& x,        // (B, T, H, hd)
                        const std::vector<float>& inv_freq,  // (hd/2)
                        RopeConvention convention, int batch, int n_time, int n_heads, int head_dim);
void rope_reference_bwd(std::vector<double>& dx,             // (B, T, H, hd)
                        const std::vector<double>& dy,       // (B, T, H, hd)
                        const std::vector<float>& inv_freq,  // (hd/2)
                        RopeConvention convention, int batch, int n_time, int n_heads, int head_dim);

// --- SwiGLU with scalar beta: out = u1 * sigmoid(beta u1) * u2, u = [u1 | u2] ---------------------------------
void swiglu_reference_fwd(std::vector<double>& out,      // (N, F)
                          const std::vector<double>& u,  // (N, 2F)
                          double beta, int n_rows, int n_features);
// du is assigned, *dbeta is accumulated (+=).
void swiglu_reference_bwd(std::vector<double>& du,          // (N, 2F)
                          double* dbeta,                    // scalar
                          const std::vector<double>& dout,  // (N, F)
                          const std::vector<double>& u,     // (N, 2F)
                          double beta, int n_rows, int n_features);

}  // namespace selectiv::nn
