// SPDX-License-Identifier: BSD-3-Clause
// `selectiv parity FILE.h5 ...`: a model's forward and backward against a reference file with the layout of
// golden/layers/*.h5. Prints one line per compared array; exit 0 when every error ratio is within its tolerance,
// 1 otherwise.
#include <fmt/format.h>

#include "models/parity.hpp"
#include "pipelines/cli/command.hpp"

namespace selectiv::cli {

void add_parity_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand(
      "parity", "Compare a model's logits, loss, hidden states and gradients with a reference HDF5 file");
  auto files = std::make_shared<std::vector<std::string>>();
  auto verbose = std::make_shared<bool>(false);
  cmd->add_option("files", *files, "Reference files (layout of golden/layers/*.h5)")->required()->check(
      CLI::ExistingFile);
  cmd->add_flag("--all", *verbose, "Print every gradient, not only the failing ones and the summary");
  cmd->callback([&registry, files, verbose]() {
    registry.action = [files, verbose]() {
      ensure_kokkos();
      bool all_ok = true;
      for (const auto& file : *files) {
        models::ParityReport report = models::run_parity(file);
        for (const auto& check : report.checks) {
          bool is_grad = check.what.rfind("grad ", 0) == 0;
          if (*verbose || !is_grad || !check.ok()) {
            fmt::print("{:<12} {:<48} err_ratio {:9.3e}  tol {:7.1e}  {}\n", report.model, check.what,
                       check.err_ratio, check.tolerance, check.ok() ? "ok" : "FAIL");
          }
        }
        const auto& worst = report.worst();
        fmt::print("{:<12} {} checks, worst {} ({:.3e} vs tol {:.1e}): {}\n", report.model, report.checks.size(),
                   worst.what, worst.err_ratio, worst.tolerance, report.ok() ? "PASS" : "FAIL");
        all_ok = all_ok && report.ok();
      }
      return all_ok ? ExitCode::kOk : ExitCode::kFailure;
    };
  });
}

}  // namespace selectiv::cli
