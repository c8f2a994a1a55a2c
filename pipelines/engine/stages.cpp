// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/stages.hpp"

#include <memory>

#include "core/error.hpp"
#include "core/log.hpp"
#include "eval/evaluation.hpp"
#include "models/recnet.hpp"
#include "pipelines/cli/command.hpp"
#include "pipelines/cli/task_config.hpp"
#include "pipelines/engine/report.hpp"
#include "pipelines/engine/store.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"

namespace selectiv::engine {
namespace {

nlohmann::json run_generate(const StageContext& ctx) {
  const Instance& instance = ctx.instance();
  cli::ensure_datasets(*instance.task, ctx.dir, instance.splits);
  return nlohmann::json::object();
}

nlohmann::json run_train(const StageContext& ctx) {
  const Instance& instance = ctx.instance();
  const std::string data = ctx.input_dir(0);
  cli::ensure_kokkos();
  try {
    train::run_training(*instance.train, {data + "/train.h5", data + "/test.h5", ctx.dir, false});
  } catch (const Error& e) {
    if (e.code() != ExitCode::kDiverged) throw;
    log::warn("{}: {}", instance.label, e.what());
    const nlohmann::json metrics = {{"outcome", "diverged"}, {"message", e.what()}, {"config", instance.train->to_json()}};
    write_file_atomically(ctx.dir + "/metrics.json", metrics.dump(2) + "\n");
    return {{"outcome", "diverged"}, {"message", e.what()}};
  }
  return nlohmann::json::object();
}

nlohmann::json run_evaluate(const StageContext& ctx) {
  const Instance& instance = ctx.instance();
  const std::string train_dir = ctx.input_dir(0);
  const std::string dataset = ctx.input_dir(1) + "/test.h5";
  const nlohmann::json metrics = nlohmann::json::parse(read_whole_file(train_dir + "/metrics.json"));
  if (metrics.value("outcome", "ok") == "diverged") {
    write_file_atomically(ctx.dir + "/evaluation.json",
                          nlohmann::json{{"outcome", "diverged"}, {"dataset", dataset}}.dump(2) + "\n");
    return {{"outcome", "diverged"}};
  }
  const std::string checkpoint = train_dir + "/checkpoint.h5";
  SELECTIV_REQUIRE(file_exists(checkpoint), ExitCode::kFailure,
                   "{}: missing; remove {} to train that run again", checkpoint, train_dir);
  cli::ensure_kokkos();
  train::CheckpointInfo info;
  std::unique_ptr<models::RecNet> net = train::load_model(checkpoint, &info);
  eval::EvaluationOptions options;
  options.batch_size = instance.params->at("batch_size").get<int>();
  options.max_tokens = instance.params->at("max_tokens").get<std::int64_t>();
  eval::Evaluation evaluation = eval::evaluate_model(*net, dataset, options);
  evaluation.checkpoint = checkpoint;
  evaluation.checkpoint_step = info.step;
  eval::write_evaluation(evaluation, ctx.dir + "/evaluation");
  return nlohmann::json::object();
}

}  // namespace

nlohmann::json run_stage(const StageContext& ctx) {
  switch (ctx.instance().stage) {
    case Stage::kGenerate: return run_generate(ctx);
    case Stage::kTrain: return run_train(ctx);
    case Stage::kEvaluate: return run_evaluate(ctx);
    case Stage::kReport: return write_report(ctx);
  }
  throw Error(ExitCode::kFailure, "unknown stage");
}

}  // namespace selectiv::engine
