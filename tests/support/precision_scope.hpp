// SPDX-License-Identifier: BSD-3-Clause
// The matmul precision (and with it the tile math of the chunk kernels) set for one scope of a test and restored when
// the scope ends, also when an assertion leaves it early.
#pragma once

#include "kernels/common/precision.hpp"

namespace selectiv::testing {

class ScopedMatmulPrecision {
 public:
  explicit ScopedMatmulPrecision(MatmulPrecision precision) : m_previous(current_matmul_precision()) {
    set_matmul_precision(precision);
  }
  ~ScopedMatmulPrecision() { set_matmul_precision(m_previous); }
  ScopedMatmulPrecision(const ScopedMatmulPrecision&) = delete;
  ScopedMatmulPrecision& operator=(const ScopedMatmulPrecision&) = delete;

 private:
  MatmulPrecision m_previous;
};

}  // namespace selectiv::testing
