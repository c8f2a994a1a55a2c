// SPDX-License-Identifier: BSD-3-Clause
// `selectiv run [PIPELINE.yaml]`: generate a task's datasets, train every listed model on them, evaluate each with
// the selectivity profile, and print the results table. Without a file it runs the embedded pipelines/quick.yaml.
// Finished steps are reused on a rerun: datasets whose config hash matches, models whose metrics.json exists.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "batch/batch_source.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/log.hpp"
#include "data/dataset/reader.hpp"
#include "eval/evaluate.hpp"
#include "eval/selectivity.hpp"
#include "models/mixer.hpp"
#include "pipelines/cli/command.hpp"
#include "pipelines/cli/task_config.hpp"
#include "pipelines/quick_pipeline.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"

namespace selectiv::cli {
namespace {

struct Pipeline {
  data::TaskSpec task;
  train::TrainConfig train;
  std::vector<std::string> models;

  void read(ConfigReader& r) {
    struct TaskSection {
      data::TaskSpec& spec;
      void read(ConfigReader& r) { spec = read_task_spec(r); }
    } task_section{task};
    r.section("task", task_section);
    r.section("train", train);
    std::vector<std::string> names = {"all"};
    r.read("models", names);
    r.finish();
    for (const auto& name : names) {
      if (name == "all") {
        models.insert(models.end(), models::mixer_names().begin(), models::mixer_names().end());
      } else {
        SELECTIV_REQUIRE(models::is_mixer(name), ExitCode::kInvalidInput, "{}: unknown model '{}'",
                         r.where("models"), name);
        models.push_back(name);
      }
    }
  }
};

struct Row {
  std::string model;
  std::int64_t parameters = 0;
  double test_accuracy = 0, best_test_accuracy = 0, test_loss = 0, oracle = 0, memoryless = 0;
  double tokens_per_second = 0, wall_seconds = 0;
};

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    SELECTIV_REQUIRE(out.good(), ExitCode::kFailure, "{}: cannot write", tmp);
  }
  std::filesystem::rename(tmp, path);
}

// Trains (or reuses) one model and evaluates it on the test split.
Row run_model(const Pipeline& p, const std::string& model, const std::string& data_dir, const std::string& out) {
  train::TrainConfig config = p.train;
  config.model = model;
  const std::string dir = out + "/" + model;
  const std::string metrics_path = dir + "/metrics.json";
  nlohmann::json metrics;
  if (std::filesystem::exists(metrics_path)) {
    log::info("{}: trained before ({}), reusing it", model, metrics_path);
    metrics = nlohmann::json::parse(std::ifstream(metrics_path));
  } else {
    train::TrainPaths paths{data_dir + "/train.h5", data_dir + "/test.h5", dir, true};
    train::run_training(config, paths);  // writes metrics_path
    metrics = nlohmann::json::parse(std::ifstream(metrics_path));
  }
  Row row;
  row.model = model;
  row.parameters = metrics.at("parameters").get<std::int64_t>();
  row.test_accuracy = metrics.at("final_test_accuracy").get<double>();
  row.best_test_accuracy = metrics.at("best_test_accuracy").get<double>();
  row.test_loss = metrics.at("history").back().at("test_loss").get<double>();
  row.tokens_per_second = metrics.at("tokens_per_second").get<double>();
  row.wall_seconds = metrics.at("wall_seconds").get<double>();

  // Selectivity profile of the final checkpoint on the test split.
  train::CheckpointInfo info = train::read_checkpoint_info(dir + "/checkpoint.h5");
  models::RecNet net(info.dims);
  net.params().allocate(0);
  train::load_checkpoint(dir + "/checkpoint.h5", net, false);
  BatchSource source(data_dir + "/test.h5");
  std::vector<int> predictions;
  eval::evaluate_split(Exec(), net, source, eval::EvaluationOptions{config.eval_batch_size}, &predictions);
  data::DatasetReader reader(data_dir + "/test.h5");
  eval::SelectivityProfile profile = eval::build_profile(
      reader.read_grammar(), reader.read(0, reader.info().n_samples), predictions,
      reader.info().spec.gap_kind == data::GapKind::kDistractors);
  row.oracle = profile.oracle_accuracy;
  row.memoryless = profile.memoryless_accuracy;
  write_atomically(dir + "/selectivity.json", profile.to_json().dump(2) + "\n");
  return row;
}

