// SPDX-License-Identifier: BSD-3-Clause
// `selectiv train`: train one model on a dataset file, evaluating on a test file; writes OUT/checkpoint.h5 and
// OUT/metrics.json. Config keys are those of train/train_config.hpp, from --config YAML and --set overrides.
#include <fmt/format.h>

#include "core/config.hpp"
#include "pipelines/cli/command.hpp"
#include "train/trainer.hpp"

namespace selectiv::cli {

void add_train_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand("train", "Train a model on a generated dataset (see `selectiv generate`)");
  struct Args {
    std::string config;
    std::vector<std::string> sets;
    train::TrainPaths paths;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--train", args->paths.train_data, "Training dataset (HDF5, split train)")->required();
  cmd->add_option("--test", args->paths.test_data, "Test dataset evaluated every eval_every updates")->required();
  cmd->add_option("--out", args->paths.out_dir, "Output folder: checkpoint.h5 and metrics.json")->required();
  cmd->add_option("--config", args->config, "Training config (YAML; keys: model, d_model, layers, heads, d_state, "
                                            "dropout, lr, warmup, steps, batch_size, eval_batch_size, eval_every, "
                                            "dropout_until_first_eval, clip_norm, seed)");
  cmd->add_option("--set", args->sets, "Override a config key: --set lr=5e-4 (repeatable)");
  cmd->add_flag("--resume", args->paths.resume, "Continue from OUT/checkpoint.h5 (same config)");
  cmd->callback([&registry, args]() {
    registry.action = [args]() {
      ConfigDocument doc = args->config.empty() ? ConfigDocument::parse("", "<defaults>")
                                                : ConfigDocument::load_file(args->config);
      for (const auto& s : args->sets) doc.apply_override(s);
      train::TrainConfig config;
      ConfigReader reader = doc.reader();
      config.read(reader);
      ensure_kokkos();
      train::TrainResult result = train::run_training(config, args->paths);
      const auto& last = result.history.back();
      fmt::print("model {} | {} parameters | {} updates | test accuracy {:.4f} (loss {:.4f}) | {:.0f} tokens/s | "
                 "{:.1f} s\n",
                 config.model, result.parameters, result.steps, last.test_accuracy, last.test_loss,
                 result.tokens_per_second, result.wall_seconds);
      return ExitCode::kOk;
    };
  });
}

}  // namespace selectiv::cli
