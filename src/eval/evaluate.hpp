// SPDX-License-Identifier: BSD-3-Clause
// The reference's test metric (reference-spec §3.2): per element, the softmax probabilities summed over the
// element's window, argmax against the element's class; and the mean cross-entropy over valid steps. Both are
// reduced per batch and averaged with weight batch_size / N, as the reference's test loop does.
#pragma once

#include <cstdint>
#include <vector>

#include "models/recnet.hpp"
#include "batch/batch_source.hpp"

namespace selectiv::eval {

struct SplitMetrics {
  double loss = 0.0;      // mean over batches of the batch's mean valid-step loss, weighted by batch size
  double accuracy = 0.0;  // fraction of elements whose window vote equals their class
  std::int64_t samples = 0;
  std::int64_t elements = 0;
  std::int64_t steps = 0;  // valid time steps evaluated
};

// Accuracy of one batch's logits: fraction of (b, e) whose window vote equals element_target(b, e).
// When `predictions` is given it receives the predicted class of every element, (B, E) row-major.
double batch_accuracy(const Exec& exec, CView3 logits, const DeviceBatch& batch, std::vector<int>* predictions = nullptr);

// When `predictions` is given it receives the predicted class of every element of the file, (N, E) row-major.
SplitMetrics evaluate_split(const Exec& exec, models::RecNet& net, BatchSource& source, int batch_size,
                            std::vector<int>* predictions = nullptr);

}  // namespace selectiv::eval
