// SPDX-License-Identifier: BSD-3-Clause
// The `selectiv` binary as a user meets it: exit codes, one-line errors, --help, --version, info.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "kernels/common/precision.hpp"
#include "support/testing.hpp"

namespace {

using Result = selectiv::testing::CommandResult;

Result run_selectiv(const std::string& args) {
  return selectiv::testing::run_command(std::string(SELECTIV_BINARY) + " " + args);
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

TEST(Cli, UnknownFlagExitsTwoWithOneLineError) {
  Result r = run_selectiv("--bogus");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Cli, UnknownSubcommandAndMissingSubcommandExitTwo) {
  EXPECT_EQ(run_selectiv("frobnicate").code, 2);
  EXPECT_EQ(run_selectiv("").code, 2);
  EXPECT_EQ(run_selectiv("info --bogus").code, 2);
}

TEST(Cli, HelpExitsZeroOnEveryCommand) {
  for (const char* args : {"--help", "info --help"}) {
    Result r = run_selectiv(args);
    EXPECT_EQ(r.code, 0) << args;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << args << ": " << r.out;
  }
}

TEST(Cli, VersionPrintsToolVersionAndGitHash) {
  Result r = run_selectiv("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("selectiv 0.", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("(git "), std::string::npos) << r.out;
}

TEST(Cli, InfoShowsBackendDeviceHdf5AndMpi) {
  Result r = run_selectiv("info");
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* key : {"kokkos ", "backends ", "default space ", "device ", "hdf5 ", "mpi "}) {
    EXPECT_NE(r.out.find(key), std::string::npos) << key << " missing in:\n" << r.out;
  }
#if defined(KOKKOS_ENABLE_CUDA)
  EXPECT_NE(r.out.find("Cuda"), std::string::npos) << r.out;
#endif
}

TEST(Cli, BenchReportsTheStepAndWithProfileEveryKernel) {
  Result r = run_selectiv("bench --model gla --d 16 --T 20 --batch 2 --layers 1 --classes 7 --warmup 0 --steps 2 "
                          "--profile 1");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("model gla d 16 T 20 batch 2 layers 1"), std::string::npos) << r.out;
  // without --precision: the precision a training run gets (auto)
  const std::string precision =
      std::string("precision ") + selectiv::matmul_precision_name(selectiv::default_matmul_precision()) + ":";
  EXPECT_NE(r.out.find(precision), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("allocations/step"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("profile (1 fenced steps)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("selectiv::gla::chunked_bwd::dqk_inter"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("selectiv::gemm[NT 40x16x41]"), std::string::npos) << r.out;  // the encoder's product
  Result bad = run_selectiv("bench --model rnn");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--model rnn"), std::string::npos) << bad.err;
}
