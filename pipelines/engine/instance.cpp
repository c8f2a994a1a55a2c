// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/instance.hpp"

#include <Kokkos_Core.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "selectiv/version.hpp"

namespace selectiv::engine {

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kGenerate: return "generate";
    case Stage::kTrain: return "train";
    case Stage::kEvaluate: return "evaluate";
    case Stage::kReport: return "report";
  }
  return "unknown";
}

CodeIdentity CodeIdentity::of_this_build() {
  return {fmt::format("{}+{}", kToolVersion, kGitHash), Kokkos::DefaultExecutionSpace::name()};
}

std::string instance_key(Stage stage, const std::string& params_canonical, const std::vector<std::string>& input_keys,
                         const std::string& code_version, const std::string& backend) {
  // Keys in sorted order and no whitespace: exactly canonical_json of the identity object.
  // Keys are hex digests and need no escaping; the other strings go through the JSON writer.
  std::string identity;
  identity.reserve(128 + params_canonical.size() + 67 * input_keys.size());
  identity += "{\"backend\":";
  identity += nlohmann::json(backend).dump();
  identity += ",\"code\":";
  identity += nlohmann::json(code_version).dump();
  identity += ",\"inputs\":[";
  for (std::size_t i = 0; i < input_keys.size(); ++i) {
    if (i) identity += ',';
    identity += '"';
    identity += input_keys[i];
    identity += '"';
  }
  identity += "],\"params\":";
  identity += params_canonical;
  identity += ",\"stage\":\"";
  identity += stage_name(stage);
  identity += "\"}";
  return sha256_hex(identity);
}

void Plan::reserve(std::size_t n) {
  instances.reserve(n);
  users.reserve(n);
  m_by_key.reserve(n);
}

std::size_t Plan::add(Instance instance, const CodeIdentity& code) {
  std::vector<std::string> input_keys;
  for (std::size_t i : instance.inputs) {
    SELECTIV_REQUIRE(i < instances.size(), ExitCode::kFailure, "{}: input {} is not an earlier instance",
                     instance.label, i);
    input_keys.push_back(instances[i].key);
  }
  if (instance.backend.empty()) instance.backend = code.backend;
  if (instance.params_canonical.empty()) instance.params_canonical = canonical_json(*instance.params);
  instance.key = instance_key(instance.stage, instance.params_canonical, input_keys, code.version, instance.backend);
  auto [it, inserted] = m_by_key.emplace(instance.key, instances.size());
  if (!inserted) return it->second;
  const std::size_t index = instances.size();
  for (std::size_t i : instance.inputs) users[i].push_back(index);
  instances.push_back(std::move(instance));
  users.emplace_back();
  return index;
}

std::optional<std::size_t> Plan::find(const std::string& key) const {
  auto it = m_by_key.find(key);
  if (it == m_by_key.end()) return std::nullopt;
  return it->second;
}

std::size_t Plan::count(Stage stage) const {
  return static_cast<std::size_t>(
      std::count_if(instances.begin(), instances.end(), [stage](const Instance& i) { return i.stage == stage; }));
}

}  // namespace selectiv::engine
