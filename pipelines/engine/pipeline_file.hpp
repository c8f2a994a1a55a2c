// SPDX-License-Identifier: BSD-3-Clause
// The pipeline YAML and its grid expansion. A pipeline file has the sections
//   name:     the pipeline's name (the report is published under <store>/<name>/)
//   task:     a task spec with the keys of data/specs/*.yaml (the training data; `test` split evaluated during training)
//   train:    a training config (keys of `selectiv train --config`)
//   grid:     axis -> list of values; the cartesian product of all axes, first axis outermost, is the set of runs.
//             An axis is a train key (`lr`, `model`, `d_model`, ...), `seed` (sets task.seed and train.seed, the
//             reference's same_seed), or a dotted path `task.<path>` / `train.<path>`. A value that is a mapping is
//             merged into the mapping at the path (for axes that move several keys together). `model: [all]` is
//             every model of the model list.
//   evaluate: batch_size, max_tokens (eval/evaluate.hpp EvaluationOptions), and `sets`: name -> task-spec keys overriding the run's task for that evaluation's test
//             split (`test: {}` is the run's own test split; `dur_2: {gaps: {test: 2.0}}` a longer test gap).
//   report:   plots (true/false).
// Every key is strict (unknown keys, wrong types, out-of-range values exit 2 with file:line:col).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "data/tasks/task_spec.hpp"
#include "train/train_config.hpp"

namespace selectiv::engine {

struct GridAxis {
  std::string name;                  // as written in the file
  std::vector<std::string> paths;    // where each value goes: "task.seed", "train.lr", "task.grammar"
  std::vector<YAML::Node> values;
  std::vector<std::string> labels;   // a short text per value
  std::string where;                 // file:line:col of the axis, for messages
  bool affects(const std::string& section) const;  // "task" or "train"
};

struct EvaluationSet {
  std::string name;
  YAML::Node overrides;  // mapping merged into the run's task spec (empty: the run's own test split)
  std::string where;
};

struct PipelineFile {
  std::string name = "pipeline";
  std::string source;                // file path or "<embedded pipelines/quick.yaml>"
  YAML::Node task, train;            // base sections (validated when read)
  std::vector<GridAxis> grid;
  std::vector<EvaluationSet> sets;
  int eval_batch_size = 50;               // the reference's test batch (the loss is a per-batch mean)
  std::int64_t eval_max_tokens = 16384;   // samples x steps per forward in evaluation (memory bound)
  bool plots = true;

  // Reads and validates the document (exit 2 with the key's location on any problem).
  static PipelineFile read(const ConfigDocument& doc, const std::string& source);
};

// One run of the grid: its axis values and the resolved configs.
struct GridPoint {
  std::string label;                                      // "model=gla,lr=0.001,seed=1"
  std::vector<std::pair<std::string, std::string>> axes;  // axis name -> value label
  std::size_t task = 0;                                   // index into Expansion::tasks
  std::size_t train = 0;                                  // index into Expansion::trains
  std::vector<std::size_t> eval_tasks;                    // per evaluation set: index into Expansion::tasks
};

struct Expansion {
  std::vector<data::TaskSpec> tasks;
  std::vector<train::TrainConfig> trains;
  std::vector<GridPoint> points;
};

// The full cartesian product; every distinct task spec and train config is parsed (and validated) once.
Expansion expand_grid(const PipelineFile& file);

}  // namespace selectiv::engine
