// SPDX-License-Identifier: BSD-3-Clause
// The allocation tracker against the sizes of the views it sees: live bytes rise and fall with them and the peak
// keeps the largest sum held at once; the allocation count rises by one per view.
#include <gtest/gtest.h>

#include "kernels/common/memory_tracker.hpp"
#include "kernels/common/views.hpp"

namespace selectiv {

TEST(MemoryTracker, CountsLiveBytesAndTheirHighWaterMark) {
  start_memory_tracking();
  const std::int64_t base = tracked_bytes_now();
  const std::int64_t allocations = tracked_allocation_count();
  {
    View1 a("a", 1000);
    EXPECT_EQ(tracked_bytes_now() - base, 4000);
    {
      View2 b("b", 30, 50);
      EXPECT_EQ(tracked_bytes_now() - base, 4000 + 6000);
    }
    EXPECT_EQ(tracked_bytes_now() - base, 4000);
    View1 c("c", 100);
    EXPECT_EQ(tracked_bytes_now() - base, 4400);
  }
  EXPECT_EQ(tracked_bytes_now(), base);
  EXPECT_EQ(tracked_bytes_peak() - base, 10000);
  EXPECT_EQ(tracked_allocation_count() - allocations, 3);
  start_memory_tracking();  // a new high-water mark from what is live now
  EXPECT_EQ(tracked_bytes_peak(), base);
}

}  // namespace selectiv
