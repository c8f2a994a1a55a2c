// SPDX-License-Identifier: BSD-3-Clause
// From an expanded pipeline to the DAG of stage instances:
//   generate  one per distinct task spec (train + test splits for training; the test split alone for an evaluation
//             set that changes the spec): outputs train.h5 / test.h5
//   train     one per grid point (reads its generate): checkpoint.h5, metrics.json
//   evaluate  one per (grid point, evaluation set) (reads the train instance and the set's generate):
//             evaluation.json (+ evaluation.h5)
//   report    one (reads every train and evaluate instance): results.{csv,json,md}, summary.{csv,json,md}, plots
// Instances with equal keys are one instance (two pipelines, or two points, that need the same work share it).
#pragma once

#include "pipelines/engine/instance.hpp"
#include "pipelines/engine/pipeline_file.hpp"

namespace selectiv::engine {

// One row of the report: a grid point evaluated on one evaluation set.
struct ReportRow {
  std::size_t point = 0;
  std::string set;
  std::size_t train = 0;     // plan index of the train instance
  std::size_t evaluate = 0;  // plan index of the evaluate instance
  std::size_t dataset = 0;   // plan index of the generate instance evaluated on
};

Plan build_plan(const PipelineFile& file, const Expansion& expansion, const CodeIdentity& code);

// The report's rows, from the report instance's parameters.
std::vector<ReportRow> report_rows(const Plan& plan, std::size_t report_index);
// Index of the plan's report instance.
std::size_t report_index(const Plan& plan);

}  // namespace selectiv::engine
