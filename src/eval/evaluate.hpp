// SPDX-License-Identifier: BSD-3-Clause
// The reference's test metric (reference-spec §3.2): per element, the softmax probabilities summed over the
// element's window, argmax against the element's class; and the mean cross-entropy over valid steps. Both are
// reduced per batch and averaged with weight batch_size / N, as the reference's test loop does.
//
// Streamed in bounded memory: a batch is split into micro-batches of at most `max_tokens` samples x steps for the
// model body (RecNet::forward_hidden keeps one layer's workspace at a time), and the decoder, the loss and the
// window votes run on blocks of `logit_rows` flattened steps, so neither the (B, T, C) logits nor the probabilities
// of a whole sequence ever exist. The vote totals are (micro-batch, E, C), independent of T.
#pragma once

#include <cstdint>
#include <vector>

#include "batch/batch_source.hpp"
#include "core/progress.hpp"
#include "models/recnet.hpp"

namespace selectiv::eval {

struct SplitMetrics {
  double loss = 0.0;      // mean over batches of the batch's mean valid-step loss, weighted by batch size
  double accuracy = 0.0;  // fraction of elements whose window vote equals their class
  std::int64_t samples = 0;
  std::int64_t elements = 0;
  std::int64_t steps = 0;  // valid time steps evaluated
};

struct EvaluationOptions {
  int batch_size = 50;                // the reference's test batch (the loss is a per-batch mean)
  std::int64_t max_tokens = 16384;    // samples x steps per model forward (at least one sample)
  std::int64_t logit_rows = 2048;     // flattened steps decoded and voted per block
};

// Accuracy of one batch's whole-sequence logits (B, T, C): fraction of (b, e) whose window vote equals
// element_target(b, e). Used by the training loop on the batch it already holds.
double batch_accuracy(const Exec& exec, CView3 logits, const DeviceBatch& batch);

// Every sample of `source`, streamed. When `predictions` is given it receives the predicted class of every
// element of the file, (N, E) row-major. `progress`, when given, advances by one per sample.
SplitMetrics evaluate_split(const Exec& exec, models::RecNet& net, BatchSource& source,
                            const EvaluationOptions& options, std::vector<int>* predictions = nullptr,
                            Progress* progress = nullptr);

}  // namespace selectiv::eval
