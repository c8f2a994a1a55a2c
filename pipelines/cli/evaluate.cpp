// SPDX-License-Identifier: BSD-3-Clause
// `selectiv evaluate --checkpoint CK --data DS [--data DS2 ...] --out DIR`: the reference test metric of a trained
// model on each dataset; one JSON summary per dataset under DIR (written atomically) and a table on stdout.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "batch/batch_source.hpp"
#include "core/error.hpp"
#include "eval/evaluate.hpp"
#include "eval/selectivity.hpp"
#include "models/recnet.hpp"
#include "pipelines/cli/command.hpp"
#include "train/checkpoint.hpp"

namespace selectiv::cli {

void add_evaluate_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand("evaluate", "Accuracy and loss of a trained checkpoint on dataset files");
  struct Args {
    std::string checkpoint;
    std::vector<std::string> data;
    std::string out;
    int batch_size = 50;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--checkpoint", args->checkpoint, "Checkpoint written by `selectiv train`")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", args->data, "Dataset file to evaluate on (repeatable)")->required()->check(
      CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Folder for one <dataset>.metrics.json per dataset (optional)");
  cmd->add_option("--batch-size", args->batch_size, "Samples per evaluation batch (the reference uses 50)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->callback([&registry, args]() {
    registry.action = [args]() {
      ensure_kokkos();
      train::CheckpointInfo info = train::read_checkpoint_info(args->checkpoint);
      models::RecNet net(info.dims);
      net.params().allocate(0);
      train::load_checkpoint(args->checkpoint, net, false);
      if (!args->out.empty()) std::filesystem::create_directories(args->out);
      Exec exec;
      fmt::print("{:<40} {:>9} {:>9} {:>8} {:>9} {:>10}\n", "dataset", "accuracy", "loss", "samples", "oracle",
                 "memoryless");
      for (const auto& path : args->data) {
        BatchSource source(path);
        SELECTIV_REQUIRE(source.info().n_symbols == info.dims.input_size &&
                             source.info().n_classes == info.dims.n_classes,
                         ExitCode::kInvalidInput, "{}: {} symbols / {} classes, the checkpoint's model has {} / {}",
                         path, source.info().n_symbols, source.info().n_classes, info.dims.input_size,
                         info.dims.n_classes);
        std::vector<int> predictions;
        eval::SplitMetrics m = eval::evaluate_split(exec, net, source, args->batch_size, &predictions);
        data::DatasetReader reader(path);
        eval::SelectivityProfile profile =
            eval::build_profile(reader.read_grammar(), reader.read(0, reader.info().n_samples), predictions,
                                reader.info().spec.gap_kind == data::GapKind::kDistractors);
        fmt::print("{:<40} {:>9.4f} {:>9.4f} {:>8} {:>9.4f} {:>10.4f}\n", std::filesystem::path(path).filename().string(),
                   m.accuracy, m.loss, m.samples, profile.oracle_accuracy, profile.memoryless_accuracy);
        if (!args->out.empty()) {
          nlohmann::json j = {{"checkpoint", args->checkpoint}, {"checkpoint_step", info.step},
                              {"dataset", path},               {"accuracy", m.accuracy},
                              {"loss", m.loss},                {"samples", m.samples},
                              {"elements", m.elements},        {"steps", m.steps},
                              {"selectivity", profile.to_json()}};
          std::string target =
              args->out + "/" + std::filesystem::path(path).stem().string() + ".metrics.json";
          std::string tmp = target + ".tmp";
          {
            std::ofstream out(tmp, std::ios::trunc);
            out << j.dump(2) << "\n";
            SELECTIV_REQUIRE(out.good(), ExitCode::kFailure, "{}: cannot write", tmp);
          }
          std::filesystem::rename(tmp, target);
        }
      }
      return ExitCode::kOk;
    };
  });
}

}  // namespace selectiv::cli
