// SPDX-License-Identifier: BSD-3-Clause
// Parameters of a model: a table of {name, shape, init} rows (names and shapes of the reference state_dict) backed
// by one flat device arena for the values, one for the gradients and one per Adam moment, so that the optimiser,
// clipping and checkpointing each touch one buffer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "kernels/common/views.hpp"

namespace selectiv::models {

// Fills a parameter's host values; `uniform01(i)` is the i-th U[0,1) draw of this parameter's own Philox stream.
using InitFn = std::function<void(std::vector<float>& values, const std::function<double(std::int64_t)>& uniform01)>;

// PyTorch's default inits and the layer-specific ones of reference-spec §5.
InitFn init_uniform(double bound);         // U(-bound, bound): nn.Linear / Conv1d with bound = 1/sqrt(fan_in)
InitFn init_constant(double value);        // norms' weights (1), biases (0), D (1), beta (1)
InitFn init_values(std::vector<float> v);  // fixed tables, e.g. RoPE inv_freq or Mamba's A_log = log(n+1)
InitFn init_log_uniform(double lo, double hi);  // log U(lo, hi), e.g. A_log of Mamba2 / Gated DeltaNet
InitFn init_dt_bias(double dt_min = 1e-3, double dt_max = 0.1, double dt_floor = 1e-4);  // softplus^-1(logU dt)

struct ParamInfo {
  std::string name;                 // reference state_dict name, e.g. "layers.0.q_proj.weight"
  std::vector<std::int64_t> shape;  // as in the state_dict
  std::int64_t offset = 0;          // into the arena
  std::int64_t size = 0;
  bool trainable = true;            // false for buffers (the Transformer's rotary.inv_freq)
  InitFn init;
};

class ParamTable {
 public:
  // Declare before allocate(). Buffers live in the arena too but get no gradient and are not counted.
  void add(const std::string& name, std::vector<std::int64_t> shape, InitFn init, bool trainable = true);
  // One arena per role; values initialised from Philox keyed by (seed, parameter index, element).
  void allocate(std::uint64_t seed);

  const std::vector<ParamInfo>& params() const { return m_params; }
  const ParamInfo& info(const std::string& name) const;
  bool has(const std::string& name) const { return m_index.count(name) > 0; }
  std::int64_t trainable_count() const;   // what the reference reports as nb_params
  std::int64_t arena_size() const { return m_size; }

  // Views into the arenas, shaped as the state_dict entry.
  View1 value1(const std::string& name) const;
  View2 value2(const std::string& name) const;
  View1 grad1(const std::string& name) const;
  View2 grad2(const std::string& name) const;

  View1 values() const { return m_values; }
  View1 grads() const { return m_grads; }
  View1 adam_m() const { return m_m; }
  View1 adam_v() const { return m_v; }
  // Gradients of every trainable parameter set to zero (buffers are never touched).
  void zero_grads() const;

  // Host copies in state_dict shape, for checkpoints and parity checks.
  std::vector<float> host_value(const std::string& name) const;
  std::vector<float> host_grad(const std::string& name) const;
  void set_host_value(const std::string& name, const std::vector<float>& values) const;

 private:
  View1 slice(const View1& arena, const std::string& name) const;
  std::vector<ParamInfo> m_params;
  std::map<std::string, std::size_t> m_index;
  std::int64_t m_size = 0;
  View1 m_values, m_grads, m_m, m_v;
};

}  // namespace selectiv::models
