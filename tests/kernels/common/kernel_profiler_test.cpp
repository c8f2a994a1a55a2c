// SPDX-License-Identifier: BSD-3-Clause
// The kernel profiler against the calls it is shown: kernels and regions counted by name, work nested in a region
// charged to the region only, nothing counted outside start/stop; GEMMs named by transposes and shape while on.
#include "kernels/common/kernel_profiler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "kernels/common/compat.hpp"
#include "kernels/common/compat_blas.hpp"
#include "kernels/common/views.hpp"

namespace selectiv {
namespace {

struct Fill {
  View1 x;
  float value;
  KOKKOS_INLINE_FUNCTION void operator()(int i) const { x(i) = value; }
};

void fill(const char* label, const View1& x, float value) {
  Kokkos::parallel_for(label, Kokkos::RangePolicy<Exec>(0, static_cast<int>(x.extent(0))), Fill{x, value});
}

const KernelTime* find(const std::vector<KernelTime>& profile, const std::string& name) {
  auto it = std::find_if(profile.begin(), profile.end(), [&](const KernelTime& t) { return t.name == name; });
  return it == profile.end() ? nullptr : &*it;
}

TEST(KernelProfiler, CountsOutermostKernelsAndRegions) {
  View1 x("x", 1 << 16);
  fill("selectiv::test::before", x, 0.0f);
  start_kernel_profiling();
  for (int i = 0; i < 3; ++i) fill("selectiv::test::fill", x, 1.0f);
  Kokkos::Profiling::pushRegion("selectiv::test::region");
  fill("selectiv::test::inner", x, 2.0f);
  fill("selectiv::test::inner", x, 3.0f);
  Kokkos::Profiling::popRegion();
  stop_kernel_profiling();
  fill("selectiv::test::after", x, 4.0f);
  kc::fence("selectiv::test::kernel_profiler");

  const std::vector<KernelTime> profile = kernel_profile();
  ASSERT_EQ(profile.size(), 2u);
  const KernelTime* kernel = find(profile, "selectiv::test::fill");
  const KernelTime* region = find(profile, "selectiv::test::region");
  ASSERT_NE(kernel, nullptr);
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(kernel->calls, 3);
  EXPECT_EQ(region->calls, 1);
  EXPECT_GE(kernel->seconds, 0.0);
  EXPECT_GE(region->seconds, 0.0);
  EXPECT_GE(profile[0].seconds, profile[1].seconds);  // longest first
}

TEST(KernelProfiler, NamesEachGemmByTransposesAndShape) {
  View2 a("a", 3, 5), b("b", 4, 5), c("c", 3, 4);
  EXPECT_FALSE(kernel_profiling_active());
  start_kernel_profiling();
  EXPECT_TRUE(kernel_profiling_active());
  kc::gemm(Exec(), "N", "T", 1.0f, a, b, 0.0f, c);
  kc::gemm(Exec(), "N", "T", 1.0f, a, b, 1.0f, c);
  stop_kernel_profiling();
  EXPECT_FALSE(kernel_profiling_active());
  const std::vector<KernelTime> profile = kernel_profile();
  const KernelTime* gemm = find(profile, "selectiv::gemm[NT 3x4x5]");
  ASSERT_NE(gemm, nullptr);
  EXPECT_EQ(gemm->calls, 2);
  EXPECT_EQ(profile.size(), 1u);  // Kokkos Kernels' own region nests inside
}

}  // namespace
}  // namespace selectiv
