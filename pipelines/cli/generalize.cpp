// SPDX-License-Identifier: BSD-3-Clause
// `selectiv generalize --checkpoint CK --config SPEC --out DIR [--test-dur 1,2,5,10]`: task 4 (reference-spec
// §1.1): a model trained with gaps of 1-10 steps, tested with longer fixed gaps. For each test duration the test
// split of SPEC with gaps.test = duration is generated into DIR/data/test_dur<d>/ (or reused when its config hash
// matches), evaluated in bounded memory (DIR/test_dur<d>.metrics.{h5,json}), and the accuracy-versus-gap curve is
// written to DIR/curve.{csv,json,md}.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "eval/evaluation.hpp"
#include "pipelines/cli/command.hpp"
#include "pipelines/cli/evaluation_output.hpp"
#include "pipelines/cli/task_config.hpp"
#include "train/checkpoint.hpp"

namespace selectiv::cli {
namespace {

struct Args {
  std::string checkpoint;
  std::string config;
  std::vector<std::string> sets;
  std::vector<double> test_durations = {1.0, 2.0, 5.0, 10.0};
  std::string out;
  eval::EvaluationOptions options;
};

ExitCode run_generalize(const Args& args) {
  ConfigDocument doc = ConfigDocument::load_file(args.config);
  for (const std::string& s : args.sets) doc.apply_override(s);
  ConfigReader reader = doc.reader();
  const data::TaskSpec base = read_task_spec(reader);
  for (double d : args.test_durations) {
    SELECTIV_REQUIRE(std::isfinite(d) && d > 0.0, ExitCode::kInvalidInput, "--test-dur {}: must be positive", d);
  }
  ensure_kokkos();
  train::CheckpointInfo info;
  std::unique_ptr<models::RecNet> net = train::load_model(args.checkpoint, &info);
  make_directories(args.out);

  std::string csv = "test_dur,gap_steps,max_steps,accuracy,loss,oracle_accuracy,memoryless_accuracy,samples,"
                    "wall_seconds,peak_rss_mib\n";
  std::string md = "| test_dur | gap steps | T | accuracy | loss | oracle | memoryless | samples | wall s | peak MiB |\n"
                   "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  nlohmann::json curve = nlohmann::json::array();
  print_evaluation_header();
  for (double duration : args.test_durations) {
    data::TaskSpec spec = base;
    spec.test_gap = duration;
    const std::string name = fmt::format("test_dur{:g}", duration);
    const std::string data_dir = args.out + "/data/" + name;
    ensure_datasets(spec, data_dir, {data::Split::kTest});
    eval::Evaluation e = eval::evaluate_model(*net, data_dir + "/test.h5", args.options);
    e.checkpoint = args.checkpoint;
    e.checkpoint_step = info.step;
    eval::write_evaluation(e, args.out + "/" + name + ".metrics");
    print_evaluation_row(e);
    const long gap_steps = std::lround(duration / spec.timestep);
    csv += fmt::format("{:g},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{},{:.2f},{:.1f}\n", duration, gap_steps, e.max_steps,
                       e.metrics.accuracy, e.metrics.loss, e.profile.oracle_accuracy,
                       e.profile.memoryless_accuracy, e.metrics.samples, e.wall_seconds, e.peak_rss_mib);
    md += fmt::format("| {:g} | {} | {} | {:.4f} | {:.4f} | {:.4f} | {:.4f} | {} | {:.1f} | {:.0f} |\n", duration,
                      gap_steps, e.max_steps, e.metrics.accuracy, e.metrics.loss, e.profile.oracle_accuracy,
                      e.profile.memoryless_accuracy, e.metrics.samples, e.wall_seconds, e.peak_rss_mib);
    curve.push_back({{"test_dur", duration},
                     {"gap_steps", gap_steps},
                     {"max_steps", e.max_steps},
                     {"accuracy", e.metrics.accuracy},
                     {"loss", e.metrics.loss},
                     {"oracle_accuracy", e.profile.oracle_accuracy},
                     {"memoryless_accuracy", e.profile.memoryless_accuracy},
                     {"samples", e.metrics.samples},
                     {"wall_seconds", e.wall_seconds},
                     {"peak_rss_mib", e.peak_rss_mib},
                     {"metrics", name + ".metrics.json"}});
  }
  write_file_atomically(args.out + "/curve.csv", csv);
  write_file_atomically(args.out + "/curve.md", md);
  write_file_atomically(args.out + "/curve.json",
                        nlohmann::json{{"checkpoint", args.checkpoint}, {"config", args.config}, {"curve", curve}}
                                .dump(2) + "\n");
  fmt::print("\n{}", md);
  return ExitCode::kOk;
}

}  // namespace

void add_generalize_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand(
      "generalize", "Task 4: evaluate a checkpoint on test sets with longer gaps (test_dur 1, 2, 5, 10) and write the "
                    "accuracy-versus-gap curve");
  auto args = std::make_shared<Args>();
  cmd->add_option("--checkpoint", args->checkpoint, "Checkpoint written by `selectiv train` (a task-2 model)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--config", args->config, "Task spec of the test sets, e.g. data/specs/task4.yaml")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->sets, "Override a spec key: --set splits.test_size=100 (repeatable)");
  cmd->add_option("--test-dur", args->test_durations, "Test gap durations in seconds (default 1 2 5 10)")
      ->delimiter(',');
  cmd->add_option("--out", args->out, "Output folder: data/, test_dur<d>.metrics.{h5,json}, curve.{csv,json,md}")
      ->required();
  add_evaluation_options(*cmd, args->options);
  cmd->callback([&registry, args]() { registry.action = [args]() { return run_generalize(*args); }; });
}

}  // namespace selectiv::cli
