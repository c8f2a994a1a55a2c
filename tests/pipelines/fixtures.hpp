// SPDX-License-Identifier: BSD-3-Clause
// Shared by the engine tests: a small pipeline document, a fresh temporary store, and plans built from text.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "pipelines/engine/pipeline_file.hpp"
#include "pipelines/engine/plan.hpp"

namespace selectiv::engine::testing {

// A tiny task and train config; `grid` and `extra` are appended as YAML text.
inline std::string small_pipeline(const std::string& grid, const std::string& extra = "") {
  return "name: small\n"
         "task:\n"
         "  task: tiny\n"
         "  seed: 1\n"
         "  grammar: {ambiguities: 4, ambiguity_depth: 4, seq_len_max: 20, combined_seq_length: 20}\n"
         "  splits: {train_size: 64, test_size: 16, heldout_size: 0}\n"
         "  gaps: {kind: zeros, train_min: 0.1, train_max: 0.1, test: 0.1}\n"
         "train: {d_model: 16, layers: 1, lr: 0.003, warmup: 2, batch_size: 8, steps: 8, eval_every: 8, d_state: 8}\n" +
         grid + extra;
}

inline PipelineFile read_pipeline(const std::string& text, const std::vector<std::string>& sets = {}) {
  ConfigDocument doc = ConfigDocument::parse(text, "test.yaml");
  for (const auto& s : sets) doc.apply_override(s);
  return PipelineFile::read(doc, "test.yaml");
}

inline CodeIdentity test_code() { return {"0.0.0+test", "Serial"}; }

inline Plan plan_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  PipelineFile file = read_pipeline(text, sets);
  return build_plan(file, expand_grid(file), test_code());
}

// A fresh, empty folder under the test temp dir.
inline std::string fresh_dir(const std::string& name) {
  // One folder per process: ctest runs each test in its own process, possibly two at a time.
  const std::string dir = ::testing::TempDir() + "/selectiv_engine_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace selectiv::engine::testing
