// SPDX-License-Identifier: BSD-3-Clause
// Every kc:: shim, run inside a kernel on the default execution space and compared with the host's <cmath>.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "kernels/common/compat.hpp"
#include "kernels/common/views.hpp"

namespace selectiv {
namespace {

constexpr int kMathResults = 16;

// Kernels live in free functions: nvcc rejects extended lambdas inside TEST bodies.
Kokkos::View<double*, Kokkos::HostSpace> device_math(double x, double y) {
  DeviceView1<double> out("out", kMathResults);
  Kokkos::parallel_for(
      "selectiv::test::compat_math", Kokkos::RangePolicy<Exec>(0, 1), KOKKOS_LAMBDA(int) {
        out(0) = kc::exp(x);
        out(1) = kc::log(y);
        out(2) = kc::tanh(x);
        out(3) = kc::sqrt(y);
        out(4) = kc::fmax(x, y);
        out(5) = kc::fmin(x, y);
        out(6) = kc::pow(y, x);
        out(7) = kc::fabs(-y);
        out(8) = kc::min(x, y);
        out(9) = kc::max(x, y);
        out(10) = kc::abs(-x);
        out(11) = kc::log1p(x);
        out(12) = kc::expm1(x);
        out(13) = kc::cos(x) + kc::sin(y);
        out(14) = kc::isfinite(x / 0.0) ? 1.0 : 0.0;
        out(15) = static_cast<double>(kc::bit_cast<std::uint32_t>(1.0f));
      });
  kc::fence("selectiv::test::compat_math");
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return host;
}

// Many threads race to raise / lower one value; the result must be the extreme of all.
void device_atomic_extremes(int n, float* max_out, float* min_out) {
  DeviceView1<float> v("extremes", 2);
  Kokkos::deep_copy(v, 0.0f);
  Kokkos::parallel_for(
      "selectiv::test::compat_atomics", Kokkos::RangePolicy<Exec>(0, n), KOKKOS_LAMBDA(int i) {
        float value = static_cast<float>((i * 7919) % n) - 0.5f * n;
        kc::atomic_max(&v(0), value);
        kc::atomic_min(&v(1), value);
      });
  kc::fence(Exec(), "selectiv::test::compat_atomics");
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  *max_out = host(0);
  *min_out = host(1);
}

struct ClassLambdaScaler {
  View1 data;
  float factor;
  void run() const {
    Kokkos::parallel_for(
        "selectiv::test::compat_class_lambda", Kokkos::RangePolicy<Exec>(0, data.extent(0)),
        KOKKOS_CLASS_LAMBDA(int i) { data(i) *= factor; });
    kc::fence("selectiv::test::compat_class_lambda");
  }
};

int device_printf() {
  Kokkos::parallel_for(
      "selectiv::test::compat_printf", Kokkos::RangePolicy<Exec>(0, 1),
      KOKKOS_LAMBDA(int) { KC_PRINTF("kc printf from the %s backend works\n", "default"); });
  kc::fence("selectiv::test::compat_printf");
  return 0;
}

}  // namespace

TEST(Compat, MathShimsMatchHostLibm) {
  double x = 0.7, y = 2.5;
  auto out = device_math(x, y);
  const double expected[kMathResults] = {std::exp(x),   std::log(y),   std::tanh(x),  std::sqrt(y),
                                         std::fmax(x, y), std::fmin(x, y), std::pow(y, x), y,
                                         x,             y,             x,             std::log1p(x),
                                         std::expm1(x), std::cos(x) + std::sin(y), 0.0, 1065353216.0};
  for (int i = 0; i < kMathResults; ++i) EXPECT_NEAR(out(i), expected[i], 1e-12 * (1 + std::fabs(expected[i]))) << i;
}

TEST(Compat, AtomicMaxMinReachTheExtremes) {
  float max_value = 0, min_value = 0;
  device_atomic_extremes(1000, &max_value, &min_value);
  EXPECT_EQ(max_value, 499.0f);
  EXPECT_EQ(min_value, -500.0f);
}

TEST(Compat, ClassLambdaCapturesTheObjectByValue) {
  View1 data("data", 5);
  Kokkos::deep_copy(data, 2.0f);
  ClassLambdaScaler{data, 1.5f}.run();
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), data);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(host(i), 3.0f);
}

TEST(Compat, UninitializedMirrorHasTheShapeAndRoundTrips) {
  View2 a("a", 3, 4);
  Kokkos::deep_copy(a, 1.25f);
  auto mirror = kc::create_mirror_view_uninitialized(a);
  EXPECT_EQ(mirror.extent(0), 3u);
  EXPECT_EQ(mirror.extent(1), 4u);
  Kokkos::deep_copy(mirror, a);
  EXPECT_EQ(mirror(2, 3), 1.25f);
  static_assert(std::is_same<kc::host_mirror_t<View2>, View2::host_mirror_type>::value, "mirror type");
}

TEST(Compat, DevicePrintfCompilesAndRuns) { EXPECT_EQ(device_printf(), 0); }

}  // namespace selectiv
