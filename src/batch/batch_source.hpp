// SPDX-License-Identifier: BSD-3-Clause
// Batches of a dataset file on the device: compact samples are read from HDF5 (data/dataset) and expanded into
// model inputs, per-step targets, the valid-step mask and the element windows by kernels/nn/expand_batch.
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset/reader.hpp"
#include "kernels/common/views.hpp"

namespace selectiv {

struct DeviceBatch {
  int B = 0, T = 0, E = 0;
  View3 inputs;          // (B, T, V) one-hot (+ noise)
  IView1 targets;        // (B * T) class of the element owning each step
  View1 mask;            // (B * T) 1 on real steps, 0 on padding
  IView2 targets2;       // the same memory as targets, (B, T)
  View2 mask2;           // the same memory as mask, (B, T)
  IView2 window_start;   // (B, E)
  IView2 window_length;  // (B, E)
  DeviceView2<const int> element_target;  // (B, E)
};

class BatchSource {
 public:
  explicit BatchSource(const std::string& path);
  const data::DatasetInfo& info() const { return m_reader.info(); }
  const data::DatasetReader& reader() const { return m_reader; }  // the open file, for its grammar and samples
  std::int64_t size() const { return m_reader.info().n_samples; }
  // Samples [first, first + count) of the file; the returned views stay valid until the next call.
  const DeviceBatch& load(std::int64_t first, int count);

 private:
  data::DatasetReader m_reader;
  DeviceBatch m_batch;
};

}  // namespace selectiv
