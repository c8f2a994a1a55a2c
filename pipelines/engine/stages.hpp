// SPDX-License-Identifier: BSD-3-Clause
// The stage actions of `selectiv run`: what each kind of instance does inside its fresh output folder.
//   generate  the task's datasets (train.h5, test.h5) through the same code as `selectiv generate`
//   train     one training run (checkpoint.h5, metrics.json); a run that diverges is a finished instance with
//             outcome "diverged" (it would diverge again: training is deterministic), its metrics.json says so
//   evaluate  the final checkpoint on the evaluation set's test split (eval/evaluation.hpp): evaluation.json (accuracy,
//             loss, selectivity profile) and evaluation.h5 (predictions, profile tables); a diverged run gets an
//             evaluation.json with outcome "diverged" and no numbers
//   report    engine/report.hpp
#pragma once

#include <nlohmann/json.hpp>

#include "pipelines/engine/scheduler.hpp"

namespace selectiv::engine {

nlohmann::json run_stage(const StageContext& ctx);

}  // namespace selectiv::engine
