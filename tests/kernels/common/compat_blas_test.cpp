// SPDX-License-Identifier: BSD-3-Clause
// kc::gemm against a host triple loop in double: all four transpose combinations on odd shapes (including one-row,
// one-column and empty inner dimension), beta = 0 overwriting C, and shape errors.
#include "kernels/common/compat_blas.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "support/testing.hpp"

namespace selectiv {
namespace {

using selectiv::testing::err_ratio;

// Declared tolerance: fp32 products with inner dimension <= 23 against double.
constexpr double kGemmErrRatio = 1e-6;

std::vector<double> float_values(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<double> values(n);
  for (double& v : values) v = static_cast<double>(static_cast<float>(uniform(rng)));
  return values;
}

View2 to_device(const std::vector<double>& values, std::size_t rows, std::size_t cols) {
  View2 view("matrix", rows, cols);
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host.data()[i] = static_cast<float>(values[i]);
  Kokkos::deep_copy(view, host);
  return view;
}

std::vector<double> to_host(const View2& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.size());
}

struct GemmCase {
  int m, n, k;
};

// C = alpha op(A) op(B) + beta C on the host; A stored (k, m) when transposed, B stored (n, k) when transposed.
std::vector<double> host_gemm(bool ta, bool tb, double alpha, const std::vector<double>& a,
                              const std::vector<double>& b, double beta, const std::vector<double>& c,
                              const GemmCase& s) {
  std::vector<double> out(c.size());
  for (int i = 0; i < s.m; ++i) {
    for (int j = 0; j < s.n; ++j) {
      double acc = 0.0;
      for (int p = 0; p < s.k; ++p) {
        const double av = ta ? a[p * s.m + i] : a[i * s.k + p];
        const double bv = tb ? b[j * s.k + p] : b[p * s.n + j];
        acc += av * bv;
      }
      out[i * s.n + j] = alpha * acc + (beta == 0.0 ? 0.0 : beta * c[i * s.n + j]);
    }
  }
  return out;
}

void check_gemm(bool ta, bool tb, const GemmCase& s, double alpha, double beta, double c_fill) {
  SCOPED_TRACE(::testing::Message() << "trans " << (ta ? 'T' : 'N') << (tb ? 'T' : 'N') << " m=" << s.m << " n=" << s.n
                                    << " k=" << s.k << " beta=" << beta);
  const auto a = float_values(static_cast<std::size_t>(s.m) * s.k, 1 + s.m);
  const auto b = float_values(static_cast<std::size_t>(s.k) * s.n, 2 + s.n);
  auto c = float_values(static_cast<std::size_t>(s.m) * s.n, 3 + s.k);
  if (c_fill != 0.0) c.assign(c.size(), c_fill);
  View2 a_dev = ta ? to_device(a, s.k, s.m) : to_device(a, s.m, s.k);
  View2 b_dev = tb ? to_device(b, s.n, s.k) : to_device(b, s.k, s.n);
  View2 c_dev = to_device(c, s.m, s.n);
  kc::gemm(Exec(), ta ? "T" : "N", tb ? "T" : "N", static_cast<float>(alpha), a_dev, b_dev, static_cast<float>(beta),
           c_dev);
  const auto expected = host_gemm(ta, tb, alpha, a, b, beta, c, s);
  EXPECT_LE(err_ratio(expected, to_host(c_dev)), kGemmErrRatio);
}

const std::vector<GemmCase> kCases = {{7, 5, 13}, {1, 9, 4}, {6, 1, 1}, {11, 3, 23}, {1, 1, 7}};

}  // namespace

TEST(CompatBlas, GemmAllTransposesMatchHostLoop) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (const GemmCase& s : kCases) check_gemm(ta, tb, s, 0.75, -0.5, 0.0);
    }
  }
}

TEST(CompatBlas, GemmBetaZeroOverwritesC) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) check_gemm(ta, tb, {5, 4, 3}, 1.25, 0.0, 1e3);
  }
}

TEST(CompatBlas, GemmEmptyInnerDimensionScalesC) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      check_gemm(ta, tb, {4, 3, 0}, 2.0, -0.5, 0.0);
      check_gemm(ta, tb, {4, 3, 0}, 2.0, 0.0, 7.0);
    }
  }
}

TEST(CompatBlas, GemmRejectsMismatchedShapes) {
  View2 a("a", 3, 4), b("b", 5, 2), c("c", 3, 2);
  EXPECT_THROW(kc::gemm(Exec(), "N", "N", 1.0f, a, b, 0.0f, c), std::invalid_argument);  // k: 4 vs 5
  View2 b_ok("b", 4, 2), c_bad("c", 2, 2);
  EXPECT_THROW(kc::gemm(Exec(), "N", "N", 1.0f, a, b_ok, 0.0f, c_bad), std::invalid_argument);
  EXPECT_THROW(kc::gemm(Exec(), "X", "N", 1.0f, a, b_ok, 0.0f, c), std::invalid_argument);
  EXPECT_NO_THROW(kc::gemm(Exec(), "N", "N", 1.0f, a, b_ok, 0.0f, c));
}

}  // namespace selectiv
