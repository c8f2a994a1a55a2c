// SPDX-License-Identifier: BSD-3-Clause
// Everything a training run depends on (reference-spec §4), read strictly from YAML (core/config.hpp) with
// `--set` overrides. Its canonical JSON is the run's identity in checkpoints and cache keys.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "models/mixer.hpp"

namespace selectiv::train {

struct TrainConfig {
  std::string model = "gla";       // a name of the model list
  int d_model = 256;
  int layers = 8;
  int heads = 0;                   // 0: the reference's get_num_heads(d_model)
  int d_state = 128;               // Mamba / Mamba2 only
  double dropout = 0.2;
  double lr = 1e-3;
  std::int64_t warmup = 1000;      // warmup updates of the warmup + cosine schedule
  std::int64_t steps = 0;          // optimizer updates; 0: one pass over the training set (N / batch_size)
  int batch_size = 64;
  int eval_batch_size = 50;
  std::int64_t eval_every = 78;    // the reference evaluates every 5000 // 64 updates
  // The reference never switches back to train mode after its first evaluation (quirk §9.1): dropout is active
  // only until then. Set false to keep dropout for the whole run.
  bool dropout_until_first_eval = true;
  double clip_norm = 1.0;
  std::uint64_t seed = 1;          // parameter init and dropout masks
  // Matmul precision of the large GEMMs: "auto" (tf32 on a CUDA build, fp32 elsewhere), "fp32", "tf32" or "bf16"
  // (kernels/common/precision.hpp). Part of the run's identity: it changes the numbers.
  std::string precision = "auto";

  void read(ConfigReader& reader);
  nlohmann::json to_json() const;
  models::ModelDims model_dims(int input_size, int n_classes) const;
  // Resolves `precision` on this build and makes it the process's matmul precision; returns its name.
  std::string apply_precision() const;
};

}  // namespace selectiv::train
