// SPDX-License-Identifier: BSD-3-Clause
// `selectiv generate` through the binary: files per split that read back, provenance that hashes, byte-identical
// reruns, no overwriting without --force, and exit code 2 with the key and file:line:col for bad specs.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "core/hash.hpp"
#include "data/dataset/reader.hpp"
#include "support/testing.hpp"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

using Result = selectiv::testing::CommandResult;

Result run_selectiv(const std::string& args) {
  return selectiv::testing::run_command(std::string(SELECTIV_BINARY) + " " + args);
}

std::string fresh_dir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/selectiv_generate_" + std::to_string(::getpid()) + "_" + name;
  std::system(("rm -rf '" + dir + "'").c_str());
  return dir;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

const std::string kTiny = std::string(SELECTIV_SOURCE_DIR) + "/data/specs/tiny.yaml";

TEST(Generate, WritesEverySplitThatReadsBack) {
  std::string dir = fresh_dir("all");
  Result r = run_selectiv("generate --config " + kTiny + " --out " + dir + " --samples 40 --threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* split : {"train", "test", "heldout"}) {
    std::string path = dir + "/" + split + ".h5";
    EXPECT_NE(r.out.find(path), std::string::npos) << r.out;
    selectiv::data::DatasetReader reader(path);
    const auto& info = reader.info();
    EXPECT_EQ(selectiv::data::split_name(info.split), std::string(split));
    EXPECT_EQ(info.n_samples, 40);
    EXPECT_EQ(info.spec.task, "tiny");
    EXPECT_EQ(info.spec.grammar.ambiguities, 8);
    EXPECT_EQ(info.n_symbols, 9);
    EXPECT_EQ(info.n_classes, 65);
    EXPECT_EQ(info.max_steps, 400);  // task-1 gaps: one zero step per element
    // The stored hash is the SHA-256 of the stored canonical JSON, which holds the spec.
    EXPECT_EQ(info.provenance.config_sha256, selectiv::sha256_hex(info.provenance.config_json));
    nlohmann::json spec = nlohmann::json::parse(info.provenance.config_json);
    EXPECT_EQ(spec["grammar"]["ambiguity_depth"], 8);
    EXPECT_EQ(spec["gaps"]["kind"], "zeros");
    EXPECT_EQ(selectiv::canonical_json(spec), info.provenance.config_json);
    reader.read(0, 40);  // every value checks out
  }
  EXPECT_NE(r.err.find("generate train"), std::string::npos) << r.err;  // progress on stderr
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST(Generate, NeverOverwritesWithoutForceAndRerunsAreIdentical) {
  std::string dir = fresh_dir("force");
  std::string args = "generate --config " + kTiny + " --out " + dir + " --split test --samples 30";
  ASSERT_EQ(run_selectiv(args).code, 0);
  std::string first = read_file(dir + "/test.h5");
  Result again = run_selectiv(args);
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find(dir + "/test.h5"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  EXPECT_FALSE(exists(dir + "/train.h5"));  // only the asked split
  sleep(1);
  Result forced = run_selectiv(args + " --force --threads 1");
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_TRUE(read_file(dir + "/test.h5") == first) << "a rerun changed the bytes";
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST(Generate, OverridesChangeTheSpecAndItsHash) {
  std::string dir = fresh_dir("set");
  Result r = run_selectiv("generate --config " + kTiny + " --out " + dir +
                          " --split heldout --samples 5 --set grammar.ambiguities=4 --set grammar.ambiguity_depth=4"
                          " --set gaps.kind=distractors --set gaps.prob=0.5");
  ASSERT_EQ(r.code, 0) << r.err;
  selectiv::data::DatasetReader reader(dir + "/heldout.h5");
  EXPECT_EQ(reader.info().n_symbols, 5);
  EXPECT_EQ(reader.info().n_classes, 17);
  EXPECT_EQ(reader.info().first_index, 2000);
  EXPECT_EQ(reader.info().spec.gap_kind, selectiv::data::GapKind::kDistractors);
  EXPECT_GT(reader.info().n_distractors, 0);
  nlohmann::json spec = nlohmann::json::parse(reader.info().provenance.config_json);
  EXPECT_EQ(spec["gaps"]["prob"], 0.5);
  std::system(("rm -rf '" + dir + "'").c_str());
}

// A spec file in the temp folder, returning its path.
std::string spec_file(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/selectiv_generate_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

void expect_rejected(const std::string& args, const std::vector<std::string>& needles) {
  std::string dir = fresh_dir("bad");
  Result r = run_selectiv("generate " + args + " --out " + dir);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  for (const std::string& needle : needles) {
    EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.err;
  }
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(exists(dir + "/train.h5"));
}

TEST(Generate, BadSpecsExitTwoNamingTheKeyAndPlace) {
  const std::string base = "task: t\nseed: 3\ngrammar:\n  ambiguities: 4\n  ambiguity_depth: 4\n";
  std::string unknown = spec_file("unknown.yaml", base + "gaps:\n  kindd: zeros\n");
  expect_rejected("--config " + unknown, {unknown + ":7:3", "gaps.kindd", "unknown key"});
  std::string type = spec_file("type.yaml", base + "noise: loud\n");
  expect_rejected("--config " + type, {type + ":6:8", "noise", "loud"});
  std::string range = spec_file("range.yaml", base + "gaps:\n  prob: 1.5\n");
  expect_rejected("--config " + range, {range + ":7:9", "gaps.prob", "out of range"});
  std::string order = spec_file("order.yaml", base + "gaps:\n  train_min: 0.5\n  train_max: 0.2\n");
  expect_rejected("--config " + order, {order + ":8:14", "gaps.train_max"});
  std::string sizes = spec_file("sizes.yaml", base + "splits:\n  train_size: 10\n  test_size: 20\n");
  expect_rejected("--config " + sizes, {sizes + ":8:14", "splits.test_size"});
  std::string kind = spec_file("kind.yaml", base + "gaps:\n  kind: ones\n");
  expect_rejected("--config " + kind, {kind + ":7:9", "gaps.kind", "ones"});
  expect_rejected("--config " + kTiny + " --set grammar.bogus=1", {"--set grammar.bogus=1", "unknown key"});
  expect_rejected("--config " + kTiny + " --set grammar.ambiguities=60", {"grammar.ambiguities", "out of range"});
  expect_rejected("--config " + kTiny + " --samples 5000", {"--samples 5000", "2000"});
  expect_rejected("--config " + kTiny + " --split valid", {"--split"});
  expect_rejected("--config /nonexistent/spec.yaml", {"/nonexistent/spec.yaml"});
  expect_rejected("", {"--config"});
}

TEST(Generate, HelpExitsZero) {
  Result r = run_selectiv("generate --help");
  EXPECT_EQ(r.code, 0);
  for (const char* option : {"--config", "--out", "--set", "--split", "--samples", "--threads", "--force"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option << " missing in " << r.out;
  }
}

}  // namespace
