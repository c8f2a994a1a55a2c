// SPDX-License-Identifier: BSD-3-Clause
// Entry point of `selectiv`: global flags, subcommand dispatch, and the mapping of every outcome onto the exit
// codes of DESIGN.md (CLI11's own codes 100-127 become 2; `--help` is 0).
#include <Kokkos_Core.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <memory>

#include "core/log.hpp"
#include "pipelines/cli/command.hpp"
#include "selectiv/version.hpp"

namespace selectiv::cli {
namespace {
std::unique_ptr<Kokkos::ScopeGuard> g_kokkos;
}  // namespace

void ensure_kokkos() {
  if (!g_kokkos) {
    int argc = 1;
    char name[] = "selectiv";
    char* argv[] = {name, nullptr};
    g_kokkos = std::make_unique<Kokkos::ScopeGuard>(argc, argv);
  }
}

int run(int argc, char** argv) {
  CLI::App app{"SelectivBench: generate symbolic-sequence datasets, train linear recurrent models and measure\n"
               "their selectivity, on CPUs and GPUs.",
               "selectiv"};
  app.require_subcommand(0, 1);
  app.fallthrough(false);
  bool show_version = false;
  bool verbose = false;
  bool quiet = false;
  app.add_flag("--version", show_version, "Print the tool version and git hash, then exit");
  app.add_flag("-v,--verbose", verbose, "Debug messages on stderr");
  app.add_flag("-q,--quiet", quiet, "Only warnings and errors on stderr");

  Registry registry;
  add_info_command(app, registry);
  add_generate_command(app, registry);
  add_run_command(app, registry);
  add_bench_command(app, registry);
  add_parity_command(app, registry);
  add_train_command(app, registry);
  add_evaluate_command(app, registry);
  add_generalize_command(app, registry);

  // --version must work without a subcommand.
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--version") {
      fmt::print("selectiv {} (git {})\n", kToolVersion, kGitHash);
      return 0;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      app.exit(e);  // --help: usage on stdout, exit 0
      return 0;
    }
    fmt::print(stderr, "selectiv: error: {} (run 'selectiv --help')\n", e.what());
    return static_cast<int>(ExitCode::kInvalidInput);
  }
  if (!registry.action) {
    fmt::print(stderr, "selectiv: error: a subcommand is required (run 'selectiv --help')\n");
    return static_cast<int>(ExitCode::kInvalidInput);
  }
  log::set_level(verbose ? log::Level::kDebug : quiet ? log::Level::kWarn : log::Level::kInfo);

  int code = 0;
  try {
    code = static_cast<int>(registry.action());
  } catch (const Error& e) {
    log::error("{}", e.what());
    code = static_cast<int>(e.code());
  } catch (const std::exception& e) {
    log::error("internal error: {}", e.what());
    code = static_cast<int>(ExitCode::kFailure);
  }
  // Finalise Kokkos here, not during static destruction (after the OpenMP/CUDA runtimes may be gone).
  g_kokkos.reset();
  return code;
}

}  // namespace selectiv::cli
