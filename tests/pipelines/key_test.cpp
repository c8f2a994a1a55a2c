// SPDX-License-Identifier: BSD-3-Clause
// Instance keys: equal to the SHA-256 of the identity object's canonical JSON (an independent assembly through
// nlohmann::json + canonical_json); stable for equal inputs whatever the key order or spelling of the YAML; different
// when any parameter, input key, code version or backend changes; and Merkle-like: a changed task spec changes the
// keys of every instance downstream of it, and only those.
#include <gtest/gtest.h>

#include "core/hash.hpp"
#include "pipelines/engine/instance.hpp"
#include "tests/pipelines/fixtures.hpp"

namespace selectiv::engine {
namespace {

using testing::plan_of;
using testing::small_pipeline;

TEST(Key, IsTheSha256OfTheCanonicalIdentity) {
  const nlohmann::json params = {{"lr", 0.001}, {"model", "gla"}, {"nested", {{"b", 1}, {"a", "x\"y"}}}};
  const std::vector<std::string> inputs = {std::string(64, 'a'), std::string(64, 'b')};
  const nlohmann::json identity = {
      {"stage", "train"}, {"params", params}, {"inputs", inputs}, {"code", "1.2+abc"}, {"backend", "OpenMP"}};
  EXPECT_EQ(instance_key(Stage::kTrain, canonical_json(params), inputs, "1.2+abc", "OpenMP"),
            sha256_hex(canonical_json(identity)));
  EXPECT_EQ(instance_key(Stage::kReport, "{}", {}, "v", "host"),
            sha256_hex(R"({"backend":"host","code":"v","inputs":[],"params":{},"stage":"report"})"));
}

TEST(Key, SensitiveToEveryPartOfTheIdentity) {
  const std::string p = canonical_json(nlohmann::json{{"lr", 0.001}});
  const std::vector<std::string> in = {std::string(64, 'a')};
  const std::string base = instance_key(Stage::kTrain, p, in, "v1", "Serial");
  EXPECT_NE(base, instance_key(Stage::kEvaluate, p, in, "v1", "Serial"));
  EXPECT_NE(base, instance_key(Stage::kTrain, canonical_json(nlohmann::json{{"lr", 0.002}}), in, "v1", "Serial"));
  EXPECT_NE(base, instance_key(Stage::kTrain, p, {std::string(64, 'b')}, "v1", "Serial"));
  EXPECT_NE(base, instance_key(Stage::kTrain, p, {}, "v1", "Serial"));
  EXPECT_NE(base, instance_key(Stage::kTrain, p, in, "v2", "Serial"));
  EXPECT_NE(base, instance_key(Stage::kTrain, p, in, "v1", "Cuda"));
  EXPECT_EQ(base, instance_key(Stage::kTrain, p, in, "v1", "Serial"));
}

std::vector<std::string> keys_of(const Plan& plan) {
  std::vector<std::string> keys;
  for (const Instance& i : plan.instances) keys.push_back(i.key);
  return keys;
}

TEST(Key, StableAcrossSpellingsAndOrderOfTheYaml) {
  const std::string grid = "grid:\n  model: [gla, transformer]\n  seed: [1, 2]\n";
  const Plan a = plan_of(small_pipeline(grid));
  const Plan b = plan_of(small_pipeline(grid));
  EXPECT_EQ(keys_of(a), keys_of(b));
  // The same train config written with other key order and number spellings.
  const std::string reordered =
      "name: small\n"
      "train: {steps: 8, eval_every: 8, d_state: 8, batch_size: 8, warmup: 2, lr: 3.0e-3, layers: 1, d_model: 16}\n"
      "task:\n"
      "  gaps: {test: 0.1, train_max: 0.1, train_min: 0.1, kind: zeros}\n"
      "  splits: {heldout_size: 0, test_size: 16, train_size: 64}\n"
      "  grammar: {combined_seq_length: 20, seq_len_max: 20, ambiguity_depth: 4, ambiguities: 4}\n"
      "  seed: 1\n"
      "  task: tiny\n" +
      grid;
  EXPECT_EQ(keys_of(plan_of(reordered)), keys_of(a));
}

TEST(Key, AChangeReachesExactlyTheInstancesDownstream) {
  const std::string grid = "grid:\n  model: [gla, transformer]\n  seed: [1, 2]\n";
  const Plan a = plan_of(small_pipeline(grid));
  // The test gap only shapes the datasets: every instance changes (all read a dataset), via the input keys.
  const Plan gap = plan_of(small_pipeline(grid), {"task.gaps.test=0.2"});
  ASSERT_EQ(gap.instances.size(), a.instances.size());
  for (std::size_t i = 0; i < a.instances.size(); ++i) EXPECT_NE(gap.instances[i].key, a.instances[i].key) << i;
  // lr only shapes training: datasets keep their keys, trains / evaluations / report change.
  const Plan lr = plan_of(small_pipeline(grid), {"train.lr=0.002"});
  for (std::size_t i = 0; i < a.instances.size(); ++i) {
    const bool generate = a.instances[i].stage == Stage::kGenerate;
    EXPECT_EQ(lr.instances[i].key == a.instances[i].key, generate) << a.instances[i].label;
  }
  // A value only one grid point uses changes only that point's instances (and the report).
  const Plan one = plan_of(small_pipeline("grid:\n  model: [gla, transformer]\n  seed: [1, 3]\n"));
  std::size_t changed = 0;
  for (std::size_t i = 0; i < a.instances.size(); ++i) {
    if (one.instances[i].key != a.instances[i].key) ++changed;
  }
  // seed 2 -> 3: its generate, 2 trains, 2 evaluations, and the report.
  EXPECT_EQ(changed, 1u + 2u + 2u + 1u);
}

TEST(Key, GenerateDoesNotDependOnTheBackendTrainDoes) {
  PipelineFile file = testing::read_pipeline(small_pipeline("grid:\n  model: [gla]\n"));
  const Expansion e = expand_grid(file);
  const Plan serial = build_plan(file, e, {"v", "Serial"});
  const Plan cuda = build_plan(file, e, {"v", "Cuda"});
  for (std::size_t i = 0; i < serial.instances.size(); ++i) {
    EXPECT_EQ(serial.instances[i].key == cuda.instances[i].key, serial.instances[i].stage == Stage::kGenerate);
  }
}

}  // namespace
}  // namespace selectiv::engine
