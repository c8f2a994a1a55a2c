// SPDX-License-Identifier: BSD-3-Clause
// Dataset file schema v1 (data/SCHEMA.md): one HDF5 file per split holding the grammar, the compact samples
// (symbol, target, hidden state, gap length per element; task-3 distractors as a ragged list) and, as
// attributes, the task spec and its provenance. The dense time series is never stored: the training loop expands
// it on the device per batch (kernels/nn/expand_batch.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tasks/task_spec.hpp"

namespace selectiv::data {

inline constexpr const char* kDatasetSchemaName = "selectivbench.dataset";
inline constexpr std::int64_t kDatasetSchemaVersion = 1;

// Where a file came from; all strings are stored as root attributes.
struct Provenance {
  std::string tool_version;   // "0.1.0"
  std::string git_hash;       // of the tool that wrote the file
  std::string config_json;    // canonical JSON of the task spec (sorted keys, no whitespace)
  std::string config_sha256;  // SHA-256 of config_json, hex
};

// Everything a reader learns from the root attributes and dataset shapes, before reading any sample.
struct DatasetInfo {
  std::int64_t schema_version = 0;
  TaskSpec spec;
  Split split = Split::kTrain;
  Provenance provenance;
  std::int64_t n_samples = 0;     // N
  std::int64_t elements = 0;      // E (= spec.grammar.combined_seq_length)
  std::int64_t first_index = 0;   // generator index of sample 0 (its samples are first_index + i)
  std::int64_t n_states = 0;      // S
  std::int64_t n_transitions = 0;
  std::int64_t n_symbols = 0;     // V, the model's input size
  std::int64_t n_classes = 0;     // C, the model's output size
  std::int64_t total_steps = 0;   // sum over samples of their time steps
  std::int64_t max_steps = 0;     // longest sample, in time steps
  std::int64_t n_distractors = 0; // M
};

// A block of consecutive samples as stored (row-major, B = count).
struct CompactSamples {
  std::int64_t count = 0;                        // B
  std::int64_t elements = 0;                     // E
  std::vector<std::int64_t> index;               // (B) generator sample index
  std::vector<std::int32_t> symbol;              // (B, E) input symbol id ('#' = 0)
  std::vector<std::int32_t> target;              // (B, E) class id of the hidden state
  std::vector<std::int32_t> state;               // (B, E) hidden state (index into the grammar's states)
  std::vector<std::int32_t> gap;                 // (B, E) steps after the element's symbol step
  std::vector<std::int32_t> steps;               // (B) E + sum of the sample's gaps
  std::vector<std::int64_t> distractor_offset;   // (B + 1) sample b's distractors are [offset[b], offset[b+1])
  std::vector<std::int32_t> distractor_symbol;   // (offset[B]) in time order within each sample
};

}  // namespace selectiv::data
