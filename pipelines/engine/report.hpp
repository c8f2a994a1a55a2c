// SPDX-License-Identifier: BSD-3-Clause
// The report stage: one row per (run, evaluation set) and the tables the paper compares models with.
//   results.{csv,json,md}  model, d_model, parameters, seed, lr, warmup, task, ambiguities, test gap, final and best
//                          test accuracy during training, the evaluation's accuracy and loss, a selectivity summary
//                          (oracle and memoryless anchors, selectivity score = (acc - memoryless) / (oracle -
//                          memoryless), share of errors that pick another instance of the right symbol, accuracy
//                          right after a distractor), tokens/s and wall time of training
//   summary.{csv,json,md}  per (evaluation set, grid values other than seed / lr / warmup): the lr and warmup with the
//                          best mean accuracy over seeds, and the mean and sample standard deviation over seeds there
//   *.png                  accuracy against grammar complexity, model size and test gap (the axes the grid varies),
//                          drawn by /usr/bin/python3 + matplotlib when both are there; the tables never need them
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "pipelines/engine/scheduler.hpp"

namespace selectiv::engine {

nlohmann::json write_report(const StageContext& ctx);

// Columns of results.* and summary.*, in order.
const std::vector<std::string>& result_columns();
const std::vector<std::string>& summary_columns();

// Draws the plots of summary.csv in `dir` (plots.py is written there too). Returns false, with a warning, when
// python3 or matplotlib is missing or the script fails.
bool draw_plots(const std::string& dir);

}  // namespace selectiv::engine
