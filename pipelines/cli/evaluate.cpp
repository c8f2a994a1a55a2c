// SPDX-License-Identifier: BSD-3-Clause
// `selectiv evaluate --checkpoint CK --data DS [--data DS2 ...] [--out DIR]`: the reference test metric of a trained
// model on each dataset, streamed in bounded memory, with the selectivity profile and its oracle / memoryless
// anchors. Per dataset DIR/<dataset stem>.metrics.h5 and .metrics.json (atomic); a table on stdout.
#include <fmt/format.h>

#include <filesystem>

#include "core/error.hpp"
#include "eval/evaluation.hpp"
#include "pipelines/cli/command.hpp"
#include "pipelines/cli/evaluation_output.hpp"
#include "train/checkpoint.hpp"

namespace selectiv::cli {

void add_evaluation_options(CLI::App& cmd, eval::EvaluationOptions& options) {
  cmd.add_option("--batch-size", options.batch_size,
                 "Samples per evaluation batch; the loss is a per-batch mean, as the reference's (default 50)")
      ->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--max-tokens", options.max_tokens,
                 "Samples x time steps per model forward: bounds the memory of long sequences (default 16384)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  cmd.add_option("--logit-rows", options.logit_rows,
                 "Time steps decoded, scored and voted per block (default 2048)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
}

void print_evaluation_header() {
  fmt::print("{:<36} {:>9} {:>9} {:>8} {:>9} {:>10} {:>8} {:>9}\n", "dataset", "accuracy", "loss", "samples",
             "oracle", "memoryless", "wall s", "peak MiB");
}

void print_evaluation_row(const eval::Evaluation& e) {
  fmt::print("{:<36} {:>9.4f} {:>9.4f} {:>8} {:>9.4f} {:>10.4f} {:>8.1f} {:>9.0f}\n",
             std::filesystem::path(e.dataset).filename().string(), e.metrics.accuracy, e.metrics.loss,
             e.metrics.samples, e.profile.oracle_accuracy, e.profile.memoryless_accuracy, e.wall_seconds,
             e.peak_rss_mib);
}

void add_evaluate_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand(
      "evaluate", "Accuracy, loss and selectivity profile of a trained checkpoint on dataset files");
  struct Args {
    std::string checkpoint;
    std::vector<std::string> data;
    std::string out;
    eval::EvaluationOptions options;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--checkpoint", args->checkpoint, "Checkpoint written by `selectiv train`")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", args->data, "Dataset file to evaluate on (repeatable)")->required()->check(
      CLI::ExistingFile);
  cmd->add_option("--out", args->out,
                  "Folder for <dataset stem>.metrics.h5 and .metrics.json (default: the checkpoint's folder)");
  add_evaluation_options(*cmd, args->options);
  cmd->callback([&registry, args]() {
    registry.action = [args]() {
      ensure_kokkos();
      train::CheckpointInfo info;
      std::unique_ptr<models::RecNet> net = train::load_model(args->checkpoint, &info);
      const std::string out = args->out.empty()
                                  ? std::filesystem::absolute(args->checkpoint).parent_path().string()
                                  : args->out;
      std::filesystem::create_directories(out);
      print_evaluation_header();
      for (const auto& path : args->data) {
        eval::Evaluation e = eval::evaluate_model(*net, path, args->options);
        e.checkpoint = args->checkpoint;
        e.checkpoint_step = info.step;
        eval::write_evaluation(e, out + "/" + std::filesystem::path(path).stem().string() + ".metrics");
        print_evaluation_row(e);
      }
      return ExitCode::kOk;
    };
  });
}

}  // namespace selectiv::cli
