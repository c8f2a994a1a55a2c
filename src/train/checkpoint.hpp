// SPDX-License-Identifier: BSD-3-Clause
// Checkpoints (HDF5): every parameter under params/<name with '/' for '.'> in its state_dict shape (the layout of
// golden/layers/*.h5, so reference parameters and ours read the same way), the Adam moments as flat arenas, the
// optimizer step and the run's config. Written to `<path>.tmp` and renamed, so a checkpoint is whole or absent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "models/recnet.hpp"

namespace selectiv::train {

inline constexpr const char* kCheckpointSchema = "selectivbench.checkpoint";
inline constexpr std::int64_t kCheckpointVersion = 1;

struct CheckpointInfo {
  std::int64_t step = 0;     // optimizer updates done
  std::string config_json;   // canonical JSON of the TrainConfig
  models::ModelDims dims;
};

void save_checkpoint(const std::string& path, const models::RecNet& net, std::int64_t step,
                     const std::string& config_json);
// Reads only the header (model sizes, step, config): enough to build the RecNet to load into.
CheckpointInfo read_checkpoint_info(const std::string& path);
// Loads parameters (and the Adam moments when `with_optimizer`) into a RecNet built from read_checkpoint_info.
void load_checkpoint(const std::string& path, models::RecNet& net, bool with_optimizer);
// The trained model of a checkpoint, ready for inference (parameters only); `info` receives its header.
// Builds and loads the model of a checkpoint for inference, and makes the matmul precision of its config (auto
// when absent) the process's.
std::unique_ptr<models::RecNet> load_model(const std::string& path, CheckpointInfo* info = nullptr);

}  // namespace selectiv::train
