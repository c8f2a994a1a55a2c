// SPDX-License-Identifier: BSD-3-Clause
// Helpers every test uses: the scale-free error ratio, a central finite-difference gradient, golden data paths.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace selectiv::testing {

// rms(ref - out) / rms(ref); when ref is all zeros, rms(out) (so 0 still means equal).
double err_ratio(const std::vector<double>& ref, const std::vector<double>& out);
double err_ratio(const std::vector<float>& ref, const std::vector<float>& out);

// Central differences of a scalar function at x: g[i] = (f(x + h e_i) - f(x - h e_i)) / (2h).
std::vector<double> finite_difference_gradient(const std::function<double(const std::vector<double>&)>& f,
                                               std::vector<double> x, double h = 1e-6);

// Absolute path of ../shared/golden/<relative>. Fails the calling test (fatal) when the file is missing: a test
// that needs golden data never skips.
std::string golden_path(const std::string& relative);

}  // namespace selectiv::testing

// ASSERT that a golden file exists and bind its path.
#define SELECTIV_GOLDEN(var, relative)                         \
  std::string var = ::selectiv::testing::golden_path(relative); \
  ASSERT_FALSE(var.empty()) << "golden file missing: " << relative

namespace selectiv::testing {

struct CommandResult {
  int code = -1;     // exit status (-1 when the process did not exit normally)
  std::string out;   // stdout
  std::string err;   // stderr
};

// Runs `command` through the shell and captures its exit status, stdout and stderr.
CommandResult run_command(const std::string& command);

}  // namespace selectiv::testing
