// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/farm.hpp"

#include <cstdlib>

#include "core/log.hpp"

#if defined(SELECTIV_HAVE_MPI)
#include <mpi.h>
#endif

namespace selectiv::engine {
namespace {

// Variables that Open MPI, MPICH/Hydra, PMIx and Slurm's PMI set in every launched rank.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

}  // namespace

Farm::Farm() {
#if defined(SELECTIV_HAVE_MPI)
  if (!launched_by_mpi()) return;
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) MPI_Init(nullptr, nullptr);
  m_active = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &m_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &m_size);
  log::set_rank(m_rank, m_size);
#else
  if (launched_by_mpi()) {
    log::warn("started by an MPI launcher, but this selectiv was built without MPI (SELECTIV_ENABLE_MPI=OFF): every "
              "rank runs as an independent worker; the store's locks still keep them from running an instance twice");
  }
#endif
}

Farm::~Farm() {
#if defined(SELECTIV_HAVE_MPI)
  if (m_active) {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Finalize();
  }
#endif
}

void Farm::barrier() const {
#if defined(SELECTIV_HAVE_MPI)
  if (m_active) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

ExitCode Farm::first_failure(ExitCode mine) const {
#if defined(SELECTIV_HAVE_MPI)
  if (m_active) {
    // The lowest rank's failure wins, so every rank returns the same code.
    int code = static_cast<int>(mine);
    int key = code != 0 ? m_rank : m_size;
    struct {
      int key;
      int rank;
    } in{key, m_rank}, out{0, 0};
    MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, MPI_COMM_WORLD);
    if (out.key == m_size) return ExitCode::kOk;
    MPI_Bcast(&code, 1, MPI_INT, out.rank, MPI_COMM_WORLD);
    return static_cast<ExitCode>(code);
  }
#endif
  return mine;
}

long long Farm::sum(long long mine) const {
#if defined(SELECTIV_HAVE_MPI)
  if (m_active) {
    long long total = 0;
    MPI_Allreduce(&mine, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return total;
  }
#endif
  return mine;
}

void Farm::abort(ExitCode code) const {
#if defined(SELECTIV_HAVE_MPI)
  if (m_active) MPI_Abort(MPI_COMM_WORLD, static_cast<int>(code));
#endif
  std::exit(static_cast<int>(code));
}

}  // namespace selectiv::engine
