// SPDX-License-Identifier: BSD-3-Clause
// `selectiv run` through the binary, on a tiny task (gla and delta_net, d = 16, 2 layers, 16 updates): the embedded
// pipeline writes the results table and files and a rerun only checks the store (under a second); bad keys exit 2
// naming the key; and the reliability scenarios of docs/ecosystem.md §3.7:
//   IO-5 / WF-1  kill -9 during a run, rerun: only the interrupted instance (and what reads it) runs, and the report
//                equals an uninterrupted run's; delete one evaluation output: only it and the report rerun
//   IO-9 / SO-4  two concurrent runs on one store: every instance runs exactly once, the report is the same
//   SO-4         two shards one after the other (and MPI ranks, when built with MPI) make the single-process result
// The reports are compared without the timing columns (tokens/s, wall time), which no two runs share.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "support/testing.hpp"

namespace {

namespace fs = std::filesystem;
using selectiv::testing::CommandResult;

const std::string kBinary = SELECTIV_BINARY;
const std::string kTiny =
    " --set task.splits.train_size=128 --set task.splits.test_size=32 --set train.steps=16 --set train.eval_every=8"
    " --set train.warmup=2 --set train.d_model=16 --set grid.model=[gla,delta_net]";

CommandResult run_selectiv(const std::string& args) { return selectiv::testing::run_command(kBinary + " " + args); }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string fresh_store(const std::string& name) {
  // One folder per process: ctest runs each test in its own process, possibly two at a time.
  const std::string dir = ::testing::TempDir() + "/selectiv_run_" + name + "_" + std::to_string(::getpid());
  fs::remove_all(dir);
  return dir;
}

// The labels of the instances a run ran, from its "[k/n] run <label> (key ...)" lines.
std::multiset<std::string> ran_labels(const std::string& log) {
  std::multiset<std::string> labels;
  static const std::regex line(R"(\] run (\S+) \(key [0-9a-f]{12}\))");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it) {
    labels.insert((*it)[1]);
  }
  return labels;
}

// results.csv without the timing columns (the last two: tokens_per_second, wall_seconds).
std::string results_without_timings(const std::string& report_dir) {
  std::istringstream in(read_file(report_dir + "/results.csv"));
  std::string line, out;
  while (std::getline(in, line)) {
    for (int i = 0; i < 2; ++i) line = line.substr(0, line.rfind(','));
    out += line + "\n";
  }
  return out;
}

// results.csv cell by cell: text equal, numbers within `rel` (relative), timing columns skipped.
void expect_same_numbers(const std::string& a_dir, const std::string& b_dir, double rel) {
  std::istringstream a(results_without_timings(a_dir)), b(results_without_timings(b_dir));
  std::string la, lb;
  while (std::getline(a, la)) {
    ASSERT_TRUE(std::getline(b, lb));
    std::istringstream ca(la), cb(lb);
    std::string x, y;
    while (std::getline(ca, x, ',')) {
      ASSERT_TRUE(std::getline(cb, y, ','));
      char* end_x = nullptr;
      char* end_y = nullptr;
      const double dx = std::strtod(x.c_str(), &end_x), dy = std::strtod(y.c_str(), &end_y);
      if (!x.empty() && *end_x == 0 && !y.empty() && *end_y == 0) {
        EXPECT_NEAR(dx, dy, rel * std::max(std::abs(dx), std::abs(dy))) << x << " vs " << y;
      } else {
        EXPECT_EQ(x, y);
      }
    }
  }
  EXPECT_FALSE(std::getline(b, lb));
}

// The uninterrupted single-process result every scenario is compared with (made once).
const std::string& reference_store() {
  static const std::string store = [] {
    const std::string dir = fresh_store("reference");
    CommandResult r = run_selectiv("run --store " + dir + kTiny);
    EXPECT_EQ(r.code, 0) << r.err;
    return dir;
  }();
  return store;
}

std::string manifest_of_stage(const std::string& store, const std::string& stage, const std::string& label) {
  for (const auto& entry : fs::directory_iterator(store + "/" + stage)) {
    const std::string manifest = entry.path().string() + "/manifest.json";
    if (!fs::exists(manifest)) continue;
    if (nlohmann::json::parse(read_file(manifest)).at("label") == label) return read_file(manifest);
  }
  return "";
}

}  // namespace

