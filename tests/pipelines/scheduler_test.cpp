// SPDX-License-Identifier: BSD-3-Clause
// The scheduler against a real store with stand-in stage actions (they write their declared outputs and record the
// order they ran in): dependency order; a rerun runs nothing; a partial folder is redone; a deleted output reruns
// that instance and the instances downstream of it, nothing else; a failure blocks only its users; an instance
// locked by a live worker is waited for; shards are disjoint and together cover the plan; the rerun check of the
// largest paper pipeline (task1_complexity, 21 197 instances) finished takes under a second.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <unistd.h>

#include "pipelines/engine/lock.hpp"
#include "pipelines/engine/plan_index.hpp"
#include "pipelines/engine/scheduler.hpp"
#include "pipelines/engine/shard.hpp"
#include "pipelines/engine/store.hpp"
#include "tests/pipelines/fixtures.hpp"

namespace selectiv::engine {
namespace {

using testing::plan_of;
using testing::small_pipeline;

const std::string kGrid = "grid:\n  model: [gla, transformer]\n  seed: [1, 2]\n";

// Writes every declared output; remembers the labels it ran, in order.
struct Recorder {
  std::vector<std::string> ran;
  std::set<std::string> fail;  // labels that throw
  StageAction action() {
    return [this](const StageContext& ctx) {
      const Instance& inst = ctx.instance();
      for (std::size_t k = 0; k < inst.inputs.size(); ++k) {
        EXPECT_TRUE(file_exists(ctx.input_dir(k) + "/manifest.json")) << inst.label << " ran before its input";
      }
      ran.push_back(inst.label);
      if (fail.count(inst.label)) throw Error(ExitCode::kInvalidInput, "planned failure");
      for (const std::string& out : inst.outputs) std::ofstream(ctx.dir + "/" + out) << inst.label;
      return nlohmann::json::object();
    };
  }
};

std::vector<bool> all_of(const Plan& plan) { return std::vector<bool>(plan.instances.size(), true); }

TEST(Scheduler, RunsInDependencyOrderThenNothing) {
  const Plan plan = plan_of(small_pipeline(kGrid));
  const Store store(testing::fresh_dir("sched_order"));
  Recorder rec;
  RunSummary first = run_instances(plan, store, all_of(plan), rec.action());
  EXPECT_EQ(first.ran, plan.instances.size());
  EXPECT_EQ(first.code, ExitCode::kOk);
  for (const Instance& i : plan.instances) {
    EXPECT_TRUE(store.complete(i)) << i.label;
    EXPECT_FALSE(file_exists(store.lock_path(i))) << i.label;
    const nlohmann::json m = store.read_manifest(stage_name(i.stage), i.key);
    EXPECT_EQ(m.at("key"), i.key);
    EXPECT_EQ(m.at("params"), *i.params);
    ASSERT_EQ(m.at("outputs").size(), i.outputs.size());
    for (const auto& o : m.at("outputs")) {
      EXPECT_EQ(o.at("sha256"), sha256_of_file(store.dir(i) + "/" + o.at("file").get<std::string>()));
    }
  }
  rec.ran.clear();
  RunSummary second = run_instances(plan, store, all_of(plan), rec.action());
  EXPECT_EQ(second.ran, 0u);
  EXPECT_EQ(second.reused, plan.instances.size());
  EXPECT_TRUE(rec.ran.empty());
}

TEST(Scheduler, PartialAndDeletedOutputsRerunWithWhatIsDownstream) {
  const Plan plan = plan_of(small_pipeline(kGrid));
  const Store store(testing::fresh_dir("sched_partial"));
  Recorder rec;
  run_instances(plan, store, all_of(plan), rec.action());
  // A train folder without manifest (killed run) and a deleted evaluation output.
  std::size_t train = 0, evaluate = 0;
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    if (plan.instances[i].label == "train@model=transformer,seed=1") train = i;
    if (plan.instances[i].label == "evaluate@model=gla,seed=2,set=test") evaluate = i;
  }
  std::filesystem::remove(store.manifest_path(plan.instances[train]));
  std::ofstream(store.dir(plan.instances[train]) + "/leftover.tmp") << "partial";
  std::filesystem::remove(store.dir(plan.instances[evaluate]) + "/evaluation.json");
  EXPECT_EQ(store.completion(plan.instances[train]), Completion::kPartial);
  EXPECT_EQ(store.completion(plan.instances[evaluate]), Completion::kPartial);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // distinct manifest times
  rec.ran.clear();
  RunSummary again = run_instances(plan, store, all_of(plan), rec.action());
  // In plan order: the deleted evaluation, the killed train, the evaluation downstream of it, the report.
  const std::vector<std::string> expected = {"evaluate@model=gla,seed=2,set=test", "train@model=transformer,seed=1",
                                             "evaluate@model=transformer,seed=1,set=test", "report@small"};
  EXPECT_EQ(rec.ran, expected);
  EXPECT_EQ(again.ran, expected.size());
  EXPECT_FALSE(file_exists(store.dir(plan.instances[train]) + "/leftover.tmp"));
}

TEST(Scheduler, AFailureBlocksOnlyItsUsers) {
  const Plan plan = plan_of(small_pipeline(kGrid));
  const Store store(testing::fresh_dir("sched_fail"));
  Recorder rec;
  rec.fail = {"train@model=gla,seed=2"};
  RunSummary s = run_instances(plan, store, all_of(plan), rec.action());
  EXPECT_EQ(s.code, ExitCode::kInvalidInput);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.blocked, 2u);  // its evaluation and the report
  EXPECT_EQ(s.ran, plan.instances.size() - 3);
  for (const Instance& i : plan.instances) {
    const bool downstream = i.label == "train@model=gla,seed=2" || i.label == "evaluate@model=gla,seed=2,set=test" ||
                            i.stage == Stage::kReport;
    EXPECT_EQ(store.complete(i), !downstream) << i.label;
  }
  // The failed folder is partial: the next run redoes it and what it blocked.
  rec.fail.clear();
  rec.ran.clear();
  EXPECT_EQ(run_instances(plan, store, all_of(plan), rec.action()).ran, 3u);
}

