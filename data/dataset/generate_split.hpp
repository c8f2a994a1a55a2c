// SPDX-License-Identifier: BSD-3-Clause
// One split of a task, generated and written: for each sample i, the grammar's symbol sequence of generator index
// sample_index(spec, split, i) (bit-exact with the reference), its counter-based gaps, then DatasetWriter. The
// result is the same for any thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "data/dataset/schema.hpp"
#include "data/dataset/writer.hpp"
#include "data/grammar/grammar.hpp"
#include "data/tasks/task_spec.hpp"

namespace selectiv::data {

struct GenerateOptions {
  std::int64_t n_samples = -1;                     // -1: the whole split
  int threads = 1;                                 // worker threads building samples
  DatasetWriter::Options writer;                   // overwrite, chunking
  std::function<void(std::int64_t done)> progress; // called after each block of samples, from the calling thread
};

// Writes `path`; returns the number of samples written.
std::int64_t generate_split(const std::string& path, const TaskSpec& spec, Split split, const Grammar& grammar,
                            const Provenance& provenance, const GenerateOptions& options);

}  // namespace selectiv::data
