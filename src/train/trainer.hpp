// SPDX-License-Identifier: BSD-3-Clause
// The training loop (reference-spec §4): batches in file order, forward, fused cross-entropy, backward,
// global-norm clipping, Adam with warmup + cosine, an evaluation on the test file every eval_every updates, and a
// checkpoint after each evaluation. Non-finite loss or gradients stop with ExitCode::kDiverged (no checkpoint of
// such weights is written); SIGINT/SIGTERM write a checkpoint and stop with kInterrupted (resume with `resume`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/train_config.hpp"

namespace selectiv::train {

struct EvalPoint {
  std::int64_t step = 0;       // updates done
  double lr = 0.0;             // learning rate of the last update
  double train_loss = 0.0;     // mean over the updates since the previous evaluation
  double train_accuracy = 0.0;
  double test_loss = 0.0;
  double test_accuracy = 0.0;
  double seconds = 0.0;        // wall time since the start of this process' run
};

struct TrainPaths {
  std::string train_data;   // dataset file (split train)
  std::string test_data;    // dataset file evaluated every eval_every updates
  std::string out_dir;      // receives checkpoint.h5 and metrics.json
  bool resume = false;      // continue from out_dir/checkpoint.h5 when it exists
};

struct TrainResult {
  std::vector<EvalPoint> history;
  std::int64_t steps = 0;           // updates done in all
  std::int64_t parameters = 0;      // trainable parameters (the reference's nb_params)
  double wall_seconds = 0.0;
  double steps_per_second = 0.0;    // updates of this process
  double tokens_per_second = 0.0;   // valid time steps processed per second in training
  nlohmann::json to_json() const;
};

// Needs Kokkos initialised.
TrainResult run_training(const TrainConfig& config, const TrainPaths& paths);

}  // namespace selectiv::train