TEST(Scheduler, WaitsForAnInstanceLockedByALiveWorker) {
  const Plan plan = plan_of(small_pipeline("grid:\n  model: [gla]\n"));
  const Store store(testing::fresh_dir("sched_wait"));
  store.ensure_layout();
  const Instance& generate = plan.instances[0];
  ASSERT_EQ(generate.stage, Stage::kGenerate);
  // Another worker (a thread of this live process) holds the generate lock, then finishes it and lets go.
  InstanceLock held = InstanceLock::try_acquire(store.lock_path(generate));
  ASSERT_TRUE(held.held());
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    store.prepare(generate);
    for (const std::string& out : generate.outputs) std::ofstream(store.dir(generate) + "/" + out) << "other";
    store.publish(plan, 0, nlohmann::json::object(), 0.0, 0.0);
    held.release();
  });
  Recorder rec;
  const auto start = std::chrono::steady_clock::now();
  RunSummary s = run_instances(plan, store, all_of(plan), rec.action());
  other.join();
  EXPECT_GE(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.25);
  EXPECT_EQ(s.reused, 1u);  // the generate, done by the other worker
  EXPECT_EQ(s.ran, plan.instances.size() - 1);
  EXPECT_EQ(std::count(rec.ran.begin(), rec.ran.end(), generate.label), 0);
}

TEST(Shard, DisjointUnitsThatCoverThePlan) {
  const Plan plan = plan_of(small_pipeline("grid:\n  model: [gla, transformer, mamba]\n  seed: [1, 2]\n"));
  const std::size_t n = 4;
  std::vector<std::size_t> owners(plan.instances.size(), 0);
  for (std::size_t s = 0; s < n; ++s) {
    const std::vector<bool> wanted = select_shard(plan, Shard{s, n, "test"});
    for (std::size_t i = 0; i < plan.instances.size(); ++i) {
      const Instance& inst = plan.instances[i];
      if (!wanted[i]) continue;
      ++owners[i];
      if (inst.unit != kNoUnit) EXPECT_EQ(inst.unit % n, s) << inst.label;
      for (std::size_t in : inst.inputs) EXPECT_TRUE(wanted[in]) << inst.label;  // closed under inputs
    }
  }
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    const Instance& inst = plan.instances[i];
    if (inst.stage == Stage::kReport) EXPECT_EQ(owners[i], 0u);
    else if (inst.stage == Stage::kGenerate) EXPECT_GE(owners[i], 1u) << inst.label;  // shared input
    else EXPECT_EQ(owners[i], 1u) << inst.label;  // train and evaluate: exactly one shard
  }
}

TEST(Shard, ParsesAndRefusesBadSpecs) {
  const Shard s = parse_shard("2/5");
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 5u);
  for (const char* bad : {"5/5", "1", "-1/3", "a/b", "1/0", "/3"}) {
    EXPECT_THROW(parse_shard(bad), Error) << bad;
  }
}

