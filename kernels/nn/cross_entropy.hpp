// SPDX-License-Identifier: BSD-3-Clause
// Fused softmax cross-entropy over the valid time steps (reference-spec §3.1): the loss is
//   mean over rows n with mask[n] == 1 of  logsumexp(logits[n, :]) - logits[n, targets[n]],
// which is PyTorch's cross_entropy(logits[mask == 1], targets[mask == 1]) with reduction 'mean'. One team per row
// computes the row's max, its sum of exponentials and its loss and, in the same pass, the gradient
//   dlogits[n, c] = (softmax(logits[n])[c] - [c == targets[n]]) / n_valid   for valid rows, 0 for the others.
// No probability tensor is stored. Per row the max and the sum of exponentials are float (as PyTorch's fp32
// log_softmax); the sum of row losses over the batch is accumulated in double.
#pragma once

#include <cstdint>

#include "kernels/common/views.hpp"

namespace selectiv::nn {

struct CrossEntropyLoss {
  double mean = 0.0;         // sum / n_valid; NaN when n_valid == 0 (PyTorch's mean over an empty selection)
  double sum = 0.0;          // sum over valid rows of the row loss
  std::int64_t n_valid = 0;  // rows with mask > 0.5 (the mask holds 0 or 1)
};

// Loss only (evaluation). targets of invalid rows are never read; targets of valid rows must lie in [0, C)
// (std::invalid_argument otherwise, checked before any row is read).
CrossEntropyLoss cross_entropy_fwd(const Exec& exec,
                                   CView2 logits,   // (N, C)
                                   IView1 targets,  // (N) class ids
                                   CView1 mask);    // (N) 1 = valid step, 0 = padding

// Loss and its gradient with respect to the logits (assigned, not accumulated). dlogits may be the same memory as
// logits (in place: each row reads its target logit before any of the row is overwritten); no other overlap.
CrossEntropyLoss cross_entropy_fwd_bwd(const Exec& exec,
                                       View2 dlogits,   // (N, C)
                                       CView2 logits,   // (N, C)
                                       IView1 targets,  // (N)
                                       CView1 mask);    // (N)

}  // namespace selectiv::nn
