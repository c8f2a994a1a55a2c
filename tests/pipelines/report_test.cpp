// SPDX-License-Identifier: BSD-3-Clause
// The report stage on stand-in train / evaluate outputs with chosen numbers: one row per run and evaluation set, the
// selectivity score from the anchors, and the summary's choice of lr / warmup by the best mean accuracy over seeds
// with mean and sample standard deviation there (diverged seeds left out and counted), all checked against values
// computed here by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "pipelines/engine/report.hpp"
#include "pipelines/engine/scheduler.hpp"
#include "pipelines/engine/store.hpp"
#include "tests/pipelines/fixtures.hpp"

namespace selectiv::engine {
namespace {

// Evaluation accuracy by (lr, seed); a negative value means the run diverged.
const std::map<std::pair<double, std::uint64_t>, double> kAccuracy = {
    {{0.001, 1}, 0.6}, {{0.001, 2}, 0.7}, {{0.001, 3}, 0.8},   // mean 0.7, sd 0.1
    {{0.002, 1}, 0.9}, {{0.002, 2}, 0.4}, {{0.002, 3}, -1.0},  // mean 0.65 over 2 seeds, 1 diverged
};
constexpr double kOracle = 0.95, kMemoryless = 0.3;

nlohmann::json stand_in(const StageContext& ctx) {
  const Instance& inst = ctx.instance();
  if (inst.stage == Stage::kReport) return write_report(ctx);
  if (inst.stage == Stage::kTrain) {
    const double acc = kAccuracy.at({inst.train->lr, inst.train->seed});
    nlohmann::json m = acc < 0 ? nlohmann::json{{"outcome", "diverged"}}
                               : nlohmann::json{{"parameters", 1234}, {"steps", 8}, {"final_test_accuracy", acc},
                                                {"best_test_accuracy", acc + 0.01}, {"tokens_per_second", 100.0},
                                                {"wall_seconds", 2.0}};
    std::ofstream(ctx.dir + "/metrics.json") << m.dump();
  }
  if (inst.stage == Stage::kEvaluate) {
    const Instance& train = ctx.plan.instances[inst.inputs[0]];
    const double acc = kAccuracy.at({train.train->lr, train.train->seed});
    nlohmann::json e = acc < 0 ? nlohmann::json{{"outcome", "diverged"}}
                               : nlohmann::json{{"accuracy", acc},
                                                {"loss", 1.0 - acc},
                                                {"selectivity",
                                                 {{"oracle_accuracy", kOracle},
                                                  {"memoryless_accuracy", kMemoryless},
                                                  {"errors_same_symbol", 3},
                                                  {"errors_other_symbol", 1}}}};
    std::ofstream(ctx.dir + "/evaluation.json") << e.dump();
  }
  for (const std::string& out : inst.outputs) {
    if (!file_exists(ctx.dir + "/" + out)) std::ofstream(ctx.dir + "/" + out) << "stand-in";
  }
  return nlohmann::json::object();
}

TEST(Report, RowsAndTheBestSettingWithMeanAndStdOverSeeds) {
  const Plan plan = testing::plan_of(
      testing::small_pipeline("grid:\n  model: [gla]\n  lr: [0.001, 0.002]\n  seed: [1, 2, 3]\n",
                              "report: {plots: false}\n"));
  const Store store(testing::fresh_dir("report"));
  RunSummary s = run_instances(plan, store, std::vector<bool>(plan.instances.size(), true), stand_in);
  ASSERT_EQ(s.code, ExitCode::kOk);
  const std::string dir = store.dir(plan.instances.back());

  const nlohmann::json results = nlohmann::json::parse(read_whole_file(dir + "/results.json"));
  ASSERT_EQ(results.size(), 6u);
  for (const auto& row : results) {
    const double acc = kAccuracy.at({row.at("lr").get<double>(), row.at("seed").get<std::uint64_t>()});
    if (acc < 0) {
      EXPECT_EQ(row.at("outcome"), "diverged");
      EXPECT_TRUE(row.at("accuracy").is_null());
      continue;
    }
    EXPECT_EQ(row.at("model"), "gla");
    EXPECT_EQ(row.at("d_model"), 16);
    EXPECT_EQ(row.at("parameters"), 1234);
    EXPECT_DOUBLE_EQ(row.at("accuracy").get<double>(), acc);
    EXPECT_DOUBLE_EQ(row.at("best_test_accuracy").get<double>(), acc + 0.01);
    EXPECT_DOUBLE_EQ(row.at("selectivity_score").get<double>(), (acc - kMemoryless) / (kOracle - kMemoryless));
    EXPECT_DOUBLE_EQ(row.at("same_symbol_error_share").get<double>(), 0.75);
  }

  const nlohmann::json summary = nlohmann::json::parse(read_whole_file(dir + "/summary.json"));
  ASSERT_EQ(summary.size(), 1u);  // one model, one size, one set
  const nlohmann::json& best = summary[0];
  EXPECT_DOUBLE_EQ(best.at("best_lr").get<double>(), 0.001);  // mean 0.7 beats 0.65
  EXPECT_EQ(best.at("seeds"), 3);
  EXPECT_EQ(best.at("diverged"), 0);
  EXPECT_NEAR(best.at("accuracy_mean").get<double>(), (0.6 + 0.7 + 0.8) / 3, 1e-12);
  const double var = ((0.6 - 0.7) * (0.6 - 0.7) + 0.0 + (0.8 - 0.7) * (0.8 - 0.7)) / (3 - 1);
  EXPECT_NEAR(best.at("accuracy_std").get<double>(), std::sqrt(var), 1e-12);
  EXPECT_NEAR(best.at("best_test_accuracy_mean").get<double>(), 0.71, 1e-12);

  // The CSV and Markdown tables carry the same rows.
  const std::string csv = read_whole_file(dir + "/results.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 6);
  EXPECT_EQ(csv.substr(0, csv.find('\n')).find("run,set,task,model,d_model"), 0u);
  const std::string md = read_whole_file(dir + "/summary.md");
  EXPECT_NE(md.find("| test | gla | 16 | 1234 |"), std::string::npos) << md;
}

TEST(Report, PlotsWhenMatplotlibIsThereTablesAlways) {
  const Plan plan = testing::plan_of(
      testing::small_pipeline("grid:\n  d_model: [16, 32]\n  lr: [0.001]\n  seed: [1, 2]\n", "report: {plots: true}\n"));
  const Store store(testing::fresh_dir("report_plots"));
  ASSERT_EQ(run_instances(plan, store, std::vector<bool>(plan.instances.size(), true), stand_in).code, ExitCode::kOk);
  const std::string dir = store.dir(plan.instances.back());
  EXPECT_TRUE(file_exists(dir + "/summary.csv"));
  const nlohmann::json manifest = store.read_manifest("report", plan.instances.back().key);
  const bool matplotlib = std::system("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1") == 0;
  EXPECT_EQ(manifest.at("plots").get<bool>(), matplotlib);
  if (matplotlib) {
    ASSERT_TRUE(file_exists(dir + "/accuracy_vs_size.png"));  // the grid varies the size only
    EXPECT_GT(std::filesystem::file_size(dir + "/accuracy_vs_size.png"), 1000u);
    EXPECT_FALSE(file_exists(dir + "/accuracy_vs_complexity.png"));
    EXPECT_FALSE(file_exists(dir + "/accuracy_vs_gap.png"));
  }
}

}  // namespace
}  // namespace selectiv::engine
