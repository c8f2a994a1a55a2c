// SPDX-License-Identifier: BSD-3-Clause
// The allocation tracker against the sizes of the views it sees: live bytes rise and fall with them and the peak
// keeps the largest sum held at once; the allocation count rises by one per view, under the view's label.
#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

#include "kernels/common/memory_tracker.hpp"
#include "kernels/common/views.hpp"

namespace selectiv {

TEST(MemoryTracker, CountsLiveBytesAndTheirHighWaterMark) {
  start_memory_tracking();
  const std::int64_t base = tracked_bytes_now();
  const std::int64_t allocations = tracked_allocation_count();
  const std::int64_t labelled_b = tracked_allocations_by_label()["memory_tracker_test::b"];
  {
    View1 a("a", 1000);
    EXPECT_EQ(tracked_bytes_now() - base, 4000);
    {
      View2 b("memory_tracker_test::b", 30, 50);
      EXPECT_EQ(tracked_bytes_now() - base, 4000 + 6000);
    }
    EXPECT_EQ(tracked_bytes_now() - base, 4000);
    View1 c("c", 100);
    EXPECT_EQ(tracked_bytes_now() - base, 4400);
  }
  EXPECT_EQ(tracked_bytes_now(), base);
  EXPECT_EQ(tracked_bytes_peak() - base, 10000);
  EXPECT_EQ(tracked_allocation_count() - allocations, 3);
  EXPECT_EQ(tracked_allocations_by_label()["memory_tracker_test::b"] - labelled_b, 1);
  // the peak was a and b together: b's 6000 bytes are part of it, c (allocated after b was freed) is not
  EXPECT_EQ(tracked_peak_by_label()["memory_tracker_test::b"], 6000);
  EXPECT_EQ(tracked_peak_by_label().count("c"), 0u);
  start_memory_tracking();  // a new high-water mark from what is live now
  EXPECT_EQ(tracked_bytes_peak(), base);
}

}  // namespace selectiv

namespace selectiv {

// Kokkos' CUDA team launches report a 0-byte allocation for each launch without level-1 scratch; the tracker must
// not count those as allocations, but counts the next real one.
TEST(MemoryTracker, IgnoresZeroByteAllocationReports) {
  start_memory_tracking();
  const auto space = Kokkos::Tools::make_space_handle(Kokkos::DefaultExecutionSpace::memory_space::name());
  const std::int64_t allocations = tracked_allocation_count();
  const std::int64_t bytes = tracked_bytes_now();
  Kokkos::Tools::allocateData(space, "memory_tracker_test::empty", nullptr, 0);
  EXPECT_EQ(tracked_allocation_count(), allocations);
  EXPECT_EQ(tracked_bytes_now(), bytes);
  float value = 0.0f;
  Kokkos::Tools::allocateData(space, "memory_tracker_test::one", &value, sizeof(value));
  EXPECT_EQ(tracked_allocation_count(), allocations + 1);
  EXPECT_EQ(tracked_bytes_now(), bytes + static_cast<std::int64_t>(sizeof(value)));
  Kokkos::Tools::deallocateData(space, "memory_tracker_test::one", &value, sizeof(value));
  EXPECT_EQ(tracked_bytes_now(), bytes);
}

}  // namespace selectiv
