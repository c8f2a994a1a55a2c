// SPDX-License-Identifier: BSD-3-Clause
// Kernel workspaces: a label gets the same buffer again while it is large enough, a larger request grows it, two
// labels never share memory, the views have the requested extents, and release frees everything.
#include <gtest/gtest.h>

#include "kernels/common/workspace.hpp"

namespace selectiv {

TEST(Workspace, ReusesGrowsSeparatesAndReleases) {
  release_workspaces();
  EXPECT_EQ(workspace_bytes_held(), 0u);
  const View3 a = workspace<View3>("selectiv::test::a", 4, 5, 6);
  EXPECT_EQ(a.extent(0), 4u);
  EXPECT_EQ(a.extent(1), 5u);
  EXPECT_EQ(a.extent(2), 6u);
  EXPECT_EQ(workspace_bytes_held(), 4u * 5 * 6 * sizeof(float));

  const View2 a_smaller = workspace<View2>("selectiv::test::a", 10, 12);  // 120 floats fit in the 120 held
  EXPECT_EQ(a_smaller.data(), a.data());
  const View1 b = workspace<View1>("selectiv::test::b", 7);
  EXPECT_NE(b.data(), a.data());
  EXPECT_EQ(workspace_bytes_held(), (120u + 7u) * sizeof(float));

  const View4 a_larger = workspace<View4>("selectiv::test::a", 2, 3, 4, 10);  // 240 floats: grown
  EXPECT_EQ(a_larger.size(), 240u);
  EXPECT_EQ(workspace_bytes_held(), (240u + 7u) * sizeof(float));

  release_workspaces();
  EXPECT_EQ(workspace_bytes_held(), 0u);
}

}  // namespace selectiv
