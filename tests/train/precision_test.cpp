// SPDX-License-Identifier: BSD-3-Clause
// The run's matmul precision: "auto" resolves to the build's default, an explicit fp32 is always honoured, and tf32
// on a build without it stops the run with exit code 2 before anything is written.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.hpp"
#include "kernels/common/precision.hpp"
#include "train/trainer.hpp"

namespace selectiv::train {
namespace {

TEST(TrainPrecision, AutoIsTheBuildDefaultAndFp32IsAlwaysAvailable) {
  TrainConfig cfg;
  EXPECT_EQ(cfg.precision, "auto");
  EXPECT_EQ(cfg.apply_precision(), matmul_precision_name(default_matmul_precision()));
  cfg.precision = "fp32";
  EXPECT_EQ(cfg.apply_precision(), "fp32");
  EXPECT_EQ(cfg.to_json().at("precision"), "fp32");
}

TEST(TrainPrecision, UnavailableTf32StopsBeforeWritingAnything) {
  if (matmul_precision_available(MatmulPrecision::kTf32)) GTEST_SKIP() << "tf32 exists on this build";
  const std::filesystem::path out = std::filesystem::temp_directory_path() / "selectiv_precision_test_out";
  std::filesystem::remove_all(out);
  TrainConfig cfg;
  cfg.precision = "tf32";
  try {
    run_training(cfg, TrainPaths{"missing_train.h5", "missing_test.h5", out.string(), false});
    ADD_FAILURE() << "tf32 was accepted on a build without it";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("tf32 needs a CUDA build"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace selectiv::train