TEST(Run, EmbeddedPipelineWritesTheResultsAndRerunsFromCacheInUnderASecond) {
  const std::string store = reference_store();
  for (const char* f :
       {"/quick/results.md", "/quick/results.csv", "/quick/results.json", "/quick/summary.csv", "/quick/summary.md",
        "/quick/summary.json", "/pipelines/quick.json", "/pipelines/quick.index"}) {
    EXPECT_TRUE(fs::exists(store + f)) << f;
  }
  nlohmann::json results = nlohmann::json::parse(read_file(store + "/quick/results.json"));
  ASSERT_EQ(results.size(), 2u);
  for (const auto& row : results) {
    EXPECT_GT(row.at("oracle_accuracy").get<double>(), row.at("memoryless_accuracy").get<double>());
    EXPECT_LE(row.at("oracle_accuracy").get<double>(), 1.0);
    // The evaluation of the final checkpoint on the test split is the trainer's last test evaluation.
    EXPECT_NEAR(row.at("accuracy").get<double>(), row.at("final_test_accuracy").get<double>(), 1e-9);
  }

  const auto start = std::chrono::steady_clock::now();
  CommandResult again = run_selectiv("run --store " + store + kTiny);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(again.code, 0) << again.err;
  std::printf("rerun check of the finished tiny quick pipeline through the binary: %.3f s\n", seconds);
  EXPECT_LT(seconds, 1.0);
  EXPECT_NE(again.err.find("all 6 instances up to date"), std::string::npos) << again.err;
  EXPECT_TRUE(ran_labels(again.err).empty()) << again.err;
  EXPECT_EQ(again.out, read_file(store + "/quick/results.md"));
  EXPECT_NE(again.out.find("| gla | 16 |"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("| delta_net | 16 |"), std::string::npos) << again.out;
}

TEST(Run, UnknownKeyUnknownModelAndImpossibleScheduleExitTwo) {
  const std::string store = fresh_store("bad");
  CommandResult bad_key = run_selectiv("run --store " + store + " --set train.lrr=1");
  EXPECT_EQ(bad_key.code, 2);
  EXPECT_NE(bad_key.err.find("train.lrr: unknown key"), std::string::npos) << bad_key.err;
  CommandResult bad_model = run_selectiv("run --store " + store + " --set grid.model=[rnn]");
  EXPECT_EQ(bad_model.code, 2);
  EXPECT_NE(bad_model.err.find("unknown model 'rnn'"), std::string::npos) << bad_model.err;
  CommandResult bad_shard = run_selectiv("run --store " + store + " --shard 2/2 --dry-run");
  EXPECT_EQ(bad_shard.code, 2);
  EXPECT_NE(bad_shard.err.find("--shard 2/2"), std::string::npos) << bad_shard.err;
  CommandResult bad_warmup =
      run_selectiv("run --store " + store + kTiny + " --set grid.model=[gla] --set train.warmup=16");
  EXPECT_EQ(bad_warmup.code, 2);
  EXPECT_NE(bad_warmup.err.find("warmup = 16 updates must be fewer than the run's 16 updates"), std::string::npos)
      << bad_warmup.err;
}

TEST(Run, DryRunListsEveryInstanceAndWhyAndTheDag) {
  const std::string store = fresh_store("dry");
  CommandResult dry = run_selectiv("run --store " + store + kTiny + " --dry-run --dag " + store + ".dot");
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("6 instances (1 generate, 2 train, 2 evaluate, 1 report in the plan): 6 missing"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("train@model=delta_net: never run"), std::string::npos) << dry.out;
  EXPECT_FALSE(fs::exists(store + "/train")) << "a dry run creates nothing in the store";
  const std::string dot = read_file(store + ".dot");
  EXPECT_EQ(dot.rfind("digraph", 0), 0u) << dot;
  EXPECT_NE(dot.find("n0 -> n1;"), std::string::npos) << dot;
  // Against the finished reference store: what changed, and what an lr change would redo.
  CommandResult changed = run_selectiv("run --store " + reference_store() + kTiny + " --set train.lr=0.002 --dry-run");
  ASSERT_EQ(changed.code, 0) << changed.err;
  EXPECT_NE(changed.out.find("generate@default: up to date"), std::string::npos) << changed.out;
  EXPECT_NE(changed.out.find("train@model=gla: changed since the last run: lr: 0.003 -> 0.002"), std::string::npos)
      << changed.out;
}

TEST(Run, PaperPipelineDryRunListsTheFullGrid) {
  CommandResult dry = run_selectiv("run " + std::string(SELECTIV_SOURCE_DIR) +
                                   "/pipelines/task1_complexity.yaml --store " + fresh_store("task1") + " --dry-run");
  ASSERT_EQ(dry.code, 0) << dry.err;
  // 7 complexities x 9 sizes x 4 seeds x 7 models x 3 lr x 2 warmup (reference-spec §1.1), 28 datasets.
  EXPECT_NE(dry.out.find("21197 instances (28 generate, 10584 train, 10584 evaluate, 1 report in the plan): "
                         "21197 missing"),
            std::string::npos)
      << dry.out.substr(dry.out.size() > 300 ? dry.out.size() - 300 : 0);
  EXPECT_EQ(std::count(dry.out.begin(), dry.out.end(), '\n'), 1 + 21197 + 1);
}

namespace {

// Starts the tiny pipeline in the background and kills it (SIGKILL) while the second training runs after the first
// one finished: a locked train folder without manifest next to a finished one. Returns the store, or "" when the
// kill missed that window (on a fast machine the second training can finish between the check and the kill).
std::string run_and_kill_during_second_training(const std::string& name) {
  const std::string store = fresh_store(name);
  const std::string log = store + ".log";
  const std::string pid_file = store + ".pid";
  if (std::system(
          (kBinary + " run --store " + store + kTiny + " >/dev/null 2>" + log + " & echo $! > " + pid_file).c_str()) !=
      0)
    return "";
  const pid_t pid = static_cast<pid_t>(std::stol(read_file(pid_file)));
  bool killed = false;
  for (int i = 0; i < 3000 && !killed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    int finished = 0, running = 0;
    if (fs::exists(store + "/train")) {
      for (const auto& e : fs::directory_iterator(store + "/train")) {
        fs::path folder = e.path();
        if (e.path().extension() == ".lock") {
          folder.replace_extension("");
          if (fs::exists(folder) && !fs::exists(folder / "manifest.json")) ++running;
        } else if (fs::exists(e.path() / "manifest.json")) {
          ++finished;
        }
      }
    }
    if (finished >= 1 && running >= 1) killed = ::kill(pid, SIGKILL) == 0;
  }
  if (!killed) ::kill(pid, SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const bool interrupted_training = killed && manifest_of_stage(store, "train", "train@model=delta_net").empty() &&
                                    !manifest_of_stage(store, "train", "train@model=gla").empty();
  return interrupted_training ? store : "";
}

}  // namespace

TEST(Run, KillNineThenRerunRedoesOnlyTheInterruptedInstance) {
  std::string store;
  for (int attempt = 0; attempt < 5 && store.empty(); ++attempt)
    store = run_and_kill_during_second_training("kill" + std::to_string(attempt));
  ASSERT_FALSE(store.empty()) << "five attempts never killed the run during its second training";
  const std::string first_train = manifest_of_stage(store, "train", "train@model=gla");
  ASSERT_FALSE(first_train.empty());

  CommandResult dry = run_selectiv("run --store " + store + kTiny + " --dry-run");
  EXPECT_NE(dry.out.find("train@model=delta_net: folder without manifest"), std::string::npos) << dry.out << dry.err;
  EXPECT_NE(dry.out.find("is gone, it will be broken"), std::string::npos) << dry.out;

  CommandResult rerun = run_selectiv("run --store " + store + kTiny);
  ASSERT_EQ(rerun.code, 0) << rerun.err;
  const std::multiset<std::string> ran = ran_labels(rerun.err);
  // The interrupted train, the evaluations not made yet, the report; never the generate or the finished train.
  EXPECT_EQ(ran.count("train@model=delta_net"), 1u) << rerun.err;
  EXPECT_EQ(ran.count("generate@default"), 0u) << rerun.err;
  EXPECT_EQ(ran.count("train@model=gla"), 0u) << rerun.err;
  EXPECT_EQ(ran.count("report@quick"), 1u) << rerun.err;
  EXPECT_EQ(manifest_of_stage(store, "train", "train@model=gla"), first_train);
  EXPECT_EQ(results_without_timings(store + "/quick"), results_without_timings(reference_store() + "/quick"));
}

TEST(Run, DeletingOneEvaluationRerunsOnlyItAndTheReport) {
  const std::string store = fresh_store("delete");
  // cp -a keeps the manifests' times (their order is what "outdated" is judged by).
  ASSERT_EQ(std::system(("cp -a '" + reference_store() + "' '" + store + "'").c_str()), 0);
  std::string deleted;
  for (const auto& e : fs::directory_iterator(store + "/evaluate")) {
    if (fs::exists(e.path() / "manifest.json") &&
        nlohmann::json::parse(read_file((e.path() / "manifest.json").string())).at("label") ==
            "evaluate@model=gla,set=test") {
      deleted = e.path().string();
    }
  }
  ASSERT_FALSE(deleted.empty());
  fs::remove_all(deleted);
  CommandResult rerun = run_selectiv("run --store " + store + kTiny);
  ASSERT_EQ(rerun.code, 0) << rerun.err;
  const std::multiset<std::string> expected = {"evaluate@model=gla,set=test", "report@quick"};
  EXPECT_EQ(ran_labels(rerun.err), expected) << rerun.err;
  EXPECT_EQ(results_without_timings(store + "/quick"), results_without_timings(reference_store() + "/quick"));
}

TEST(Run, TwoConcurrentRunsRunEveryInstanceOnce) {
  const std::string store = fresh_store("concurrent");
  const std::string cmd = kBinary + " run --store " + store + kTiny;
  ASSERT_EQ(
      std::system(
          (cmd + " >/dev/null 2>" + store + ".a.log & " + cmd + " >/dev/null 2>" + store + ".b.log & wait").c_str()),
      0);
  std::multiset<std::string> ran = ran_labels(read_file(store + ".a.log"));
  for (const auto& label : ran_labels(read_file(store + ".b.log"))) ran.insert(label);
  const std::multiset<std::string> each_once = {"generate@default",
                                                "train@model=gla",
                                                "evaluate@model=gla,set=test",
                                                "train@model=delta_net",
                                                "evaluate@model=delta_net,set=test",
                                                "report@quick"};
  EXPECT_EQ(ran, each_once) << read_file(store + ".a.log") << "\n----\n" << read_file(store + ".b.log");
  EXPECT_EQ(results_without_timings(store + "/quick"), results_without_timings(reference_store() + "/quick"));
  for (const char* stage : {"generate", "train", "evaluate", "report"}) {
    for (const auto& e : fs::directory_iterator(store + "/" + stage)) {
      EXPECT_NE(e.path().extension(), ".lock") << e.path();
      EXPECT_TRUE(fs::exists(e.path() / "manifest.json")) << e.path();
    }
  }
}

TEST(Run, ShardsOneAfterAnotherMakeTheSingleProcessResult) {
  const std::string store = fresh_store("shards");
  CommandResult first = run_selectiv("run --store " + store + kTiny + " --shard 0/2");
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.err.find("report not written yet"), std::string::npos) << first.err;
  EXPECT_FALSE(fs::exists(store + "/quick/results.csv"));
  // Slurm array variables select the shard when --shard is not given.
  CommandResult second = selectiv::testing::run_command("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 " + kBinary +
                                                        " run --store " + store + kTiny);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_NE(second.err.find("shard 1/2 (SLURM_ARRAY_TASK_ID)"), std::string::npos) << second.err;
  std::multiset<std::string> ran = ran_labels(first.err);
  for (const auto& label : ran_labels(second.err)) ran.insert(label);
  EXPECT_EQ(ran.size(), 6u) << first.err << second.err;
  EXPECT_EQ(ran.count("train@model=gla") + ran.count("train@model=delta_net"), 2u);
  EXPECT_EQ(results_without_timings(store + "/quick"), results_without_timings(reference_store() + "/quick"));
}

#if defined(SELECTIV_HAVE_MPI)
TEST(Run, MpiRanksFarmOutDisjointInstances) {
  const std::string store = fresh_store("mpi");
  CommandResult r = selectiv::testing::run_command(
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 mpirun -np 2 "
      "--oversubscribe " +
      kBinary + " run --store " + store + kTiny);
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, std::multiset<std::string>> by_rank;
  static const std::regex line(R"(\[rank (\d)/2\] \[\d+/\d+\] run (\S+) \(key)");
  for (auto it = std::sregex_iterator(r.err.begin(), r.err.end(), line); it != std::sregex_iterator(); ++it) {
    by_rank[(*it)[1]].insert((*it)[2]);
  }
  // Rank r takes grid point r: each rank trains and evaluates its own model; nothing runs twice.
  EXPECT_EQ(by_rank["0"].count("train@model=gla"), 1u) << r.err;
  EXPECT_EQ(by_rank["1"].count("train@model=delta_net"), 1u) << r.err;
  std::multiset<std::string> all = by_rank["0"];
  all.insert(by_rank["1"].begin(), by_rank["1"].end());
  EXPECT_EQ(all.size(), 6u) << r.err;
  // Under mpirun the BLAS runs with another thread count, so sums may be ordered differently: the accuracies are
  // equal, the losses equal to float rounding.
  expect_same_numbers(store + "/quick", reference_store() + "/quick", 1e-6);
}
#endif
