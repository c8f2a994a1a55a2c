// SPDX-License-Identifier: BSD-3-Clause
// MPI task farming for `mpirun -np N selectiv run ...`: when the binary is built with MPI (SELECTIV_ENABLE_MPI) and
// was started by an MPI launcher, every rank is one worker that takes shard `rank` of `size` (engine/shard.hpp);
// ranks meet at a barrier before rank 0 writes the report. Started without a launcher (or built without MPI), the
// farm is one worker and MPI is never initialised, so a plain `selectiv run` pays nothing for it.
#pragma once

#include "core/error.hpp"

namespace selectiv::engine {

class Farm {
 public:
  Farm();   // MPI_Init when launched by mpirun / srun and built with MPI
  ~Farm();  // MPI_Finalize
  Farm(const Farm&) = delete;
  Farm& operator=(const Farm&) = delete;

  bool active() const { return m_active; }
  int rank() const { return m_rank; }
  int size() const { return m_size; }
  void barrier() const;
  // The first non-zero exit code over all ranks (kOk when none), and the number of instances run by all ranks.
  ExitCode first_failure(ExitCode mine) const;
  long long sum(long long mine) const;
  // Ends every rank (a rank that cannot go on must not leave the others waiting at a barrier).
  [[noreturn]] void abort(ExitCode code) const;

 private:
  bool m_active = false;
  int m_rank = 0;
  int m_size = 1;
};

}  // namespace selectiv::engine
