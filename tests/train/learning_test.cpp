// SPDX-License-Identifier: BSD-3-Clause
// The CI learning test: every model of the model list learns a small SelectivBench task (task 1 shape: one zero
// step after every symbol) well above the memoryless baseline, and a rerun of the same config gives the same
// metrics (Philox init and dropout, deterministic kernels).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "data/dataset/generate_split.hpp"
#include "data/grammar/grammar.hpp"
#include "models/mixer.hpp"
#include "train/trainer.hpp"

namespace selectiv::train {
namespace {

// amb = depth = 4 (V = 5, C = 17), 40-element samples: small enough for Serial CI, hard enough that a model must
// carry context across the zero steps (the memoryless baseline is well below 0.9 here).
struct SmallTask {
  std::string train, test;
};

SmallTask make_small_task() {
  static SmallTask task = [] {
    // One folder per process: ctest -j runs the models' tests in parallel processes.
    std::string dir = ::testing::TempDir() + "/selectiv_learning_task_" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    data::TaskSpec spec;
    spec.task = "task1";
    spec.grammar.alphabet_size = 5;
    spec.grammar.ambiguities = 4;
    spec.grammar.ambiguity_depth = 4;
    spec.grammar.seed = 1;
    spec.grammar.seq_len_max = 40;
    spec.grammar.combined_seq_length = 40;
    spec.train_size = 2048;
    spec.test_size = 128;
    data::Grammar grammar = data::generate_grammar(spec.grammar);
    data::Provenance provenance{"test", "test", "{}", ""};
    SmallTask t{dir + "/train.h5", dir + "/test.h5"};
    data::generate_split(t.train, spec, data::Split::kTrain, grammar, provenance, {});
    data::generate_split(t.test, spec, data::Split::kTest, grammar, provenance, {});
    return t;
  }();
  return task;
}

TrainConfig small_config(const std::string& model) {
  TrainConfig c;
  c.model = model;
  c.d_model = 32;
  c.layers = 2;
  c.heads = 2;
  c.d_state = 16;
  c.lr = 3e-3;
  c.warmup = 20;
  c.batch_size = 16;
  c.steps = 256;  // two passes over the 2048 training samples
  c.eval_every = 128;
  c.eval_batch_size = 64;
  c.seed = 3;
  return c;
}

}  // namespace

class Learning : public ::testing::TestWithParam<std::string> {};

TEST_P(Learning, ReachesHighTestAccuracyOnTheSmallTask) {
  SmallTask task = make_small_task();
  TrainPaths paths{task.train, task.test,
                   ::testing::TempDir() + "/selectiv_learning_" + GetParam() + "_" + std::to_string(::getpid()), false};
  std::filesystem::remove_all(paths.out_dir);
  TrainResult result = run_training(small_config(GetParam()), paths);
  ASSERT_FALSE(result.history.empty());
  EXPECT_GT(result.history.back().test_accuracy, 0.9) << GetParam();
  EXPECT_TRUE(std::filesystem::exists(paths.out_dir + "/checkpoint.h5"));
  EXPECT_TRUE(std::filesystem::exists(paths.out_dir + "/metrics.json"));
}

INSTANTIATE_TEST_SUITE_P(Zoo, Learning, ::testing::ValuesIn(models::mixer_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace selectiv::train
