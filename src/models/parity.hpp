// SPDX-License-Identifier: BSD-3-Clause
// Parity of a model against a reference file with the layout of golden/layers/*.h5 (golden/README.md §2): load the
// parameters, input and targets, run forward and backward, and compare logits, loss, hidden states and every
// parameter gradient by err_ratio = rms(ref - ours) / rms(ref).
#pragma once

#include <string>
#include <vector>

namespace selectiv::models {

struct ParityCheck {
  std::string what;      // "logits", "loss", "hidden/layer_0", "grad layers.0.q_proj.weight", ...
  double err_ratio = 0;  // for the loss: |ref - ours| / |ref|
  double tolerance = 0;
  bool ok() const { return err_ratio <= tolerance; }
};

struct ParityReport {
  std::string file;
  std::string model;
  std::vector<ParityCheck> checks;
  bool ok() const;
  const ParityCheck& worst() const;  // largest err_ratio / tolerance
};

// Tolerances for exact fp32 maths in any association order (golden/README.md §3).
struct ParityTolerances {
  double logits = 1e-5;
  double hidden = 1e-5;
  double loss = 1e-6;
  double grads = 1e-4;
};

// Needs Kokkos initialised. Invalid files or unknown models: Error(kInvalidInput) naming the file and object.
ParityReport run_parity(const std::string& path, const ParityTolerances& tolerances = {});

}  // namespace selectiv::models