ExitCode run_pipeline(const std::string& file, const std::string& out, const std::vector<std::string>& sets) {
  ConfigDocument doc = file.empty() ? ConfigDocument::parse(kQuickPipelineYaml, "<embedded pipelines/quick.yaml>")
                                    : ConfigDocument::load_file(file);
  for (const auto& s : sets) doc.apply_override(s);
  Pipeline p;
  ConfigReader reader = doc.reader();
  p.read(reader);
  std::filesystem::create_directories(out);

  // 1. datasets (reused when their config hash matches)
  const std::string data_dir = out + "/data";
  ensure_datasets(p.task, data_dir, {data::Split::kTrain, data::Split::kTest});

  // 2-3. train and evaluate each model
  ensure_kokkos();
  std::vector<Row> rows;
  for (const auto& model : p.models) {
    log::info("=== {} ({}/{})", model, rows.size() + 1, p.models.size());
    rows.push_back(run_model(p, model, data_dir, out));
  }

  // 4. report
  std::string md = "| model | parameters | test acc | best acc | test loss | oracle | memoryless | tokens/s | wall s |\n"
                   "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  std::string csv = "model,parameters,test_accuracy,best_test_accuracy,test_loss,oracle_accuracy,memoryless_accuracy,"
                    "tokens_per_second,wall_seconds\n";
  nlohmann::json json = nlohmann::json::array();
  for (const Row& r : rows) {
    md += fmt::format("| {} | {} | {:.4f} | {:.4f} | {:.4f} | {:.4f} | {:.4f} | {:.0f} | {:.1f} |\n", r.model,
                      r.parameters, r.test_accuracy, r.best_test_accuracy, r.test_loss, r.oracle, r.memoryless,
                      r.tokens_per_second, r.wall_seconds);
    csv += fmt::format("{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.1f},{:.2f}\n", r.model, r.parameters,
                       r.test_accuracy, r.best_test_accuracy, r.test_loss, r.oracle, r.memoryless,
                       r.tokens_per_second, r.wall_seconds);
    json.push_back({{"model", r.model},
                    {"parameters", r.parameters},
                    {"test_accuracy", r.test_accuracy},
                    {"best_test_accuracy", r.best_test_accuracy},
                    {"test_loss", r.test_loss},
                    {"oracle_accuracy", r.oracle},
                    {"memoryless_accuracy", r.memoryless},
                    {"tokens_per_second", r.tokens_per_second},
                    {"wall_seconds", r.wall_seconds}});
  }
  write_atomically(out + "/results.md", md);
  write_atomically(out + "/results.csv", csv);
  write_atomically(out + "/results.json", json.dump(2) + "\n");
  fmt::print("{}", md);
  return ExitCode::kOk;
}

}  // namespace

void add_run_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a pipeline: generate the task's data, train and evaluate every listed model, print the results "
             "table (no file: the embedded quick pipeline, pipelines/quick.yaml)");
  struct Args {
    std::string file;
    std::string out = "selectiv-out/quick";
    std::vector<std::string> sets;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("pipeline", args->file, "Pipeline YAML (sections task, train, models)")->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Output folder (default selectiv-out/quick)");
  cmd->add_option("--set", args->sets, "Override a key: --set train.steps=100 --set models=[gla] (repeatable)");
  cmd->callback([&registry, args]() {
    registry.action = [args]() { return run_pipeline(args->file, args->out, args->sets); };
  });
}

}  // namespace selectiv::cli
