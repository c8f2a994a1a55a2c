// SPDX-License-Identifier: BSD-3-Clause
// Random SSD inputs for the tests: xbc and upstream gradients ~ N(0, 1), raw dt, and per-head parameters in two
// decay regimes.
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ssd/reference.hpp"

namespace selectiv::ssd::testing {

enum class DecayRegime {
  kLayer,   // the Mamba2 layer at initialisation: A_log = log U(1, 16), delta ~ 1e-3 .. 0.1 (decays 0.2 .. 1)
  kStrong,  // dt_bias = 3: delta ~ 3, per-token decays e^{-3} .. e^{-48}
};

inline const char* regime_name(DecayRegime r) { return r == DecayRegime::kLayer ? "layer" : "strong"; }

// All tensors row-major in float, the precision the device kernels see.
struct SsdInputs {
  SsdSizes n;
  std::vector<float> xbc, dt, dt_bias, A_log, D, dy;
};

inline SsdInputs make_inputs(const SsdSizes& n, DecayRegime regime, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::size_t tokens = static_cast<std::size_t>(n.B) * n.T;
  auto draw = [&](std::size_t count, double scale) {
    std::vector<float> x(count);
    for (auto& e : x) e = static_cast<float>(scale * normal(rng));
    return x;
  };
  SsdInputs in;
  in.n = n;
  in.xbc = draw(tokens * n.xbc_width(), 1.0);
  in.dt = draw(tokens * n.H, 0.5);
  in.dt_bias.resize(n.H);
  in.A_log.resize(n.H);
  in.D.resize(n.H);
  for (int h = 0; h < n.H; ++h) {
    in.A_log[h] = static_cast<float>(std::log(1.0 + 15.0 * uniform(rng)));
    in.D[h] = static_cast<float>(1.0 + 0.5 * normal(rng));
    if (regime == DecayRegime::kLayer) {
      const double delta = std::exp(std::log(1e-3) + uniform(rng) * (std::log(0.1) - std::log(1e-3)));
      in.dt_bias[h] = static_cast<float>(delta + std::log(-std::expm1(-delta)));  // softplus^-1
    } else {
      in.dt_bias[h] = 3.0f;
    }
  }
  in.dy = draw(tokens * n.H * n.P, 1.0);
  return in;
}

inline std::vector<double> widen(const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); }

}  // namespace selectiv::ssd::testing
