// SPDX-License-Identifier: BSD-3-Clause
// The device attention kernels against the host reference, shared by the tests of the tiled and the blocked kernels:
// one forward and backward on the device and in double on the host, from the same float-rounded inputs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention_fixtures.hpp"
#include "kernels/attention/reference.hpp"
#include "kernels/attention/tiled.hpp"
#include "kernels/common/compat.hpp"
#include "support/testing.hpp"

namespace selectiv::attention::test {

// Declared tolerance of the device kernels, err_ratio against the double reference on O(1) inputs. fp32 dot products
// of length D and sums over at most T keys give ~1e-7..1e-6; measured values are printed by each test.
constexpr double kDeviceTolerance = 1e-5;
// With scores of magnitude S the fp32 rounding of a score (S * 2^-24 per ulp, grown by the dot product) is an
// absolute error in the exponent, hence a relative error of the same size in every probability. For max |S| of a few
// hundred that is ~1e-5; declared with head room.
constexpr double kLargeScoreTolerance = 1e-4;
// exp(x) overflows fp32 above this.
constexpr double kFloatExpOverflow = 88.73;

// The device pass under test: forward into (o, lse), then backward of g = dL/do into (dq, dk, dv).
struct DeviceRun {
  virtual ~DeviceRun() = default;
  virtual void forward(const Exec& exec, View4 o, View3 lse, CView4 q, CView4 k, CView4 v, float scale) const = 0;
  virtual void backward(const Exec& exec, View4 dq, View4 dk, View4 dv, CView4 g, CView4 o, CView3 lse, CView4 q,
                        CView4 k, CView4 v, float scale) const = 0;
};

inline View4 upload4(const std::vector<double>& x, const Shape& s) {
  View4 device("x", s.batch, s.length, s.heads, s.head_dim);
  auto host = kc::create_mirror_view_uninitialized(device);
  auto src = test::cview4(x, s);
  for (int b = 0; b < s.batch; ++b)
    for (int t = 0; t < s.length; ++t)
      for (int h = 0; h < s.heads; ++h)
        for (int d = 0; d < s.head_dim; ++d) host(b, t, h, d) = static_cast<float>(src(b, t, h, d));
  Kokkos::deep_copy(device, host);
  return device;
}

template <class DeviceView>
std::vector<double> download(const DeviceView& device) {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), device);
  std::vector<double> out(host.span());
  for (std::size_t i = 0; i < host.span(); ++i) out[i] = host.data()[i];
  return out;
}

inline bool all_finite(const std::vector<double>& x) {
  return std::all_of(x.begin(), x.end(), [](double value) { return std::isfinite(value); });
}

struct Errors {
  double o, lse, dq, dk, dv;
  bool finite;
  double max_abs_score;  // over the visible (causal) pairs, scale included
  std::string describe() const {
    std::ostringstream s;
    s << "max|score| " << max_abs_score << ", err_ratio o " << o << " lse " << lse << " dq " << dq << " dk " << dk
      << " dv " << dv;
    return s.str();
  }
};

