// SPDX-License-Identifier: BSD-3-Clause
// Random selective-scan inputs for the tests: x, B, C, D, upstream gradients ~ N(0, 1), decay rates around the
// layer's S4D-real initialisation A[c, n] = -(n + 1), and step sizes dt in two regimes.
#pragma once

#include <cmath>
#include <random>
#include <vector>

#include "kernels/selective_scan/reference.hpp"

namespace selectiv::selective_scan::testing {

// How large the steps dt (and so the per-token decays exp(dt A)) are.
enum class StepRegime {
  kLayer,   // dt = softplus(N(-4, 1)) ~ 0.02: the layer at initialisation (dt_bias gives dt in [1e-3, 0.1])
  kStrong,  // dt ~ U(0.5, 2): with A down to -N the state forgets almost everything every token
};

inline const char* step_name(StepRegime regime) { return regime == StepRegime::kLayer ? "layer" : "strong"; }

// All tensors row-major in float, the precision the device kernels see.
struct ScanInputs {
  ScanSizes n;
  std::vector<float> x, dt, A, Bm, Cm, D, dy;
};

inline ScanInputs make_inputs(const ScanSizes& n, StepRegime regime, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto draw = [&](std::size_t count) {
    std::vector<float> v(count);
    for (auto& e : v) e = static_cast<float>(normal(rng));
    return v;
  };
  const std::size_t channels = static_cast<std::size_t>(n.B) * n.T * n.Din;
  const std::size_t states = static_cast<std::size_t>(n.B) * n.T * n.N;
  ScanInputs in;
  in.n = n;
  in.x = draw(channels);
  in.dt.resize(channels);
  for (auto& e : in.dt) {
    e = regime == StepRegime::kLayer ? static_cast<float>(std::log1p(std::exp(normal(rng) - 4.0)))
                                     : static_cast<float>(0.5 + 1.5 * unit(rng));
  }
  in.A.resize(static_cast<std::size_t>(n.Din) * n.N);
  for (int c = 0; c < n.Din; ++c)
    for (int s = 0; s < n.N; ++s)
      in.A[static_cast<std::size_t>(c) * n.N + s] = static_cast<float>(-(s + 1) * std::exp(0.3 * normal(rng)));
  in.Bm = draw(states);
  in.Cm = draw(states);
  in.D = draw(n.Din);
  in.dy = draw(channels);
  return in;
}

inline std::vector<double> widen(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

}  // namespace selectiv::selective_scan::testing
