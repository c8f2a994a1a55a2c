// SPDX-License-Identifier: BSD-3-Clause
// Test data on the device: fp32-representable random values kept as doubles (so the host references see exactly
// what the kernels see), their copy (or fp32 values') into a device view, a view's copy back as doubles, and a double
// dot product.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

#include "kernels/common/compat.hpp"

namespace selectiv::testing {

// n values uniform in [-scale, scale], each rounded to float.
inline std::vector<double> float_values(std::size_t n, unsigned seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-scale, scale);
  std::vector<double> values(n);
  for (double& v : values) v = static_cast<double>(static_cast<float>(uniform(rng)));
  return values;
}

// A new device view of the given extents holding `values` (row-major) as float.
template <class ViewType, class... Extents>
ViewType to_device(const std::vector<double>& values, Extents... extents) {
  ViewType view("tensor", extents...);
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host.data()[i] = static_cast<float>(values[i]);
  Kokkos::deep_copy(view, host);
  return view;
}

// `values` (row-major) copied into the existing device view `out`; returns `out`.
template <class ViewType>
ViewType to_device(const std::vector<float>& values, ViewType out) {
  auto host = Kokkos::create_mirror_view(out);
  for (std::size_t i = 0; i < values.size(); ++i) host.data()[i] = values[i];
  Kokkos::deep_copy(out, host);
  return out;
}

template <class ViewType>
std::vector<double> to_host(const ViewType& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.size());
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace selectiv::testing
