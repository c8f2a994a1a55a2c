// SPDX-License-Identifier: BSD-3-Clause
// The one interface that differs between models: the sequence mixer of a RecNet block (reference-spec §5.1).
// A mixer declares its parameters (reference state_dict names under its layer prefix), runs forward on the residual
// stream h (B, T, d) giving z (B, T, d), keeps what its backward needs, and runs backward.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/common/views.hpp"
#include "models/param_table.hpp"

namespace selectiv::models {

// Sizes of a RecNet and its mixers (reference-spec §5, train.py's arguments).
struct ModelDims {
  std::string mixer;      // a name of the model list (models/zoo.def)
  int input_size = 41;    // V
  int n_classes = 1601;   // C
  int d_model = 256;      // d
  int n_heads = 4;        // H = get_num_heads(d)
  int layers = 8;
  int d_state = 128;      // Mamba / Mamba2 state size N
  float dropout = 0.2f;
  float rope_base = 1000.0f;
};

// The reference's get_num_heads(d, max_head_size=128): 4 if d/128 <= 4, else the smallest power of two n >= 4
// with d % n == 0 and d/n <= 128.
int reference_num_heads(int d_model, int max_head_size = 128);

// Whether dropout inside a mixer is active, and the Philox stream its mask comes from.
struct DropoutMode {
  bool training = false;
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
};

class Mixer {
 public:
  virtual ~Mixer() = default;
  // Declares this layer's parameters, every name starting with `prefix` (e.g. "layers.3.").
  virtual void declare(ParamTable& table) = 0;
  // z = mixer(h). h, z: (B, T, d). Saves what backward needs.
  virtual void forward(const Exec& exec, const ParamTable& params, View3 z, CView3 h, const DropoutMode& mode) = 0;
  // dh = dz . dz/dh (assigned); parameter gradients accumulate into params' gradient arena.
  virtual void backward(const Exec& exec, const ParamTable& params, View3 dh, CView3 dz, CView3 h) = 0;
};

// The model list: every name in models/zoo.def, in order.
const std::vector<std::string>& mixer_names();
bool is_mixer(const std::string& name);
std::unique_ptr<Mixer> make_mixer(const std::string& name, const ModelDims& dims, const std::string& prefix);

}  // namespace selectiv::models
