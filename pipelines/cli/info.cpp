// SPDX-License-Identifier: BSD-3-Clause
// `selectiv info`: what this binary is and what it runs on.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "data/h5/library.hpp"
#include "kernels/common/backend.hpp"
#include "pipelines/cli/command.hpp"
#include "selectiv/version.hpp"

namespace selectiv::cli {

void add_info_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand("info", "Show the tool version, Kokkos backends, device, HDF5 and MPI");
  cmd->callback([&registry]() {
    registry.action = []() {
      ensure_kokkos();
      BackendInfo backend = backend_info();
#if defined(SELECTIV_HAVE_MPI)
      const char* mpi = "yes";
#else
      const char* mpi = "no";
#endif
      fmt::print("selectiv        {}\n", kToolVersion);
      fmt::print("git             {}\n", kGitHash);
      fmt::print("kokkos          {}\n", backend.kokkos_version);
      fmt::print("backends        {}\n", fmt::join(backend.backends, ", "));
      fmt::print("default space   {} (concurrency {})\n", backend.default_space, backend.concurrency);
      fmt::print("device          {}\n", backend.device);
      fmt::print("hdf5            {}\n", h5::library_version());
      fmt::print("mpi             {}\n", mpi);
      return ExitCode::kOk;
    };
  });
}

}  // namespace selectiv::cli
