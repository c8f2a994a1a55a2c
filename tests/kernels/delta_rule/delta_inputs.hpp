// SPDX-License-Identifier: BSD-3-Clause
// Random delta-rule inputs for the tests: l2-normalised q and k, v and upstream gradients ~ N(0, 1), betas in
// (0, 1) or (0, 2), and log-decays g in three regimes (or none).
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "kernels/delta_rule/reference.hpp"

namespace selectiv::delta_rule::testing {

enum class Gate {
  kNone,    // DeltaNet: no decay
  kLayer,   // g ~ -U(1e-3, 0.1) * U(1, 16): Gated DeltaNet at initialisation
  kStrong,  // g ~ -U(2, 4): decay ~0.05 per token
};

inline const char* gate_name(Gate gate) {
  switch (gate) {
    case Gate::kNone: return "none";
    case Gate::kLayer: return "layer";
    case Gate::kStrong: return "strong";
  }
  return "?";
}

// All tensors row-major in float, the precision the device kernels see; g, h0, dht empty when absent.
struct DeltaInputs {
  DeltaSizes n;
  std::vector<float> q, k, v, beta, g, h0, do_, dht;
  float scale = 1.0f;
};

// beta_max = 1 for DeltaNet / Gated DeltaNet (sigmoid), 2 for Gated DeltaProduct (2 sigmoid).
inline DeltaInputs make_inputs(const DeltaSizes& n, Gate gate, bool with_h0, bool with_dht, double beta_max,
                               unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::size_t rows = static_cast<std::size_t>(n.B) * n.T * n.H, sub_rows = rows * n.n;
  const std::size_t kv = static_cast<std::size_t>(n.B) * n.H * n.K * n.V;
  auto draw = [&](std::size_t count) {
    std::vector<float> x(count);
    for (auto& e : x) e = static_cast<float>(normal(rng));
    return x;
  };
  // Unit vectors of length D, one per row (fla l2norm, eps negligible here).
  auto draw_unit = [&](std::size_t count, int D) {
    std::vector<float> x(count * D);
    for (std::size_t row = 0; row < count; ++row) {
      double sum = 0.0;
      std::vector<double> raw(D);
      for (int e = 0; e < D; ++e) {
        raw[e] = normal(rng);
        sum += raw[e] * raw[e];
      }
      for (int e = 0; e < D; ++e) x[row * D + e] = static_cast<float>(raw[e] / std::sqrt(sum + 1e-6));
    }
    return x;
  };
  DeltaInputs in;
  in.n = n;
  in.q = draw_unit(rows, n.K);
  in.k = draw_unit(sub_rows, n.K);
  in.v = draw(sub_rows * n.V);
  in.beta.resize(sub_rows);
  for (auto& e : in.beta) e = static_cast<float>(beta_max * (0.05 + 0.9 * unit(rng)));
  if (gate != Gate::kNone) {
    in.g.resize(rows);
    for (auto& e : in.g) {
      e = gate == Gate::kLayer ? static_cast<float>(-(1e-3 + 0.1 * unit(rng)) * (1.0 + 15.0 * unit(rng)))
                               : static_cast<float>(-2.0 - 2.0 * unit(rng));
    }
  }
  if (with_h0) in.h0 = draw(kv);
  in.do_ = draw(rows * n.V);
  if (with_dht) in.dht = draw(kv);
  in.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n.K)));
  return in;
}

inline std::vector<double> widen(const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); }

}  // namespace selectiv::delta_rule::testing
