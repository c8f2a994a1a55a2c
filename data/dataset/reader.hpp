// SPDX-License-Identifier: BSD-3-Clause
// Reads a dataset file of schema v1 (data/SCHEMA.md). Opening validates the schema name and version, every
// attribute, and the name, dtype, rank and dims of every dataset before any sample payload is read or allocated;
// each read then checks the values it returns (ids in range, steps that add up, ragged offsets that nest). A bad
// file is a selectiv::Error(kInvalidInput) naming the file and the object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset/schema.hpp"
#include "data/grammar/grammar.hpp"
#include "data/h5/file.hpp"

namespace selectiv::data {

class DatasetReader {
 public:
  explicit DatasetReader(const std::string& path);

  const DatasetInfo& info() const { return m_info; }
  const std::string& path() const { return m_path; }

  // The whole grammar, with every index checked.
  Grammar read_grammar() const;
  // Samples [first, first + count) of the file.
  CompactSamples read(std::int64_t first, std::int64_t count) const;

 private:
  std::string m_path;
  h5::File m_file;
  DatasetInfo m_info;
  std::vector<std::int32_t> m_class_of_state;   // (S)
  std::vector<std::int32_t> m_symbol_of_state;  // (S)
};

}  // namespace selectiv::data
