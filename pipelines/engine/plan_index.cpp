// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/plan_index.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "core/hash.hpp"

namespace selectiv::engine {
namespace {

constexpr const char* kFormat = "selectiv-plan-index 1";

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

std::optional<Stage> parse_stage(const std::string& name) {
  for (Stage s : {Stage::kGenerate, Stage::kTrain, Stage::kEvaluate, Stage::kReport}) {
    if (name == stage_name(s)) return s;
  }
  return std::nullopt;
}

}  // namespace

std::string plan_fingerprint(const ConfigDocument& doc, const CodeIdentity& code) {
  std::ostringstream text;
  text << kFormat << "\n" << code.version << "\n" << code.backend << "\n" << YAML::Dump(doc.root());
  return sha256_hex(text.str());
}

std::string plan_index_path(const Store& store, const std::string& pipeline) {
  return store.root() + "/pipelines/" + pipeline + ".index";
}

void write_plan_index(const Store& store, const Plan& plan, const std::string& fingerprint) {
  std::string text = std::string(kFormat) + "\n" + fingerprint + "\n" + plan.name + "\n";
  for (const Instance& i : plan.instances) {
    text += stage_name(i.stage);
    text += '\t';
    text += i.key;
    text += '\t';
    for (std::size_t k = 0; k < i.inputs.size(); ++k) text += (k ? "," : "") + std::to_string(i.inputs[k]);
    text += '\t';
    for (std::size_t k = 0; k < i.outputs.size(); ++k) text += (k ? "," : "") + i.outputs[k];
    text += '\t';
    text += i.label;
    text += '\n';
  }
  std::filesystem::create_directories(store.root() + "/pipelines");
  write_file_atomically(plan_index_path(store, plan.name), text);
}

bool plan_index_matches(const Store& store, const std::string& pipeline, const std::string& fingerprint) {
  std::ifstream in(plan_index_path(store, pipeline));
  std::string format, recorded;
  return in && std::getline(in, format) && format == kFormat && std::getline(in, recorded) && recorded == fingerprint;
}

std::optional<Plan> read_plan_index(const Store& store, const std::string& pipeline, const std::string& fingerprint) {
  const std::string path = plan_index_path(store, pipeline);
  if (!file_exists(path)) return std::nullopt;
  std::string text;
  try {
    text = read_whole_file(path);
  } catch (const Error&) {
    return std::nullopt;
  }
  std::istringstream in(text);
  std::string format, recorded, name, line;
  if (!std::getline(in, format) || format != kFormat || !std::getline(in, recorded) || recorded != fingerprint ||
      !std::getline(in, name) || name != pipeline) {
    return std::nullopt;
  }
  Plan plan;
  plan.name = name;
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = split(line, '\t');
    if (fields.size() != 5) return std::nullopt;
    const std::optional<Stage> stage = parse_stage(fields[0]);
    if (!stage || fields[1].size() != 64) return std::nullopt;
    Instance instance;
    instance.stage = *stage;
    instance.key = fields[1];
    if (!fields[2].empty()) {
      for (const std::string& k : split(fields[2], ',')) {
        const std::size_t index = std::strtoull(k.c_str(), nullptr, 10);
        if (index >= plan.instances.size()) return std::nullopt;  // inputs come first
        instance.inputs.push_back(index);
      }
    }
    if (!fields[3].empty()) instance.outputs = split(fields[3], ',');
    instance.label = fields[4];
    plan.instances.push_back(std::move(instance));
  }
  plan.users.assign(plan.instances.size(), {});
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    for (std::size_t in : plan.instances[i].inputs) plan.users[in].push_back(i);
  }
  if (plan.instances.empty() || plan.instances.back().stage != Stage::kReport) return std::nullopt;
  return plan;
}

}  // namespace selectiv::engine
