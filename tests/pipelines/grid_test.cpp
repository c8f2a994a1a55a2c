// SPDX-License-Identifier: BSD-3-Clause
// Grid expansion and plan shape: the number of points is the product of the axis lengths; each axis value lands on
// the key it names (seed on both task and train, mappings merged, `all` = the model list); evaluation sets that
// change the task spec get their own test-only datasets; the paper pipelines expand to the reference grids
// (reference-spec §1.1); bad axes and values exit 2 naming the place.
#include <gtest/gtest.h>

#include <set>

#include "core/error.hpp"
#include "models/mixer.hpp"
#include "pipelines/engine/plan.hpp"
#include "tests/pipelines/fixtures.hpp"

namespace selectiv::engine {
namespace {

using testing::plan_of;
using testing::read_pipeline;
using testing::small_pipeline;

std::size_t count_stage(const Plan& plan, Stage stage) { return plan.count(stage); }

TEST(Grid, PointsAreTheCartesianProductFirstAxisOutermost) {
  PipelineFile file = read_pipeline(small_pipeline("grid:\n  model: [gla, transformer]\n  lr: [0.001, 0.002, 0.004]\n"
                                                   "  warmup: [1, 2]\n"));
  Expansion e = expand_grid(file);
  ASSERT_EQ(e.points.size(), 2u * 3u * 2u);
  EXPECT_EQ(e.points[0].label, "model=gla,lr=0.001,warmup=1");
  EXPECT_EQ(e.points[1].label, "model=gla,lr=0.001,warmup=2");
  EXPECT_EQ(e.points[11].label, "model=transformer,lr=0.004,warmup=2");
  // Every combination exactly once, with the values in the parsed configs.
  std::set<std::tuple<std::string, double, std::int64_t>> seen;
  for (const GridPoint& p : e.points) {
    const train::TrainConfig& c = e.trains[p.train];
    seen.insert({c.model, c.lr, c.warmup});
    EXPECT_EQ(c.d_model, 16);  // from the base section
  }
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(e.tasks.size(), 1u);  // no task axis: one task spec
}

TEST(Grid, SeedSetsTaskAndTrainSeedAndMappingsMergeIntoTheSpec) {
  PipelineFile file = read_pipeline(small_pipeline(
      "grid:\n  task.grammar:\n    - {ambiguities: 4, ambiguity_depth: 4}\n    - {ambiguities: 6, ambiguity_depth: 6}\n"
      "  seed: [1, 2, 3]\n"));
  Expansion e = expand_grid(file);
  ASSERT_EQ(e.points.size(), 6u);
  EXPECT_EQ(e.tasks.size(), 6u);   // (ambiguities, seed) pairs
  EXPECT_EQ(e.trains.size(), 3u);  // the train config sees only the seed
  for (const GridPoint& p : e.points) {
    const data::TaskSpec& t = e.tasks[p.task];
    EXPECT_EQ(t.grammar.seed, e.trains[p.train].seed);
    EXPECT_EQ(t.grammar.ambiguity_depth, t.grammar.ambiguities);
    EXPECT_EQ(t.grammar.seq_len_max, 20);  // untouched keys of the merged mapping stay
  }
  EXPECT_EQ(e.tasks[e.points[5].task].grammar.ambiguities, 6);
  EXPECT_EQ(e.tasks[e.points[5].task].grammar.seed, 3u);
}

TEST(Grid, AllIsEveryModelOfTheList) {
  Expansion e = expand_grid(read_pipeline(small_pipeline("grid:\n  model: [all]\n")));
  ASSERT_EQ(e.points.size(), models::mixer_names().size());
  for (std::size_t i = 0; i < e.points.size(); ++i) EXPECT_EQ(e.trains[e.points[i].train].model, models::mixer_names()[i]);
}

TEST(Plan, InstancesAndDependencies) {
  // 2 models x 2 seeds, two evaluation sets of which one changes the test gap.
  Plan plan = plan_of(small_pipeline("grid:\n  model: [gla, transformer]\n  seed: [1, 2]\n",
                                     "evaluate:\n  sets:\n    test: {}\n    long: {gaps: {test: 0.5}}\n"));
  EXPECT_EQ(count_stage(plan, Stage::kGenerate), 2u + 2u);  // per seed: train+test, and the long test split
  EXPECT_EQ(count_stage(plan, Stage::kTrain), 4u);
  EXPECT_EQ(count_stage(plan, Stage::kEvaluate), 8u);
  EXPECT_EQ(count_stage(plan, Stage::kReport), 1u);
  EXPECT_EQ(plan.units, 4u);
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    const Instance& inst = plan.instances[i];
    for (std::size_t in : inst.inputs) EXPECT_LT(in, i) << inst.label;  // topological order
    switch (inst.stage) {
      case Stage::kGenerate: EXPECT_TRUE(inst.inputs.empty()); break;
      case Stage::kTrain:
        ASSERT_EQ(inst.inputs.size(), 1u);
        EXPECT_EQ(plan.instances[inst.inputs[0]].stage, Stage::kGenerate);
        EXPECT_EQ(plan.instances[inst.inputs[0]].splits.size(), 2u);
        break;
      case Stage::kEvaluate: {
        ASSERT_EQ(inst.inputs.size(), 2u);
        EXPECT_EQ(plan.instances[inst.inputs[0]].stage, Stage::kTrain);
        const Instance& data = plan.instances[inst.inputs[1]];
        const bool long_set = inst.label.find("set=long") != std::string::npos;
        EXPECT_DOUBLE_EQ(data.task->test_gap, long_set ? 0.5 : 0.1) << inst.label;
        EXPECT_EQ(data.splits.size(), long_set ? 1u : 2u) << inst.label;
        EXPECT_EQ(data.task->grammar.seed, plan.instances[inst.inputs[0]].train->seed) << inst.label;
        break;
      }
      case Stage::kReport: EXPECT_EQ(inst.inputs.size(), 3u * 8u); break;
    }
  }
  EXPECT_EQ(report_rows(plan, report_index(plan)).size(), 8u);
}

TEST(Plan, EqualWorkIsOneInstance) {
  // Two lr values that parse to the same number are one train instance (same key).
  Plan plan = plan_of(small_pipeline("grid:\n  lr: [0.001, 1.0e-3]\n"));
  EXPECT_EQ(count_stage(plan, Stage::kTrain), 1u);
  EXPECT_EQ(count_stage(plan, Stage::kEvaluate), 1u);
  EXPECT_EQ(plan.units, 2u);
}

TEST(Grid, BadAxesAndValuesExitTwoNamingThePlace) {
  auto error_of = [](const std::string& text, const std::vector<std::string>& sets = {}) -> std::string {
    try {
      PipelineFile file = read_pipeline(text, sets);
      expand_grid(file);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kInvalidInput) << e.what();
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of(small_pipeline("grid:\n  model: []\n")).find("test.yaml:10:10: grid.model"), std::string::npos)
      << error_of(small_pipeline("grid:\n  model: []\n"));
  EXPECT_NE(error_of(small_pipeline("grid:\n  foo.bar: [1]\n")).find("unknown grid axis"), std::string::npos);
  EXPECT_NE(error_of(small_pipeline("grid:\n  lrr: [1]\n")).find("unknown key"), std::string::npos);
  const std::string bad_lr = error_of(small_pipeline("grid:\n  lr: [0.001, -1]\n"));
  EXPECT_NE(bad_lr.find("lr=-1 (test.yaml:10:7: grid.lr)"), std::string::npos) << bad_lr;
  EXPECT_NE(bad_lr.find("out of range"), std::string::npos) << bad_lr;
  EXPECT_NE(error_of(small_pipeline("grid:\n  model: [rnn]\n")).find("unknown model 'rnn'"), std::string::npos);
  const std::string bad_precision = error_of(small_pipeline("grid:\n  precision: [fp32, bf17]\n"));
  EXPECT_NE(bad_precision.find("'bf17' is not one of auto, fp32, tf32, bf16"), std::string::npos) << bad_precision;
  EXPECT_NE(error_of(small_pipeline(""), {"grid.model=[rnn]"}).find("--set grid.model=[rnn]"), std::string::npos)
      << error_of(small_pipeline(""), {"grid.model=[rnn]"});
  EXPECT_NE(error_of(small_pipeline("", "evaluate:\n  sets:\n    long: {gapz: {test: 1}}\n")).find("unknown key"),
            std::string::npos);
  EXPECT_NE(error_of(small_pipeline("", "reprt: {}\n")).find("test.yaml:9:1: reprt: unknown key"), std::string::npos)
      << error_of(small_pipeline("", "reprt: {}\n"));
}

// The paper pipelines expand to the grids of reference-spec §1.1.
struct PaperGrid {
  const char* file;
  std::size_t generate, train, evaluate;
};

class PaperPipelines : public ::testing::TestWithParam<PaperGrid> {};

TEST_P(PaperPipelines, ExpandToTheReferenceGrid) {
  const PaperGrid g = GetParam();
  const std::string path = std::string(SELECTIV_SOURCE_DIR) + "/pipelines/" + g.file;
  ConfigDocument doc = ConfigDocument::load_file(path);
  PipelineFile file = PipelineFile::read(doc, path);
  Plan plan = build_plan(file, expand_grid(file), testing::test_code());
  EXPECT_EQ(plan.count(Stage::kGenerate), g.generate);
  EXPECT_EQ(plan.count(Stage::kTrain), g.train);
  EXPECT_EQ(plan.count(Stage::kEvaluate), g.evaluate);
  EXPECT_EQ(plan.count(Stage::kReport), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    ReferenceSpec, PaperPipelines,
    ::testing::Values(PaperGrid{"task1_complexity.yaml", 7 * 4, 7 * 9 * 4 * 7 * 3 * 2, 7 * 9 * 4 * 7 * 3 * 2},
                      PaperGrid{"task1_model_size.yaml", 4, 9 * 4 * 7 * 3 * 2, 9 * 4 * 7 * 3 * 2},
                      PaperGrid{"task2.yaml", 4, 9 * 4 * 7 * 3 * 2, 9 * 4 * 7 * 3 * 2},
                      PaperGrid{"task3.yaml", 4, 8 * 4 * 7 * 3 * 2, 8 * 4 * 7 * 3 * 2},
                      // task 4: the task-2 runs at d in {256, 384}, lr in {5e-4, 1e-3}, each tested at 4 test gaps (dur 1 = task 2 test)
                      PaperGrid{"task4.yaml", 4 + 3 * 4, 2 * 4 * 7 * 2 * 2, 2 * 4 * 7 * 2 * 2 * 4}),
    [](const ::testing::TestParamInfo<PaperGrid>& info) {
      std::string name = info.param.file;
      return name.substr(0, name.find('.'));
    });

}  // namespace
}  // namespace selectiv::engine
