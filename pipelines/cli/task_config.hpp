// SPDX-License-Identifier: BSD-3-Clause
// Task specs in pipeline and generate configs: the strict YAML reader (keys of data/specs/*.yaml), the canonical JSON
// whose SHA-256 every dataset file carries, and dataset generation shared by `selectiv generate` and `selectiv run`.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/config.hpp"
#include "data/tasks/task_spec.hpp"

namespace selectiv::cli {

// Reads a whole task spec from `r` (the keys task, seed, noise, grammar, splits, gaps) and finishes `r`.
data::TaskSpec read_task_spec(ConfigReader& r);
// The spec as JSON with the YAML's key names: what config_sha256 is computed over.
nlohmann::json spec_json(const data::TaskSpec& spec);
bool path_exists(const std::string& path);
void make_directories(const std::string& dir);

// Makes sure DIR/<split>.h5 exist for `spec`: generates the missing ones; a file that exists must carry the same
// config SHA-256 (else Error kInvalidInput naming it: nothing is overwritten).
void ensure_datasets(const data::TaskSpec& spec, const std::string& dir, const std::vector<data::Split>& splits);

}  // namespace selectiv::cli
