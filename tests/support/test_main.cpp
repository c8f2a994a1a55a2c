// SPDX-License-Identifier: BSD-3-Clause
// The one GoogleTest main: Kokkos is initialised once before any test and finalised after the last.
#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  Kokkos::ScopeGuard kokkos(argc, argv);
  return RUN_ALL_TESTS();
}
