// SPDX-License-Identifier: BSD-3-Clause
// The `selectiv` command line: each subcommand lives in its own file and registers itself on the app with an
// add_<name>_command function listed in cli/app.cpp. A subcommand's action returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>

#include "core/error.hpp"

namespace selectiv::cli {

// The action of the subcommand the user chose; set by the subcommand's parse callback.
using Action = std::function<ExitCode()>;

struct Registry {
  Action action;
};

// Starts the Kokkos runtime (and nothing else) the first time a command needs device math.
void ensure_kokkos();

int run(int argc, char** argv);

// One per subcommand file.
void add_info_command(CLI::App& app, Registry& registry);
void add_generate_command(CLI::App& app, Registry& registry);
void add_run_command(CLI::App& app, Registry& registry);
void add_bench_command(CLI::App& app, Registry& registry);
void add_parity_command(CLI::App& app, Registry& registry);
void add_train_command(CLI::App& app, Registry& registry);
void add_evaluate_command(CLI::App& app, Registry& registry);
void add_generalize_command(CLI::App& app, Registry& registry);

}  // namespace selectiv::cli
