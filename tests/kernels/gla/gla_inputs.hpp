// SPDX-License-Identifier: BSD-3-Clause
// Random GLA inputs for the tests: q, k, v, upstream gradients ~ N(0, 1), and log-decays g in three regimes.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/gla/reference.hpp"

namespace selectiv::gla::testing {

// How strongly the state decays per token.
enum class GateRegime {
  kLayer,   // g = logsigmoid(x) / 16, x ~ N(0, 1): the GLA layer at initialisation, g ~ -0.04 (decay ~0.96)
  kStrong,  // g = logsigmoid(x), x ~ N(-3, 1): g ~ -3 (decay ~0.05)
  kTen,     // g ~ U(-10.5, -9.5): the state forgets almost everything every token
};

inline const char* gate_name(GateRegime regime) {
  switch (regime) {
    case GateRegime::kLayer: return "layer";
    case GateRegime::kStrong: return "strong";
    case GateRegime::kTen: return "ten";
  }
  return "?";
}

inline double logsigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

// All tensors row-major in float, the precision the device kernels see; h0 / dht empty when absent.
struct GlaInputs {
  GlaSizes n;
  std::vector<float> q, k, v, g, h0, do_, dht;
  float scale = 1.0f;
};

inline GlaInputs make_inputs(const GlaSizes& n, GateRegime regime, bool with_h0, bool with_dht, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(-0.5, 0.5);
  const std::size_t tk = static_cast<std::size_t>(n.B) * n.T * n.H * n.K;
  const std::size_t tv = static_cast<std::size_t>(n.B) * n.T * n.H * n.V;
  const std::size_t kv = static_cast<std::size_t>(n.B) * n.H * n.K * n.V;
  auto draw = [&](std::size_t count) {
    std::vector<float> x(count);
    for (auto& e : x) e = static_cast<float>(normal(rng));
    return x;
  };
  GlaInputs in;
  in.n = n;
  in.q = draw(tk);
  in.k = draw(tk);
  in.v = draw(tv);
  in.g.resize(tk);
  for (auto& e : in.g) {
    switch (regime) {
      case GateRegime::kLayer: e = static_cast<float>(logsigmoid(normal(rng)) / 16.0); break;
      case GateRegime::kStrong: e = static_cast<float>(logsigmoid(normal(rng) - 3.0)); break;
      case GateRegime::kTen: e = static_cast<float>(-10.0 + uniform(rng)); break;
    }
  }
  if (with_h0) in.h0 = draw(kv);
  in.do_ = draw(tv);
  if (with_dht) in.dht = draw(kv);
  in.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n.K)));
  return in;
}

inline std::vector<double> widen(const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); }

}  // namespace selectiv::gla::testing
