// SPDX-License-Identifier: BSD-3-Clause
// Fused softmax cross-entropy: finite differences check the host reference's gradient, analytic values check its
// loss, and the reference checks the device kernel (loss, n_valid, dlogits) on awkward shapes and masks.
#include "kernels/nn/cross_entropy.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/common/compat.hpp"
#include "kernels/nn/reference_train.hpp"
#include "support/testing.hpp"

namespace selectiv::nn {
namespace {

using selectiv::testing::err_ratio;

// Declared tolerances (err_ratio against the double reference; relative error for the scalar loss).
constexpr double kReferenceGradVsFiniteDifferences = 1e-7;
constexpr double kDeviceGradVsReference = 2e-6;
constexpr double kDeviceLossVsReference = 1e-6;

struct Problem {
  int n_rows = 0;
  int n_classes = 0;
  std::vector<double> logits;  // (N, C), values exactly representable in float
  std::vector<int> targets;    // (N); invalid rows hold -100 (the usual ignore index), never read
  std::vector<double> mask;    // (N)
};

Problem make_problem(int n_rows, int n_classes, double logit_scale, double valid_fraction, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, logit_scale);
  std::uniform_int_distribution<int> klass(0, n_classes - 1);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Problem p;
  p.n_rows = n_rows;
  p.n_classes = n_classes;
  p.logits.resize(static_cast<std::size_t>(n_rows) * n_classes);
  for (double& l : p.logits) l = static_cast<double>(static_cast<float>(normal(rng)));
  for (int n = 0; n < n_rows; ++n) {
    const bool valid = uniform(rng) < valid_fraction;
    p.mask.push_back(valid ? 1.0 : 0.0);
    p.targets.push_back(valid ? klass(rng) : -100);
  }
  return p;
}

View2 device_matrix(const std::vector<double>& values, int rows, int cols) {
  View2 view("logits", rows, cols);
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host.data()[i] = static_cast<float>(values[i]);
  Kokkos::deep_copy(view, host);
  return view;
}

View1 device_vector(const std::vector<double>& values) {
  View1 view("mask", values.size());
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host(i) = static_cast<float>(values[i]);
  Kokkos::deep_copy(view, host);
  return view;
}

IView1 device_ints(const std::vector<int>& values) {
  IView1 view("targets", values.size());
  auto host = kc::create_mirror_view_uninitialized(view);
  for (std::size_t i = 0; i < values.size(); ++i) host(i) = values[i];
  Kokkos::deep_copy(view, host);
  return view;
}

std::vector<double> host_values(const View2& view) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<double>(host.data(), host.data() + host.size());
}

double relative_error(double ref, double out) { return std::fabs(ref - out) / std::fmax(std::fabs(ref), 1e-30); }

}  // namespace

TEST(CrossEntropyReference, GradientMatchesFiniteDifferences) {
  const Problem p = make_problem(6, 7, 2.0, 0.6, 11);
  std::vector<double> dlogits;
  std::int64_t n_valid = 0;
  cross_entropy_reference_fwd_bwd(dlogits, p.logits, p.targets, p.mask, p.n_rows, p.n_classes, &n_valid);
  ASSERT_GT(n_valid, 0);
  ASSERT_LT(n_valid, p.n_rows);  // some rows are masked out, and their gradient must be 0
  const auto numeric = selectiv::testing::finite_difference_gradient(
      [&](const std::vector<double>& logits) {
        return cross_entropy_reference_fwd(logits, p.targets, p.mask, p.n_rows, p.n_classes);
      },
      p.logits, 1e-5);
  EXPECT_LT(err_ratio(numeric, dlogits), kReferenceGradVsFiniteDifferences);
}

TEST(CrossEntropyReference, UniformLogitsGiveLogC) {
  // Equal logits: every row's softmax is 1/C, so the loss is log(C) and dlogits = (1/C - onehot) / n_valid.
  const int n_rows = 5, n_classes = 9;
  const std::vector<double> logits(static_cast<std::size_t>(n_rows) * n_classes, 0.75);
  const std::vector<int> targets = {3, -1, 0, 8, 2};
  const std::vector<double> mask = {1, 0, 1, 1, 0};
  std::vector<double> dlogits;
  std::int64_t n_valid = 0;
  const double loss = cross_entropy_reference_fwd_bwd(dlogits, logits, targets, mask, n_rows, n_classes, &n_valid);
  EXPECT_EQ(n_valid, 3);
  EXPECT_NEAR(loss, std::log(9.0), 1e-15);
  for (int n = 0; n < n_rows; ++n) {
    for (int c = 0; c < n_classes; ++c) {
      const double expected = mask[n] > 0.5 ? (1.0 / 9.0 - (c == targets[n] ? 1.0 : 0.0)) / 3.0 : 0.0;
      EXPECT_NEAR(dlogits[n * n_classes + c], expected, 1e-15) << "row " << n << " class " << c;
    }
  }
}

