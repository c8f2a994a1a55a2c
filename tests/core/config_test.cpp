// SPDX-License-Identifier: BSD-3-Clause
// Strict config loading: typed values, defaults, nested sections, overrides, and errors that name the key path and
// file:line:col (exit code 2).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>

#include "core/config.hpp"
#include "core/error.hpp"

namespace selectiv {
namespace {

struct Optimizer {
  double lr = 1e-3;
  std::int64_t warmup = 1000;
  void read(ConfigReader& r) {
    r.read("lr", lr, Bounds<double>{0.0, 1.0});
    r.read("warmup", warmup, Bounds<std::int64_t>{0, {}});
    r.finish();
  }
};

struct RunConfig {
  std::string model = "gla";
  int layers = 8;
  bool save = false;
  std::vector<int> seeds;
  Optimizer optimizer;
  void read(ConfigReader& r) {
    r.require("model", model, OneOf{"gla", "transformer"});
    r.read("layers", layers, Bounds<int>{1, 64});
    r.read("save", save);
    r.read("seeds", seeds);
    r.section("optimizer", optimizer);
    r.finish();
  }
};

RunConfig load(const std::string& text, const std::vector<std::string>& sets = {}) {
  ConfigDocument doc = ConfigDocument::parse(text, "run.yaml");
  for (const auto& s : sets) doc.apply_override(s);
  RunConfig run;
  ConfigReader reader = doc.reader();
  run.read(reader);
  return run;
}

std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    load(text, sets);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInvalidInput) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return "";
}

}  // namespace

TEST(Config, ReadsTypedValuesDefaultsAndSections) {
  RunConfig run = load("model: transformer\nseeds: [1, 2, 3]\noptimizer:\n  lr: 0.002\n");
  EXPECT_EQ(run.model, "transformer");
  EXPECT_EQ(run.layers, 8);  // default kept
  EXPECT_EQ(run.seeds, (std::vector<int>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(run.optimizer.lr, 0.002);
  EXPECT_EQ(run.optimizer.warmup, 1000);
}

TEST(Config, UnknownKeyNamesPathAndFileLineColumn) {
  EXPECT_EQ(error_of("model: gla\noptimizer:\n  lr: 0.1\n  momentum: 0.9\n"),
            "run.yaml:4:3: optimizer.momentum: unknown key (known keys here: lr, warmup)");
}

TEST(Config, WrongTypeNamesPathAndFileLineColumn) {
  EXPECT_EQ(error_of("model: gla\nlayers: eight\n"), "run.yaml:2:9: layers: expected an integer, got 'eight'");
  EXPECT_EQ(error_of("model: gla\nseeds: 3\n"), "run.yaml:2:8: seeds: expected a list");
  EXPECT_EQ(error_of("model: gla\nseeds: [1, x]\n"), "run.yaml:2:12: seeds[1]: expected an integer, got 'x'");
  EXPECT_EQ(error_of("model: gla\noptimizer: 3\n"), "run.yaml:2:12: optimizer: expected a mapping of keys");
}

TEST(Config, OutOfRangeNamesPathAndFileLineColumn) {
  EXPECT_EQ(error_of("model: gla\nlayers: 0\n"), "run.yaml:2:9: layers: value 0 is out of range [1, 64]");
  EXPECT_EQ(error_of("model: gla\noptimizer: {warmup: -1}\n"),
            "run.yaml:2:21: optimizer.warmup: value -1 is out of range [0, inf]");
  EXPECT_EQ(error_of("model: mamba9\n"), "run.yaml:1:8: model: 'mamba9' is not one of gla, transformer");
}

TEST(Config, MissingRequiredKeyAndSyntaxErrors) {
  EXPECT_EQ(error_of("layers: 2\n"), "run.yaml:1:1: <top level>: required key 'model' is missing");
  EXPECT_EQ(error_of("model: [gla\n"), "run.yaml:2:1: YAML syntax error: end of sequence flow not found");
}

TEST(Config, SetOverridesValuesAndCreatesSections) {
  RunConfig run = load("model: gla\nlayers: 2\n", {"layers=4", "optimizer.lr=5e-4", "seeds=[7]"});
  EXPECT_EQ(run.layers, 4);
  EXPECT_DOUBLE_EQ(run.optimizer.lr, 5e-4);
  EXPECT_EQ(run.seeds, (std::vector<int>{7}));
}

TEST(Config, ErrorsInOverridesNameTheSetArgument) {
  EXPECT_EQ(error_of("model: gla\n", {"optimizer.lr=2"}),
            "--set optimizer.lr=2: optimizer.lr: value 2 is out of range [0, 1]");
  EXPECT_EQ(error_of("model: gla\n", {"optimizer.beta=2"}).rfind("--set optimizer.beta=2: optimizer.beta: unknown key",
                                                               0),
            0u);
  EXPECT_EQ(error_of("model: gla\n", {"nonsense"}), "--set nonsense: expected key.path=value");
}

TEST(Config, LoadFileReportsMissingFileAndUsesItsPath) {
  std::string path = ::testing::TempDir() + "/selectiv_config_test.yaml";
  std::ofstream(path) << "model: gla\nlayers: 100\n";
  ConfigDocument doc = ConfigDocument::load_file(path);
  RunConfig run;
  ConfigReader reader = doc.reader();
  try {
    run.read(reader);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), path + ":2:9: layers: value 100 is out of range [1, 64]");
  }
  try {
    ConfigDocument::load_file(path + ".absent");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInvalidInput);
    EXPECT_EQ(std::string(e.what()), path + ".absent: cannot open config file");
  }
}

}  // namespace selectiv
