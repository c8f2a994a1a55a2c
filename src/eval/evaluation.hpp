// SPDX-License-Identifier: BSD-3-Clause
// One evaluation: a trained model on a dataset file -> the reference metric (streamed, eval/evaluate.hpp), the
// selectivity profile with its oracle and memoryless anchors (eval/selectivity.hpp), every element's prediction,
// and the cost (wall time, peak resident memory). Written as a metrics HDF5 file plus a JSON summary, each
// published atomically (temporary name, then rename).
//
//   <prefix>.h5    attributes: the summary's scalars; datasets: predictions (N, E) int32,
//                  profile/<table>/{key,correct,total} (int64) for by_gap, by_context_needed, by_position_decile
//   <prefix>.json  summary(): checkpoint, dataset, model, accuracy, loss, ..., "selectivity": the profile
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/evaluate.hpp"
#include "eval/selectivity.hpp"

namespace selectiv::eval {

struct Evaluation {
  std::string checkpoint, dataset, model;
  std::int64_t checkpoint_step = 0;
  int d_model = 0, layers = 0;
  std::int64_t max_steps = 0;      // longest sample of the dataset, in time steps
  double test_gap = 0.0;           // the dataset's test gap parameter (task 4: test_dur)
  SplitMetrics metrics;
  SelectivityProfile profile;
  std::vector<int> predictions;    // (N, E) row-major
  std::int64_t elements_per_sample = 0;
  double wall_seconds = 0.0;
  double peak_rss_mib = 0.0;       // the process's peak resident memory so far (getrusage)
  nlohmann::json summary() const;
};

// Evaluates every sample of the dataset file (exit 2 when its symbols or classes do not fit the model). The caller
// fills in `checkpoint` and `checkpoint_step` (train::load_model gives both). Progress on stderr when `progress`.
Evaluation evaluate_model(models::RecNet& net, const std::string& dataset, const EvaluationOptions& options,
                          bool progress = true);

// Writes prefix + ".h5" and prefix + ".json"; an existing pair is replaced only once both new files are complete.
void write_evaluation(const Evaluation& evaluation, const std::string& prefix);

// Peak resident memory of this process in MiB.
double peak_rss_mib();

}  // namespace selectiv::eval
