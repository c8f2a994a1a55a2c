// SPDX-License-Identifier: BSD-3-Clause
// Host helpers shared by the attention tests: deterministic random tensors and views over std::vector storage.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/attention/reference.hpp"

namespace selectiv::attention::test {

struct Shape {
  int batch, length, heads, head_dim;
  std::size_t size() const { return static_cast<std::size_t>(batch) * length * heads * head_dim; }
  std::size_t rows() const { return static_cast<std::size_t>(batch) * heads * length; }
};

// Values uniform in [-amplitude, amplitude], rounded to float (so host and device see the same numbers), from a
// fixed mt19937 stream: the same on every platform.
inline std::vector<double> random_tensor(std::size_t n, std::uint32_t seed, double amplitude = 1.0) {
  std::mt19937 rng(seed);
  std::vector<double> x(n);
  for (auto& value : x) {
    const double unit = static_cast<double>(rng()) / 4294967295.0;  // [0, 1]
    value = static_cast<double>(static_cast<float>(amplitude * (2.0 * unit - 1.0)));
  }
  return x;
}

inline HostView4d view4(std::vector<double>& x, const Shape& s) {
  return HostView4d(x.data(), s.batch, s.length, s.heads, s.head_dim);
}
inline HostCView4d cview4(const std::vector<double>& x, const Shape& s) {
  return HostCView4d(x.data(), s.batch, s.length, s.heads, s.head_dim);
}
inline HostView3d view_lse(std::vector<double>& x, const Shape& s) {
  return HostView3d(x.data(), s.batch, s.heads, s.length);
}

}  // namespace selectiv::attention::test
