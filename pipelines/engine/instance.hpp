// SPDX-License-Identifier: BSD-3-Clause
// Stage instances and their keys. An instance is one unit of cached work (generate one task's datasets, train one
// grid point, evaluate one checkpoint on one dataset, write the report); it declares its canonical parameters and
// the instances whose outputs it reads, and its key is the SHA-256 of
//   {"stage", "params" (canonical JSON), "inputs" (the input instances' keys, in order), "code", "backend"}
// so a change of any parameter, of any input (recursively), of the code version or of the backend gives a new key.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/tasks/task_spec.hpp"
#include "train/train_config.hpp"

namespace selectiv::engine {

enum class Stage { kGenerate, kTrain, kEvaluate, kReport };
const char* stage_name(Stage stage);

// What, besides parameters and inputs, every key depends on.
struct CodeIdentity {
  std::string version;  // selectiv/version.hpp: tool version + git hash
  std::string backend;  // Kokkos default execution space of this build ("Serial", "OpenMP", "Cuda", ...)
  static CodeIdentity of_this_build();
};

inline constexpr std::size_t kNoUnit = static_cast<std::size_t>(-1);

struct Instance {
  Stage stage = Stage::kGenerate;
  std::string label;                 // readable id: "train@model=gla,lr=0.001"
  // Everything the stage's result depends on besides its inputs (shared: many instances have equal parameters).
  std::shared_ptr<const nlohmann::json> params;
  std::string params_canonical;      // canonical_json(*params); filled by Plan::add when empty
  std::vector<std::size_t> inputs;   // indices of earlier instances of the plan
  std::vector<std::string> outputs;  // files the stage writes into its folder (manifest.json aside)
  std::string backend;               // the backend that enters the key ("host" for the host-only generate stage)
  std::string key;                   // 64 hex digits
  // Shard unit: train and evaluate instances of one grid point share one unit; kNoUnit for shared instances
  // (generate: run by whichever worker needs it first; report: run once all its inputs exist).
  std::size_t unit = kNoUnit;
  // Typed payload for the stage actions.
  std::optional<data::TaskSpec> task;  // generate
  std::vector<data::Split> splits;     // generate
  std::optional<train::TrainConfig> train;
};

struct Plan {
  std::string name;                      // pipeline name: the report is published under <store>/<name>
  std::vector<Instance> instances;       // topological order: every input comes before its users
  std::size_t units = 0;                 // number of grid points (shard units)
  std::vector<std::vector<std::size_t>> users;  // users[i]: instances that read i's outputs

  // Adds an instance (computing its key from the inputs' keys); an instance with the same key as an existing one
  // is not added twice: the existing index is returned.
  std::size_t add(Instance instance, const CodeIdentity& code);
  void reserve(std::size_t n);
  std::optional<std::size_t> find(const std::string& key) const;
  std::size_t count(Stage stage) const;

 private:
  std::unordered_map<std::string, std::size_t> m_by_key;
};

// The key of an instance with these parameters (given as their canonical JSON text) and inputs: the SHA-256 of the
// canonical JSON of {"backend", "code", "inputs", "params", "stage"}, assembled without copying the parameters.
std::string instance_key(Stage stage, const std::string& params_canonical, const std::vector<std::string>& input_keys,
                         const std::string& code_version, const std::string& backend);

}  // namespace selectiv::engine
