// SPDX-License-Identifier: BSD-3-Clause
// `selectiv evaluate` and `selectiv generalize` through the binary: a checkpoint trained for a few updates on the
// tiny spec is evaluated; the metrics HDF5 file and JSON summary agree with each other and with the printed table;
// bad inputs exit 2 naming what is wrong and write nothing; the generalisation curve has one row per test duration
// with the gap steps and sequence lengths the durations imply.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "data/h5/file.hpp"
#include "support/testing.hpp"

namespace {

using selectiv::testing::CommandResult;

const std::string kTiny = std::string(SELECTIV_SOURCE_DIR) + "/data/specs/tiny.yaml";
// 40-element samples: the checkpoint trains in a second and the durations below stay short.
const std::string kSmallSpec = " --set grammar.seq_len_max=40 --set grammar.combined_seq_length=40"
                               " --set splits.train_size=64 --set splits.test_size=12 --set splits.heldout_size=12";

CommandResult run_selectiv(const std::string& args) {
  return selectiv::testing::run_command(std::string(SELECTIV_BINARY) + " " + args);
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

// Generates the tiny data and trains a small GLA for 4 updates, once per test process.
const std::string& trained_dir() {
  static const std::string dir = [] {
    std::string d = ::testing::TempDir() + "/selectiv_cli_evaluate_" + std::to_string(::getpid());
    std::filesystem::remove_all(d);
    CommandResult g = run_selectiv("generate --config " + kTiny + kSmallSpec + " --out " + d + "/data");
    EXPECT_EQ(g.code, 0) << g.err;
    CommandResult t = run_selectiv("train --train " + d + "/data/train.h5 --test " + d + "/data/test.h5 --out " + d +
                                   "/model --set model=gla --set d_model=16 --set layers=1 --set heads=2"
                                   " --set steps=4 --set eval_every=4 --set batch_size=8 --set warmup=1");
    EXPECT_EQ(t.code, 0) << t.err;
    return d;
  }();
  return dir;
}

}  // namespace

TEST(Evaluate, WritesMetricsFileAndSummaryPerDataset) {
  const std::string d = trained_dir();
  const std::string out = d + "/eval";
  CommandResult r = run_selectiv("evaluate --checkpoint " + d + "/model/checkpoint.h5 --data " + d +
                                 "/data/test.h5 --data " + d + "/data/heldout.h5 --out " + out +
                                 " --batch-size 5 --max-tokens 50 --logit-rows 33");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* stem : {"test", "heldout"}) {
    const std::string prefix = out + "/" + stem + ".metrics";
    nlohmann::json j = read_json(prefix + ".json");
    selectiv::h5::File f = selectiv::h5::File::open_read_only(prefix + ".h5");
    EXPECT_DOUBLE_EQ(f.float_attribute("accuracy"), j.at("accuracy").get<double>()) << stem;
    EXPECT_DOUBLE_EQ(f.float_attribute("loss"), j.at("loss").get<double>()) << stem;
    EXPECT_EQ(f.int_attribute("samples"), 12) << stem;
    EXPECT_EQ(f.dataset("predictions").dims(), (std::vector<std::int64_t>{12, 40})) << stem;
    // Every element is counted once in each profile table.
    for (const char* table : {"by_gap", "by_context_needed", "by_position_decile"}) {
      std::int64_t total = 0;
      for (std::int64_t n : f.read<std::int64_t>(std::string("profile/") + table + "/total")) total += n;
      EXPECT_EQ(total, 12 * 40) << stem << " " << table;
    }
    const double oracle = j.at("oracle_accuracy").get<double>();
    EXPECT_GT(oracle, j.at("memoryless_accuracy").get<double>()) << stem;
    EXPECT_NE(r.out.find(std::string(stem) + ".h5"), std::string::npos) << r.out;
  }
  // Streaming limits do not change the result.
  CommandResult again = run_selectiv("evaluate --checkpoint " + d + "/model/checkpoint.h5 --data " + d +
                                     "/data/test.h5 --out " + out + "/whole --max-tokens 100000");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(read_json(out + "/whole/test.metrics.json").at("accuracy"),
            read_json(out + "/test.metrics.json").at("accuracy"));
}

TEST(Evaluate, BadInputExitsTwoAndWritesNothing) {
  const std::string d = trained_dir();
  const std::string out = d + "/bad";
  CommandResult missing = run_selectiv("evaluate --checkpoint " + d + "/model/checkpoint.h5 --data " + d +
                                       "/data/nope.h5 --out " + out);
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("nope.h5"), std::string::npos) << missing.err;
  // A dataset of another grammar size: its classes do not fit the model.
  CommandResult g = run_selectiv("generate --config " + kTiny + kSmallSpec +
                                 " --set grammar.ambiguities=6 --split test --out " + d + "/other");
  ASSERT_EQ(g.code, 0) << g.err;
  CommandResult wrong = run_selectiv("evaluate --checkpoint " + d + "/model/checkpoint.h5 --data " + d +
                                     "/other/test.h5 --out " + out);
  EXPECT_EQ(wrong.code, 2);
  EXPECT_NE(wrong.err.find("classes"), std::string::npos) << wrong.err;
  EXPECT_FALSE(std::filesystem::exists(out + "/test.metrics.json"));
  CommandResult zero = run_selectiv("evaluate --checkpoint " + d + "/model/checkpoint.h5 --data " + d +
                                    "/data/test.h5 --max-tokens 0");
  EXPECT_EQ(zero.code, 2);
  EXPECT_NE(zero.err.find("max-tokens"), std::string::npos) << zero.err;
}

TEST(Generalize, WritesOneCurveRowPerTestDuration) {
  const std::string d = trained_dir();
  const std::string out = d + "/curve";
  CommandResult r = run_selectiv("generalize --checkpoint " + d + "/model/checkpoint.h5 --config " + kTiny +
                                 kSmallSpec + " --test-dur 0.1,0.5,1 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json curve = read_json(out + "/curve.json").at("curve");
  ASSERT_EQ(curve.size(), 3u);
  const int gaps[] = {1, 5, 10};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(curve[i].at("gap_steps").get<int>(), gaps[i]);
    // Every element is its symbol step plus `gap` zero steps.
    EXPECT_EQ(curve[i].at("max_steps").get<int>(), 40 * (1 + gaps[i]));
    nlohmann::json m = read_json(out + "/" + curve[i].at("metrics").get<std::string>());
    EXPECT_EQ(m.at("accuracy"), curve[i].at("accuracy"));
    EXPECT_DOUBLE_EQ(m.at("test_gap").get<double>(), curve[i].at("test_dur").get<double>());
  }
  EXPECT_TRUE(std::filesystem::exists(out + "/curve.csv"));
  EXPECT_NE(r.out.find("| 0.5 | 5 | 240 |"), std::string::npos) << r.out;
  // A rerun reuses the generated test sets.
  CommandResult again = run_selectiv("generalize --checkpoint " + d + "/model/checkpoint.h5 --config " + kTiny +
                                     kSmallSpec + " --test-dur 0.1,0.5,1 --out " + out);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(read_json(out + "/curve.json").at("curve")[1].at("accuracy"), curve[1].at("accuracy"));
  CommandResult bad = run_selectiv("generalize --checkpoint " + d + "/model/checkpoint.h5 --config " + kTiny +
                                   kSmallSpec + " --test-dur -1 --out " + out + "2");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--test-dur"), std::string::npos) << bad.err;
}