TEST(Shard, SequentialShardsMakeTheSingleProcessResult) {
  const Plan plan = plan_of(small_pipeline(kGrid));
  const Store sharded(testing::fresh_dir("sched_shards")), single(testing::fresh_dir("sched_single"));
  Recorder rec;
  for (std::size_t s = 0; s < 3; ++s) run_instances(plan, sharded, select_shard(plan, Shard{s, 3, "test"}), rec.action());
  // Every instance ran once, the report aside (no shard owns it).
  std::multiset<std::string> ran(rec.ran.begin(), rec.ran.end());
  for (const Instance& i : plan.instances) {
    EXPECT_EQ(ran.count(i.label), i.stage == Stage::kReport ? 0u : 1u) << i.label;
  }
  Recorder whole;
  run_instances(plan, single, all_of(plan), whole.action());
  for (const Instance& i : plan.instances) {
    if (i.stage == Stage::kReport) continue;
    for (const std::string& out : i.outputs) {
      EXPECT_EQ(sha256_of_file(sharded.dir(i) + "/" + out), sha256_of_file(single.dir(i) + "/" + out)) << i.label;
    }
  }
}

TEST(RerunCheck, FinishedTask1ComplexityIsCheckedInUnderASecond) {
  const std::string path = std::string(SELECTIV_SOURCE_DIR) + "/pipelines/task1_complexity.yaml";
  const CodeIdentity code = CodeIdentity::of_this_build();
  const Plan plan = [&] {
    ConfigDocument doc = ConfigDocument::load_file(path);
    PipelineFile file = PipelineFile::read(doc, path);
    return build_plan(file, expand_grid(file), code);
  }();
  // A finished store: every instance's folder with its manifest and declared outputs (empty files), on tmpfs when
  // there is one (making 21 197 folders on a disk-backed /tmp takes far longer than the check itself), and the plan
  // index a finished run leaves.
  const bool shm = std::filesystem::is_directory("/dev/shm");
  const std::string root = shm ? "/dev/shm/selectiv_rerun_task1_" + std::to_string(::getpid())
                               : testing::fresh_dir("rerun_task1");
  const Store store(root);
  for (const Instance& i : plan.instances) {
    std::filesystem::create_directories(store.dir(i));
    for (const std::string& out : i.outputs) std::ofstream(store.dir(i) + "/" + out);
    std::ofstream(store.manifest_path(i)) << "{}";
  }
  write_plan_index(store, plan, plan_fingerprint(ConfigDocument::load_file(path), code));

  // The check as `selectiv run` makes it: read the file, fingerprint it, read the index, stat the store.
  const auto start = std::chrono::steady_clock::now();
  ConfigDocument doc = ConfigDocument::load_file(path);
  const PipelineFile file = PipelineFile::read(doc, path);
  const std::optional<Plan> recorded = read_plan_index(store, file.name, plan_fingerprint(doc, code));
  ASSERT_TRUE(recorded.has_value());
  EXPECT_TRUE(all_current(*recorded, store));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(recorded->instances.size(), plan.instances.size());
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    EXPECT_EQ(recorded->instances[i].key, plan.instances[i].key);
    EXPECT_EQ(recorded->instances[i].inputs, plan.instances[i].inputs);
    EXPECT_EQ(recorded->instances[i].outputs, plan.instances[i].outputs);
  }

  // Without the index (another code version, or an edited file): expand, key and check everything.
  const auto slow_start = std::chrono::steady_clock::now();
  const Plan again = build_plan(file, expand_grid(file), code);
  RunSummary s = run_instances(again, store, all_of(again), [](const StageContext& ctx) -> nlohmann::json {
    ADD_FAILURE() << ctx.instance().label << " ran";
    return {};
  });
  const double slow = std::chrono::duration<double>(std::chrono::steady_clock::now() - slow_start).count();
  EXPECT_EQ(s.reused, again.instances.size());
  std::printf("rerun check of a finished task1_complexity (%zu instances): %.3f s with the plan index, %.3f s "
              "expanding the grid again\n",
              plan.instances.size(), seconds, slow);
  EXPECT_LT(seconds, 1.0);
  // An edit of the file (any override) is another fingerprint: the index is not used.
  doc.apply_override("train.dropout=0.1");
  EXPECT_FALSE(read_plan_index(store, file.name, plan_fingerprint(doc, code)).has_value());
  std::filesystem::remove_all(store.root());
}

}  // namespace
}  // namespace selectiv::engine
