// SPDX-License-Identifier: BSD-3-Clause
// The oracle for models of the list that have no reference implementation (hence no golden file): a host,
// double-precision composition of the kernels' reference twins (kernels/nn/reference_dense.hpp,
// kernels/gla/reference.hpp) that computes the whole mixer's forward from the same fp32 parameters and input.
// The device mixer's forward is compared with it, and the device mixer's backward (dh and every parameter
// gradient, for the loss sum(dz * z) with a fixed random dz) with central finite differences of it.
#pragma once

#include <string>
#include <vector>

namespace selectiv::models {

struct HostCompositionShape {
  int B = 2, T = 67, d_model = 8, n_heads = 2;  // T crosses one chunk boundary of the GLA kernels (64)
  bool finite_differences = true;               // false: forward only
};

struct HostCompositionCheck {
  std::string what;  // "forward z", "grad h", "grad L.q_proj.weight", ...
  double err_ratio = 0;
  double tolerance = 0;
};

// Models with a host composition: linear_attention, retnet. Any other model fails the calling test (and returns
// nothing). Needs Kokkos initialised.
std::vector<HostCompositionCheck> check_against_host_composition(const std::string& model,
                                                                 const HostCompositionShape& shape);

}  // namespace selectiv::models