// Runs forward and backward on the device and on the host reference (same float-rounded inputs) and compares.
inline Errors compare_with_reference(const DeviceRun& run, const Shape& s, double qk_amplitude, unsigned seed) {
  const double scale = attention_default_scale(s.head_dim);
  const auto q = test::random_tensor(s.size(), seed, qk_amplitude);
  const auto k = test::random_tensor(s.size(), seed + 1, qk_amplitude);
  const auto v = test::random_tensor(s.size(), seed + 2);
  const auto g = test::random_tensor(s.size(), seed + 3);  // dL/do

  std::vector<double> o_ref(s.size()), lse_ref(s.rows()), dq_ref(s.size()), dk_ref(s.size()), dv_ref(s.size());
  // The device uses the float scale; the reference gets the same number in double.
  const double ref_scale = static_cast<float>(scale);
  attention_reference_fwd(test::view4(o_ref, s), test::view_lse(lse_ref, s), test::cview4(q, s), test::cview4(k, s),
                          test::cview4(v, s), ref_scale);
  attention_reference_bwd(test::view4(dq_ref, s), test::view4(dk_ref, s), test::view4(dv_ref, s), test::cview4(g, s),
                          test::cview4(q, s), test::cview4(k, s), test::cview4(v, s), ref_scale);

  const View4 q_dev = upload4(q, s), k_dev = upload4(k, s), v_dev = upload4(v, s), g_dev = upload4(g, s);
  View4 o_dev("o", s.batch, s.length, s.heads, s.head_dim);
  View3 lse_dev("lse", s.batch, s.heads, s.length);
  View4 dq_dev("dq", s.batch, s.length, s.heads, s.head_dim), dk_dev("dk", s.batch, s.length, s.heads, s.head_dim),
      dv_dev("dv", s.batch, s.length, s.heads, s.head_dim);
  const Exec exec;
  run.forward(exec, o_dev, lse_dev, q_dev, k_dev, v_dev, static_cast<float>(scale));
  run.backward(exec, dq_dev, dk_dev, dv_dev, g_dev, o_dev, lse_dev, q_dev, k_dev, v_dev, static_cast<float>(scale));
  kc::fence(exec, "selectiv::test::attention_device");

  double max_abs_score = 0.0;
  const auto qv = test::cview4(q, s), kv = test::cview4(k, s);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h)
      for (int t = 0; t < s.length; ++t)
        for (int u = 0; u <= t; ++u) {
          double dot = 0.0;
          for (int d = 0; d < s.head_dim; ++d) dot += qv(b, t, h, d) * kv(b, u, h, d);
          max_abs_score = std::max(max_abs_score, std::fabs(ref_scale * dot));
        }

  const auto o = download(o_dev), lse = download(lse_dev), dq = download(dq_dev), dk = download(dk_dev),
             dv = download(dv_dev);
  return Errors{testing::err_ratio(o_ref, o),
                testing::err_ratio(lse_ref, lse),
                testing::err_ratio(dq_ref, dq),
                testing::err_ratio(dk_ref, dk),
                testing::err_ratio(dv_ref, dv),
                all_finite(o) && all_finite(lse) && all_finite(dq) && all_finite(dk) && all_finite(dv),
                max_abs_score};
}

inline void expect_within(const Errors& e, double tolerance) {
  EXPECT_TRUE(e.finite);
  EXPECT_LE(e.o, tolerance);
  EXPECT_LE(e.lse, tolerance);
  EXPECT_LE(e.dq, tolerance);
  EXPECT_LE(e.dk, tolerance);
  EXPECT_LE(e.dv, tolerance);
}

// Two backward passes of `run` over the same inputs give the same gradients, bit for bit (no atomics).
inline void expect_bitwise_reproducible_backward(const DeviceRun& run) {
  const Shape s{2, 97, 2, 16};
  const float scale = attention_default_scale(s.head_dim);
  const View4 q = upload4(random_tensor(s.size(), 601), s), k = upload4(random_tensor(s.size(), 602), s),
              v = upload4(random_tensor(s.size(), 603), s), g = upload4(random_tensor(s.size(), 604), s);
  View4 o("o", s.batch, s.length, s.heads, s.head_dim);
  View3 lse("lse", s.batch, s.heads, s.length);
  const Exec exec;
  run.forward(exec, o, lse, q, k, v, scale);
  std::vector<std::vector<double>> runs[2];
  for (auto& gradients : runs) {
    View4 dq("dq", s.batch, s.length, s.heads, s.head_dim), dk("dk", s.batch, s.length, s.heads, s.head_dim),
        dv("dv", s.batch, s.length, s.heads, s.head_dim);
    run.backward(exec, dq, dk, dv, g, o, lse, q, k, v, scale);
    gradients = {download(dq), download(dk), download(dv)};
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(runs[0][i] == runs[1][i]) << "gradient " << i << " differs between runs";
}

// `run` throws std::invalid_argument for k, lse or dv of the wrong shape.
inline void expect_rejects_mismatched_shapes(const DeviceRun& run) {
  View4 q("q", 1, 8, 2, 4), k("k", 1, 8, 2, 4), v("v", 1, 8, 2, 4), o("o", 1, 8, 2, 4), short_k("k", 1, 7, 2, 4);
  View4 dq("dq", 1, 8, 2, 4), dk("dk", 1, 8, 2, 4), dv("dv", 1, 8, 2, 4), short_dv("dv", 1, 7, 2, 4);
  View3 lse("lse", 1, 2, 8), wrong_lse("lse", 1, 8, 2);
  const Exec exec;
  EXPECT_THROW(run.forward(exec, o, lse, q, short_k, v, 0.5f), std::invalid_argument);
  EXPECT_THROW(run.forward(exec, o, wrong_lse, q, k, v, 0.5f), std::invalid_argument);
  EXPECT_THROW(run.backward(exec, dq, dk, dv, o, o, lse, q, short_k, v, 0.5f), std::invalid_argument);
  EXPECT_THROW(run.backward(exec, dq, dk, short_dv, o, o, lse, q, k, v, 0.5f), std::invalid_argument);
}

}  // namespace selectiv::attention::test
