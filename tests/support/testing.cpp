// SPDX-License-Identifier: BSD-3-Clause
#include "testing.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace selectiv::testing {

double err_ratio(const std::vector<double>& ref, const std::vector<double>& out) {
  EXPECT_EQ(ref.size(), out.size());
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < ref.size() && i < out.size(); ++i) {
    diff += (ref[i] - out[i]) * (ref[i] - out[i]);
    norm += ref[i] * ref[i];
  }
  if (ref.size() != out.size()) return INFINITY;
  if (norm == 0.0) return std::sqrt(diff / std::max<std::size_t>(1, ref.size()));
  return std::sqrt(diff / norm);
}

double err_ratio(const std::vector<float>& ref, const std::vector<float>& out) {
  return err_ratio(std::vector<double>(ref.begin(), ref.end()), std::vector<double>(out.begin(), out.end()));
}

std::vector<double> finite_difference_gradient(const std::function<double(const std::vector<double>&)>& f,
                                               std::vector<double> x, double h) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    double saved = x[i];
    x[i] = saved + h;
    double up = f(x);
    x[i] = saved - h;
    double down = f(x);
    x[i] = saved;
    g[i] = (up - down) / (2.0 * h);
  }
  return g;
}

std::string golden_path(const std::string& relative) {
  const char* env = std::getenv("SELECTIV_GOLDEN_DIR");
  std::string root = env && *env ? env : SELECTIV_GOLDEN_DIR;
  std::string path = root + "/" + relative;
  if (!std::ifstream(path).good()) {
    ADD_FAILURE() << "golden file " << path << " is missing (set SELECTIV_GOLDEN_DIR or put ../shared/golden "
                  << "beside the checkout)";
    return "";
  }
  return path;
}

CommandResult run_command(const std::string& command) {
  static std::atomic<int> counter{0};
  const std::string err_file = ::testing::TempDir() + "/selectiv_stderr_" + std::to_string(::getpid()) + "_" +
                               std::to_string(counter++) + ".txt";
  CommandResult r;
  std::FILE* pipe = popen((command + " 2>" + err_file).c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_file, std::ios::binary);
  r.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  std::remove(err_file.c_str());
  return r;
}

}  // namespace selectiv::testing
