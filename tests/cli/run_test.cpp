// SPDX-License-Identifier: BSD-3-Clause
// `selectiv run` through the binary: the embedded pipeline with small overrides produces the results table and
// files; a rerun reuses finished steps and reproduces the table; a dataset made from another config is not
// overwritten; bad keys exit 2 naming the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "support/testing.hpp"

namespace {

using selectiv::testing::CommandResult;

const std::string kSmall =
    " --set task.splits.train_size=128 --set task.splits.test_size=32 --set train.steps=8 --set train.eval_every=8"
    " --set train.warmup=2"
    " --set models=[gla]";

CommandResult run_selectiv(const std::string& args) {
  return selectiv::testing::run_command(std::string(SELECTIV_BINARY) + " " + args);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST(Run, EmbeddedPipelineWritesTheResultsAndRerunsFromCache) {
  const std::string out = ::testing::TempDir() + "/selectiv_run_test";
  std::filesystem::remove_all(out);
  CommandResult first = run_selectiv("run --out " + out + kSmall);
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.out.find("| gla |"), std::string::npos) << first.out;
  for (const char* f : {"/results.md", "/results.csv", "/results.json", "/data/train.h5", "/data/test.h5",
                        "/gla/checkpoint.h5", "/gla/metrics.json", "/gla/selectivity.json"}) {
    EXPECT_TRUE(std::filesystem::exists(out + f)) << f;
  }
  nlohmann::json results = nlohmann::json::parse(read_file(out + "/results.json"));
  ASSERT_EQ(results.size(), 1u);
  const double oracle = results[0].at("oracle_accuracy").get<double>();
  EXPECT_GT(oracle, results[0].at("memoryless_accuracy").get<double>());
  EXPECT_LE(oracle, 1.0);

  const std::string table = read_file(out + "/results.md");
  CommandResult second = run_selectiv("run --out " + out + kSmall);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_NE(second.err.find("reusing"), std::string::npos) << second.err;
  EXPECT_EQ(read_file(out + "/results.md"), table);

  // The same folder with another task config: the existing dataset is not overwritten.
  CommandResult other = run_selectiv("run --out " + out + kSmall + " --set task.seed=2");
  EXPECT_EQ(other.code, 2) << other.err;
  EXPECT_NE(other.err.find("train.h5: exists with another task config"), std::string::npos) << other.err;
}

TEST(Run, UnknownKeyUnknownModelAndImpossibleScheduleExitTwo) {
  CommandResult bad_key = run_selectiv("run --out " + ::testing::TempDir() + "/selectiv_run_bad --set train.lrr=1");
  EXPECT_EQ(bad_key.code, 2);
  EXPECT_NE(bad_key.err.find("train.lrr: unknown key"), std::string::npos) << bad_key.err;
  CommandResult bad_model = run_selectiv("run --out " + ::testing::TempDir() + "/selectiv_run_bad --set models=[rnn]");
  EXPECT_EQ(bad_model.code, 2);
  EXPECT_NE(bad_model.err.find("unknown model 'rnn'"), std::string::npos) << bad_model.err;
  CommandResult bad_warmup = run_selectiv("run --out " + ::testing::TempDir() + "/selectiv_run_warmup" + kSmall +
                                          " --set train.warmup=8");
  EXPECT_EQ(bad_warmup.code, 2);
  EXPECT_NE(bad_warmup.err.find("warmup = 8 updates must be fewer than the run's 8 updates"), std::string::npos)
      << bad_warmup.err;
}
