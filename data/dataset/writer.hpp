// SPDX-License-Identifier: BSD-3-Clause
// Writes one split of a dataset (schema v1, data/SCHEMA.md) the safe way: everything goes to `<path>.tmp.<pid>`
// in the same directory; commit() closes it, fsyncs it and only then moves it to `path` (never replacing an
// existing file unless asked), then fsyncs the directory. A writer destroyed before commit() removes its temporary
// file, so a failed or interrupted run leaves nothing that looks like a dataset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset/schema.hpp"
#include "data/grammar/grammar.hpp"
#include "data/tasks/element_gaps.hpp"
#include "data/tasks/task_spec.hpp"

namespace selectiv::data {

class DatasetWriter {
 public:
  struct Options {
    bool overwrite = false;             // replace an existing file at `path` on commit
    std::int64_t rows_per_chunk = 256;  // samples per HDF5 chunk of the (N, E) arrays
    int deflate_level = 4;
  };

  // Throws selectiv::Error: kInvalidInput when `path` exists and !overwrite or the spec is invalid; kFailure
  // when the temporary file cannot be written. n_samples <= split_size(spec, split).
  DatasetWriter(std::string path, const TaskSpec& spec, Split split, std::int64_t n_samples, const Grammar& grammar,
                const Provenance& provenance, Options options);
  DatasetWriter(std::string path, const TaskSpec& spec, Split split, std::int64_t n_samples, const Grammar& grammar,
                const Provenance& provenance)
      : DatasetWriter(std::move(path), spec, split, n_samples, grammar, provenance, Options()) {}
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // Sample i of the split, in order: its generator index must be sample_index(spec, split, i).
  void append(std::int64_t index, const SymbolSample& sample, const SampleGaps& gaps);
  // After exactly n_samples appends: finishes, closes, fsyncs and publishes the file at `path`.
  void commit();

  const std::string& path() const { return m_path; }
  const std::string& temporary_path() const { return m_temporary; }
  std::int64_t appended() const;

 private:
  struct State;
  std::string m_path;
  std::string m_temporary;
  std::unique_ptr<State> m_state;
};

// Moves `from` onto `to` atomically after fsyncing it, then fsyncs the directory. Without `overwrite`, fails
// (kInvalidInput) when `to` exists, and never replaces it even if it appears concurrently.
void publish_file(const std::string& from, const std::string& to, bool overwrite);

}  // namespace selectiv::data