namespace {

void expect_device_matches_reference(const Problem& p) {
  SCOPED_TRACE("N=" + std::to_string(p.n_rows) + " C=" + std::to_string(p.n_classes));
  std::vector<double> ref_dlogits;
  std::int64_t ref_valid = 0;
  const double ref_loss =
      cross_entropy_reference_fwd_bwd(ref_dlogits, p.logits, p.targets, p.mask, p.n_rows, p.n_classes, &ref_valid);

  const View2 logits = device_matrix(p.logits, p.n_rows, p.n_classes);
  const IView1 targets = device_ints(p.targets);
  const View1 mask = device_vector(p.mask);
  View2 dlogits("dlogits", p.n_rows, p.n_classes);
  Kokkos::deep_copy(dlogits, 123.0f);  // stale values must all be overwritten
  const CrossEntropyLoss fused = cross_entropy_fwd_bwd(Exec(), dlogits, logits, targets, mask);
  const CrossEntropyLoss forward_only = cross_entropy_fwd(Exec(), logits, targets, mask);

  EXPECT_EQ(fused.n_valid, ref_valid);
  EXPECT_EQ(forward_only.n_valid, ref_valid);
  EXPECT_LT(relative_error(ref_loss, fused.mean), kDeviceLossVsReference) << ref_loss << " vs " << fused.mean;
  EXPECT_LT(relative_error(ref_loss, forward_only.mean), kDeviceLossVsReference);
  EXPECT_LT(relative_error(ref_loss * static_cast<double>(ref_valid), fused.sum), kDeviceLossVsReference);
  EXPECT_LT(err_ratio(ref_dlogits, host_values(dlogits)), kDeviceGradVsReference);
}

}  // namespace

TEST(CrossEntropyDevice, MatchesReferenceOnAwkwardShapes) {
  expect_device_matches_reference(make_problem(1, 3, 1.0, 1.0, 1));
  expect_device_matches_reference(make_problem(37, 1601, 3.0, 0.7, 2));  // 1600 classes + 1, partial mask
  expect_device_matches_reference(make_problem(64, 5, 1.0, 1.0, 3));     // every row valid
  expect_device_matches_reference(make_problem(129, 41, 4.0, 0.5, 4));
  expect_device_matches_reference(make_problem(3, 257, 1e3, 1.0, 5));  // large logits: needs the max shift
}

TEST(CrossEntropyDevice, SingleClassHasZeroLossAndGradient) {
  const Problem p = make_problem(7, 1, 1.0, 1.0, 6);
  const View2 logits = device_matrix(p.logits, p.n_rows, p.n_classes);
  View2 dlogits("dlogits", p.n_rows, 1);
  Kokkos::deep_copy(dlogits, 5.0f);
  const CrossEntropyLoss loss =
      cross_entropy_fwd_bwd(Exec(), dlogits, logits, device_ints(p.targets), device_vector(p.mask));
  EXPECT_EQ(loss.n_valid, 7);
  EXPECT_EQ(loss.mean, 0.0);
  for (const double d : host_values(dlogits)) EXPECT_EQ(d, 0.0);
}

TEST(CrossEntropyDevice, InPlaceGradientEqualsOutOfPlace) {
  const Problem p = make_problem(23, 97, 2.0, 0.8, 7);
  const View2 logits = device_matrix(p.logits, p.n_rows, p.n_classes);
  const IView1 targets = device_ints(p.targets);
  const View1 mask = device_vector(p.mask);
  View2 separate("dlogits", p.n_rows, p.n_classes);
  const CrossEntropyLoss out_of_place = cross_entropy_fwd_bwd(Exec(), separate, logits, targets, mask);
  const CrossEntropyLoss in_place = cross_entropy_fwd_bwd(Exec(), logits, logits, targets, mask);
  EXPECT_EQ(in_place.n_valid, out_of_place.n_valid);
  EXPECT_EQ(in_place.mean, out_of_place.mean);
  EXPECT_EQ(host_values(logits), host_values(separate));
}

TEST(CrossEntropyDevice, NoValidRowGivesNanMeanAndZeroGradient) {
  Problem p = make_problem(9, 4, 1.0, 0.0, 8);
  const View2 logits = device_matrix(p.logits, p.n_rows, p.n_classes);
  View2 dlogits("dlogits", p.n_rows, p.n_classes);
  Kokkos::deep_copy(dlogits, -7.0f);
  const CrossEntropyLoss loss =
      cross_entropy_fwd_bwd(Exec(), dlogits, logits, device_ints(p.targets), device_vector(p.mask));
  EXPECT_EQ(loss.n_valid, 0);
  EXPECT_TRUE(std::isnan(loss.mean));
  EXPECT_EQ(loss.sum, 0.0);
  for (const double d : host_values(dlogits)) EXPECT_EQ(d, 0.0);
}

TEST(CrossEntropyDevice, NonFiniteLogitGivesNonFiniteLoss) {
  Problem p = make_problem(4, 6, 1.0, 1.0, 9);
  p.logits[2 * 6 + 3] = std::nan("");
  const View2 logits = device_matrix(p.logits, p.n_rows, p.n_classes);
  const CrossEntropyLoss loss = cross_entropy_fwd(Exec(), logits, device_ints(p.targets), device_vector(p.mask));
  EXPECT_FALSE(std::isfinite(loss.mean));  // the trainer's divergence check relies on this
}

TEST(CrossEntropyDevice, RejectsOutOfRangeTargetsOfValidRowsOnly) {
  Problem p = make_problem(5, 4, 1.0, 1.0, 10);
  const View2 logits = device_matrix(p.logits, p.n_rows, p.n_classes);
  View2 dlogits("dlogits", p.n_rows, p.n_classes);
  p.targets[1] = 4;  // == C, on a valid row
  EXPECT_THROW(cross_entropy_fwd_bwd(Exec(), dlogits, logits, device_ints(p.targets), device_vector(p.mask)),
               std::invalid_argument);
  p.mask[1] = 0.0;  // the same target on a padded row is never read
  EXPECT_NO_THROW(cross_entropy_fwd_bwd(Exec(), dlogits, logits, device_ints(p.targets), device_vector(p.mask)));
  EXPECT_THROW(cross_entropy_fwd(Exec(), logits, device_ints(std::vector<int>(4, 0)), device_vector(p.mask)),
               std::invalid_argument);  // 4 targets for 5 rows
}

}  // namespace selectiv::nn
