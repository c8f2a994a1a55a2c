// SPDX-License-Identifier: BSD-3-Clause
#include "models/param_table.hpp"

#include <Random123/philox.h>

#include <cmath>
#include <numeric>

#include "core/error.hpp"

namespace selectiv::models {

InitFn init_uniform(double bound) {
  return [bound](std::vector<float>& v, const std::function<double(std::int64_t)>& u) {
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((2.0 * u(i) - 1.0) * bound);
  };
}

InitFn init_constant(double value) {
  return [value](std::vector<float>& v, const std::function<double(std::int64_t)>&) {
    for (auto& x : v) x = static_cast<float>(value);
  };
}

InitFn init_values(std::vector<float> values) {
  return [values](std::vector<float>& v, const std::function<double(std::int64_t)>&) {
    SELECTIV_REQUIRE(v.size() == values.size(), ExitCode::kFailure, "init_values: {} values for {} elements",
                     values.size(), v.size());
    v = values;
  };
}

InitFn init_log_uniform(double lo, double hi) {
  return [lo, hi](std::vector<float>& v, const std::function<double(std::int64_t)>& u) {
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(std::log(lo + (hi - lo) * u(i)));
  };
}

InitFn init_dt_bias(double dt_min, double dt_max, double dt_floor) {
  return [=](std::vector<float>& v, const std::function<double(std::int64_t)>& u) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      double dt = std::exp(std::log(dt_min) + u(i) * (std::log(dt_max) - std::log(dt_min)));
      dt = std::max(dt, dt_floor);
      v[i] = static_cast<float>(dt + std::log(-std::expm1(-dt)));  // inverse of softplus
    }
  };
}

void ParamTable::add(const std::string& name, std::vector<std::int64_t> shape, InitFn init, bool trainable) {
  SELECTIV_REQUIRE(m_values.extent(0) == 0, ExitCode::kFailure, "ParamTable::add({}) after allocate()", name);
  SELECTIV_REQUIRE(!has(name), ExitCode::kFailure, "parameter {} declared twice", name);
  ParamInfo p;
  p.name = name;
  p.shape = std::move(shape);
  p.size = std::accumulate(p.shape.begin(), p.shape.end(), std::int64_t{1}, std::multiplies<>());
  p.offset = m_size;
  p.trainable = trainable;
  p.init = std::move(init);
  m_size += p.size;
  m_index[name] = m_params.size();
  m_params.push_back(std::move(p));
}

void ParamTable::allocate(std::uint64_t seed) {
  m_values = View1("selectiv::params", m_size);
  m_grads = View1("selectiv::grads", m_size);
  m_m = View1("selectiv::adam_m", m_size);
  m_v = View1("selectiv::adam_v", m_size);
  auto host = Kokkos::create_mirror_view(m_values);
  using Philox = r123::Philox4x32;
  for (std::size_t index = 0; index < m_params.size(); ++index) {
    const ParamInfo& p = m_params[index];
    // Draw i of parameter `index`: Philox(counter = {i lo, i hi, index, 0}, key = seed), 53-bit uniform.
    auto uniform01 = [seed, index](std::int64_t i) {
      Philox::ctr_type ctr = {{static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i >> 32),
                               static_cast<std::uint32_t>(index), 0x5e1ec7u}};
      Philox::key_type key = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
      Philox::ctr_type r = Philox()(ctr, key);
      std::uint64_t bits = (static_cast<std::uint64_t>(r[0]) << 32 | r[1]) >> 11;
      return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
    };
    std::vector<float> values(p.size);
    p.init(values, uniform01);
    for (std::int64_t i = 0; i < p.size; ++i) host(p.offset + i) = values[i];
  }
  Kokkos::deep_copy(m_values, host);
}

const ParamInfo& ParamTable::info(const std::string& name) const {
  auto it = m_index.find(name);
  SELECTIV_REQUIRE(it != m_index.end(), ExitCode::kFailure, "unknown parameter {}", name);
  return m_params[it->second];
}

std::int64_t ParamTable::trainable_count() const {
  std::int64_t n = 0;
  for (const auto& p : m_params) n += p.trainable ? p.size : 0;
  return n;
}

View1 ParamTable::slice(const View1& arena, const std::string& name) const {
  const ParamInfo& p = info(name);
  return Kokkos::subview(arena, Kokkos::make_pair(p.offset, p.offset + p.size));
}

View1 ParamTable::value1(const std::string& name) const { return slice(m_values, name); }
View1 ParamTable::grad1(const std::string& name) const { return slice(m_grads, name); }

namespace {
View2 as_rows(const View1& flat, const ParamInfo& p) {
  std::int64_t rows = p.shape.empty() ? 1 : p.shape[0];
  std::int64_t cols = rows > 0 ? p.size / rows : 0;
  return View2(flat.data(), rows, cols);
}
}  // namespace

View2 ParamTable::value2(const std::string& name) const { return as_rows(value1(name), info(name)); }
View2 ParamTable::grad2(const std::string& name) const { return as_rows(grad1(name), info(name)); }

void ParamTable::zero_grads() const { Kokkos::deep_copy(m_grads, 0.0f); }

std::vector<float> ParamTable::host_value(const std::string& name) const {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), value1(name));
  return std::vector<float>(host.data(), host.data() + host.extent(0));
}

std::vector<float> ParamTable::host_grad(const std::string& name) const {
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), grad1(name));
  return std::vector<float>(host.data(), host.data() + host.extent(0));
}

void ParamTable::set_host_value(const std::string& name, const std::vector<float>& values) const {
  View1 dst = value1(name);
  SELECTIV_REQUIRE(values.size() == dst.extent(0), ExitCode::kInvalidInput, "{}: {} values given, {} expected", name,
                   values.size(), dst.extent(0));
  Kokkos::View<const float*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> src(values.data(),
                                                                                           values.size());
  Kokkos::deep_copy(dst, src);
}

}  // namespace selectiv::models
