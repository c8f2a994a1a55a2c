// SPDX-License-Identifier: BSD-3-Clause
// `selectiv run [PIPELINE.yaml]`: a pipeline (engine/pipeline_file.hpp) expanded into a DAG of cached stage
// instances (generate -> train -> evaluate -> report) in a content-addressed store (engine/store.hpp), run in
// dependency order by one worker, by a shard of workers (--shard i/n, Slurm array tasks), or by MPI ranks. Without a
// file it runs the embedded pipelines/quick.yaml. A rerun skips complete instances, so a finished pipeline only
// prints its table again. The report is published to --out (default <store>/<pipeline name>).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "pipelines/cli/command.hpp"
#include "pipelines/engine/farm.hpp"
#include "pipelines/engine/pipeline_file.hpp"
#include "pipelines/engine/plan.hpp"
#include "pipelines/engine/plan_index.hpp"
#include "pipelines/engine/scheduler.hpp"
#include "pipelines/engine/shard.hpp"
#include "pipelines/engine/stages.hpp"
#include "pipelines/engine/status.hpp"
#include "pipelines/engine/store.hpp"
#include "pipelines/quick_pipeline.hpp"

namespace selectiv::cli {
namespace {

using namespace selectiv::engine;

constexpr std::size_t kMaxRowsPrinted = 60;

struct RunArgs {
  std::string file;
  std::string store = "selectiv-out";
  std::string out;
  std::vector<std::string> sets;
  std::string shard;
  std::string dag;
  bool dry_run = false;
};

// The shard this process works on: an MPI rank, --shard, a Slurm array task, or the whole plan.
Shard choose_shard(const RunArgs& args, const Farm& farm) {
  if (farm.size() > 1) {
    SELECTIV_REQUIRE(args.shard.empty(), ExitCode::kInvalidInput,
                     "--shard {}: not with MPI (every rank already takes its own shard)", args.shard);
    return {static_cast<std::size_t>(farm.rank()), static_cast<std::size_t>(farm.size()), "MPI rank"};
  }
  if (!args.shard.empty()) return parse_shard(args.shard);
  if (auto from_env = shard_from_environment()) return *from_env;
  return {};
}

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Copies the report's files to the --out folder (each replaced atomically).
void publish_report(const std::string& from, const std::string& to) {
  std::filesystem::create_directories(to);
  for (const auto& entry : std::filesystem::directory_iterator(from)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name == "manifest.json" || name == "plots.log") continue;
    write_file_atomically(to + "/" + name, read_whole_file(entry.path().string()));
  }
}

// Publishes the report to `out` and prints its table (the full results when short, else the summary).
void show_report(const Plan& plan, const Store& store, const std::string& out) {
  const Instance& report = plan.instances.back();
  const std::string report_dir = store.dir(report);
  publish_report(report_dir, out);
  const std::size_t rows = report.inputs.size() / 3;  // train, evaluate, dataset per row
  fmt::print("{}", read_whole_file(report_dir + (rows <= kMaxRowsPrinted ? "/results.md" : "/summary.md")));
  log::info("report: {} (results.csv: one row per run; summary.csv: best lr/warmup, mean and std over seeds)", out);
}

ExitCode run_pipeline(const RunArgs& args) {
  const std::string source = args.file.empty() ? "<embedded pipelines/quick.yaml>" : args.file;
  ConfigDocument doc = args.file.empty() ? ConfigDocument::parse(kQuickPipelineYaml, source)
                                         : ConfigDocument::load_file(args.file);
  for (const auto& s : args.sets) doc.apply_override(s);
  const PipelineFile file = PipelineFile::read(doc, source);
  for (const char* reserved : {"generate", "train", "evaluate", "report", "pipelines"}) {
    SELECTIV_REQUIRE(file.name != reserved, ExitCode::kInvalidInput,
                     "{}: name '{}' is a folder of the store; choose another", source, file.name);
  }
  const CodeIdentity identity = CodeIdentity::of_this_build();
  const std::string fingerprint = plan_fingerprint(doc, identity);
  const Store store(args.store);
  const std::string out = args.out.empty() ? store.root() + "/" + file.name : args.out;
  Farm farm;
  const Shard shard = choose_shard(args, farm);

  // Rerun of a finished pipeline: the recorded plan is enough to see that everything is up to date.
  const bool index_valid = plan_index_matches(store, file.name, fingerprint);
  if (index_valid && !args.dry_run && args.dag.empty() && shard.whole() && !farm.active()) {
    const std::optional<Plan> recorded = read_plan_index(store, file.name, fingerprint);
    if (recorded && all_current(*recorded, store)) {
      log::info("pipeline {}: all {} instances up to date (store {})", file.name, recorded->instances.size(),
                store.root());
      show_report(*recorded, store, out);
      return ExitCode::kOk;
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  const Expansion expansion = expand_grid(file);
  const auto t1 = std::chrono::steady_clock::now();
  const Plan plan = build_plan(file, expansion, identity);
  log::debug("grid expanded in {:.3f} s, plan of {} instances built in {:.3f} s", seconds_between(t0, t1),
             plan.instances.size(), seconds_between(t1, std::chrono::steady_clock::now()));
  std::vector<bool> wanted = select_shard(plan, shard);
  const std::size_t report = report_index(plan);
  if (shard.whole()) wanted[report] = true;

  if (args.dry_run || !args.dag.empty()) {
    if (farm.rank() != 0) return ExitCode::kOk;
    const auto t2 = std::chrono::steady_clock::now();
    const std::vector<InstanceStatus> statuses = describe_plan(plan, store);
    log::debug("statuses in {:.3f} s", seconds_between(t2, std::chrono::steady_clock::now()));
    if (!args.dag.empty()) write_file_atomically(args.dag, dag_dot(plan, statuses));
    if (args.dry_run) {
      if (!shard.whole()) {
        fmt::print("shard {}/{} ({}); the report is written by the worker that finishes last\n", shard.index,
                   shard.count, shard.source);
      }
      print_dry_run(plan, statuses, wanted, stdout);
    }
    return ExitCode::kOk;
  }

  log::info("pipeline {}: {} instances ({} generate, {} train, {} evaluate, 1 report), store {}{}", plan.name,
            plan.instances.size(), plan.count(Stage::kGenerate), plan.count(Stage::kTrain),
            plan.count(Stage::kEvaluate), store.root(),
            shard.whole() ? "" : fmt::format(", shard {}/{} ({})", shard.index, shard.count, shard.source));
  std::filesystem::create_directories(store.root());
  RunSummary summary;
  try {
    wanted[report] = false;
    summary = run_instances(plan, store, wanted, run_stage);
    farm.barrier();
    // The report, once every input exists: the only worker, the last shard to finish, or MPI rank 0.
    std::size_t missing = 0;
    for (std::size_t in : plan.instances[report].inputs) missing += store.complete(plan.instances[in]) ? 0 : 1;
    if (farm.rank() == 0 && missing == 0) {
      std::vector<bool> only_report(plan.instances.size(), false);
      only_report[report] = true;
      RunSummary r = run_instances(plan, store, only_report, run_stage);
      summary.ran += r.ran;
      summary.reused += r.reused;
      summary.failed += r.failed;
      if (summary.code == ExitCode::kOk) summary.code = r.code;
    } else if (farm.rank() == 0 && !shard.whole()) {
      log::info("report not written yet: {} of its inputs are not complete (other shards, or failed); the worker that "
                "finishes last writes it, or rerun without --shard",
                missing);
    } else if (farm.rank() == 0) {
      log::warn("report not written: {} of its inputs failed or are missing", missing);
    }
  } catch (const Error& e) {
    if (farm.active()) {
      log::error("{}", e.what());
      farm.abort(e.code());
    }
    throw;
  }
  const ExitCode code = farm.first_failure(summary.code);
  const long long ran = farm.sum(static_cast<long long>(summary.ran));
  if (farm.rank() != 0) return code;
  if (ran > 0 || store.read_labels(plan.name).empty()) store.write_labels(plan);
  if (!index_valid) write_plan_index(store, plan, fingerprint);
  log::info("{} instances run, {} up to date, {} failed, {} skipped", summary.ran, summary.reused, summary.failed,
            summary.blocked);
  if (store.complete(plan.instances[report])) show_report(plan, store, out);
  return code;
}

}  // namespace

void add_run_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a pipeline: a grid of runs expanded into cached generate -> train -> evaluate -> report instances in "
             "a content-addressed store; prints the results table (no file: the embedded pipelines/quick.yaml)");
  auto args = std::make_shared<RunArgs>();
  cmd->add_option("pipeline", args->file, "Pipeline YAML (sections name, task, train, grid, evaluate, report)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--store", args->store, "Store folder shared by every pipeline and worker (default selectiv-out)");
  cmd->add_option("--out", args->out, "Folder that receives a copy of the report (default <store>/<pipeline name>)");
  cmd->add_option("--set", args->sets,
                  "Override a key: --set train.steps=100 --set grid.model=[gla] (repeatable)");
  cmd->add_option("--shard", args->shard,
                  "Run shard i of n (i/n, 0-based): grid point p belongs to shard p mod n; default from "
                  "SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT when set");
  cmd->add_flag("--dry-run", args->dry_run, "List every instance with its key, status and why; run nothing");
  cmd->add_option("--dag", args->dag, "Write the DAG as Graphviz to this file (with statuses); run nothing");
  cmd->callback([&registry, args]() { registry.action = [args]() { return run_pipeline(*args); }; });
}

}  // namespace selectiv::cli
