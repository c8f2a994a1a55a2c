// SPDX-License-Identifier: BSD-3-Clause
// kc::Quad: load_quad / store_quad move exactly the valid floats of a quad (a 16-byte access on a GPU when aligned,
// element by element otherwise), zero-fill past them and write nothing past them; quads_aligned and quad_count.
#include "kernels/common/quad.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernels/common/views.hpp"
#include "support/device_data.hpp"
#include "support/testing.hpp"

namespace selectiv {
namespace {

using ::selectiv::testing::float_values;
using ::selectiv::testing::to_host;

// y[offset + i] = x[offset + i] + 1 for i < n, a quad per thread, on the device; the rest of y keeps its values.
std::vector<double> add_one(const std::vector<double>& x, const std::vector<double>& y, int offset, int n,
                            bool aligned) {
  const View1 x_dev = testing::to_device<View1>(x, x.size()), y_dev = testing::to_device<View1>(y, y.size());
  const float* in = x_dev.data() + offset;
  float* out = y_dev.data() + offset;
  Kokkos::parallel_for(
      "quad_test::add_one", Kokkos::RangePolicy<Exec>(0, kc::quad_count(n)), KOKKOS_LAMBDA(int u) {
        kc::Quad q = kc::load_quad(in + 4 * u, n - 4 * u, aligned);
        for (int i = 0; i < 4; ++i) q.v[i] += 1.0f;
        kc::store_quad(out + 4 * u, q, n - 4 * u, aligned);
      });
  Kokkos::fence();
  return to_host(y_dev);
}

TEST(Quad, MovesExactlyTheValidFloats) {
  const std::vector<double> x = float_values(64, 3), y = float_values(64, 4);
  // aligned rows with a partial last quad, and an offset of one float (element by element)
  const struct {
    int offset, n;
    bool aligned;
  } cases[] = {{0, 37, true}, {4, 40, true}, {1, 30, false}, {0, 3, true}, {5, 1, false}};
  for (const auto& c : cases) {
    const std::vector<double> out = add_one(x, y, c.offset, c.n, c.aligned);
    for (int i = 0; i < 64; ++i) {
      const bool inside = i >= c.offset && i < c.offset + c.n;
      const double expected = inside ? static_cast<double>(static_cast<float>(x[i]) + 1.0f) : y[i];
      ASSERT_EQ(out[i], expected) << "offset " << c.offset << " n " << c.n << " at " << i;
    }
  }
}

TEST(Quad, LoadZeroFillsPastTheValidFloats) {
  const float values[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  const kc::Quad q = kc::load_quad(values, 2, false);
  EXPECT_EQ(q.v[0], 1.0f);
  EXPECT_EQ(q.v[1], 2.0f);
  EXPECT_EQ(q.v[2], 0.0f);
  EXPECT_EQ(q.v[3], 0.0f);
  EXPECT_EQ(kc::dot(kc::load_quad(values, 4, false), q), 5.0f);
}

TEST(Quad, AlignmentAndCounts) {
  alignas(16) float rows[16] = {};
  EXPECT_TRUE(kc::quads_aligned(4, {rows, rows + 8}));
  EXPECT_TRUE(kc::quads_aligned(8, {{rows, 12}, nullptr}));   // a strided operand and an absent one
  EXPECT_FALSE(kc::quads_aligned(6, {rows}));                 // a width that is not a multiple of 4 floats
  EXPECT_FALSE(kc::quads_aligned(4, {rows, rows + 1}));       // one operand off the 16-byte boundary
  EXPECT_FALSE(kc::quads_aligned(4, {rows, {rows + 4, 6}}));  // a row stride that is not a multiple of 4 floats
  EXPECT_TRUE(kc::quads_aligned(4, {}));
  EXPECT_EQ(kc::quad_count(0), 0);
  EXPECT_EQ(kc::quad_count(1), 1);
  EXPECT_EQ(kc::quad_count(8), 2);
  EXPECT_EQ(kc::quad_count(9), 3);
}

}  // namespace
}  // namespace selectiv
