// SPDX-License-Identifier: BSD-3-Clause
// The checking macro: exit code carried, message formatted, source location only on internal errors.
#include <gtest/gtest.h>

#include "core/error.hpp"

namespace selectiv {
namespace {
void check_positive(int n) { SELECTIV_REQUIRE(n > 0, ExitCode::kInvalidInput, "n = {} must be positive", n); }
void check_internal(bool ok) { SELECTIV_REQUIRE(ok, ExitCode::kFailure, "invariant broken"); }
}  // namespace

TEST(Error, InvalidInputCarriesCodeAndMessage) {
  check_positive(1);
  try {
    check_positive(-3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInvalidInput);
    EXPECT_STREQ(e.what(), "n = -3 must be positive");
  }
}

TEST(Error, InternalFailureNamesFunctionAndSourceLine) {
  try {
    check_internal(false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kFailure);
    std::string what = e.what();
    EXPECT_NE(what.find("invariant broken [check_internal at"), std::string::npos) << what;
    EXPECT_NE(what.find("error_test.cpp:"), std::string::npos) << what;
  }
}

TEST(Error, ExitCodesAreThoseOfTheDesign) {
  EXPECT_EQ(static_cast<int>(ExitCode::kOk), 0);
  EXPECT_EQ(static_cast<int>(ExitCode::kFailure), 1);
  EXPECT_EQ(static_cast<int>(ExitCode::kInvalidInput), 2);
  EXPECT_EQ(static_cast<int>(ExitCode::kDiverged), 3);
  EXPECT_EQ(static_cast<int>(ExitCode::kInterrupted), 75);
  EXPECT_STREQ(exit_code_name(ExitCode::kInterrupted), "interrupted");
}

}  // namespace selectiv
