// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/shard.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "core/error.hpp"

namespace selectiv::engine {
namespace {

std::optional<long long> parse_count(const std::string& text) {
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(text);
}

std::optional<long long> env_number(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return parse_count(value);
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  std::optional<long long> i, n;
  if (slash != std::string::npos) {
    i = parse_count(text.substr(0, slash));
    n = parse_count(text.substr(slash + 1));
  }
  SELECTIV_REQUIRE(i && n && *n >= 1 && *i < *n, ExitCode::kInvalidInput,
                   "--shard {}: expected i/n with 0 <= i < n (for example 0/4)", text);
  return {static_cast<std::size_t>(*i), static_cast<std::size_t>(*n), "--shard"};
}

std::optional<Shard> shard_from_environment() {
  const auto id = env_number("SLURM_ARRAY_TASK_ID");
  const auto count = env_number("SLURM_ARRAY_TASK_COUNT");
  if (!id || !count) return std::nullopt;
  const long long first = env_number("SLURM_ARRAY_TASK_MIN").value_or(0);
  SELECTIV_REQUIRE(*count >= 1 && *id >= first && *id - first < *count, ExitCode::kInvalidInput,
                   "SLURM_ARRAY_TASK_ID={} does not fit SLURM_ARRAY_TASK_MIN={} and SLURM_ARRAY_TASK_COUNT={}; use "
                   "a contiguous --array range or pass --shard i/n",
                   *id, first, *count);
  return Shard{static_cast<std::size_t>(*id - first), static_cast<std::size_t>(*count), "SLURM_ARRAY_TASK_ID"};
}

std::vector<bool> select_shard(const Plan& plan, const Shard& shard) {
  const std::size_t n = plan.instances.size();
  std::vector<bool> wanted(n, false);
  for (std::size_t i = n; i-- > 0;) {
    const Instance& instance = plan.instances[i];
    if (instance.stage == Stage::kReport) continue;
    if (instance.unit != kNoUnit && instance.unit % shard.count == shard.index) wanted[i] = true;
    if (!wanted[i]) continue;
    for (std::size_t in : instance.inputs) wanted[in] = true;  // inputs come earlier: visited later in this loop
  }
  return wanted;
}

}  // namespace selectiv::engine
