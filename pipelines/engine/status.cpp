// SPDX-License-Identifier: BSD-3-Clause
#include "pipelines/engine/status.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

#include "pipelines/engine/lock.hpp"

namespace selectiv::engine {
namespace {

// Flattens a JSON object into dotted keys -> compact values.
void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    out[prefix] = j.dump();
  }
}

// What differs between the manifest of the label's previous key and the instance now.
std::string what_changed(const Plan& plan, const Instance& instance, const nlohmann::json& old) {
  std::vector<std::string> changes;
  std::map<std::string, std::string> before, now;
  flatten(old.value("params", nlohmann::json::object()), "", before);
  flatten(*instance.params, "", now);
  for (const auto& [k, v] : now) {
    auto it = before.find(k);
    if (it == before.end()) changes.push_back(fmt::format("new parameter {} = {}", k, v));
    else if (it->second != v) changes.push_back(fmt::format("{}: {} -> {}", k, it->second, v));
  }
  for (const auto& [k, v] : before) {
    if (!now.count(k)) changes.push_back(fmt::format("parameter {} removed", k));
  }
  const nlohmann::json old_inputs = old.value("inputs", nlohmann::json::array());
  for (std::size_t k = 0; k < instance.inputs.size(); ++k) {
    const Instance& in = plan.instances[instance.inputs[k]];
    if (k >= old_inputs.size() || old_inputs[k].value("key", "") != in.key) {
      changes.push_back(fmt::format("input {} changed", in.label));
    }
  }
  const std::string version = CodeIdentity::of_this_build().version;
  if (old.value("code_version", "") != version) {
    changes.push_back(fmt::format("code version {} -> {}", old.value("code_version", "?"), version));
  }
  if (old.value("backend", "") != instance.backend) {
    changes.push_back(fmt::format("backend {} -> {}", old.value("backend", "?"), instance.backend));
  }
  if (changes.empty()) return "changed since the last run";
  std::string text = "changed since the last run: ";
  for (std::size_t i = 0; i < changes.size() && i < 4; ++i) text += (i ? "; " : "") + changes[i];
  if (changes.size() > 4) text += fmt::format("; and {} more", changes.size() - 4);
  return text;
}

}  // namespace

std::vector<InstanceStatus> describe_plan(const Plan& plan, const Store& store) {
  const std::map<std::string, std::string> previous = store.read_labels(plan.name);
  std::vector<InstanceStatus> out(plan.instances.size());
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    const Instance& instance = plan.instances[i];
    InstanceStatus& s = out[i];
    std::string missing_output;
    const Completion c = store.completion(instance, &missing_output);
    if (c == Completion::kComplete) {
      std::size_t newer = 0;
      if (!store.current(plan, i, &newer)) {
        s = {"outdated", fmt::format("input {} was redone after it", plan.instances[newer].label)};
        continue;
      }
      s = {"done", "up to date"};
      for (std::size_t in : instance.inputs) {
        if (out[in].will_run()) {
          s = {"outdated", fmt::format("input {} will run first", plan.instances[in].label)};
          break;
        }
      }
      continue;
    }
    const LockProbe lock = probe_lock(store.lock_path(instance));
    if (lock.state == LockState::kHeld) {
      s = {"locked", lock.why};
      continue;
    }
    const std::string stale = lock.state == LockState::kStale ? fmt::format("; {}, it will be broken", lock.why) : "";
    if (c == Completion::kPartial) {
      s = {"partial", (missing_output == "manifest.json"
                           ? std::string("folder without manifest (an interrupted or failed run): redone from the start")
                           : fmt::format("{} is missing: redone from the start", missing_output)) +
                          stale};
      continue;
    }
    auto it = previous.find(instance.label);
    if (it != previous.end() && it->second != instance.key && file_exists(store.dir_of(stage_name(instance.stage),
                                                                                         it->second) + "/manifest.json")) {
      std::string why;
      try {
        why = what_changed(plan, instance, store.read_manifest(stage_name(instance.stage), it->second));
      } catch (const std::exception&) {
        why = "changed since the last run";
      }
      s = {"missing", why + stale};
    } else {
      s = {"missing", (it != previous.end() && it->second == instance.key ? "its output was deleted" : "never run") +
                          stale};
    }
  }
  return out;
}

void print_dry_run(const Plan& plan, const std::vector<InstanceStatus>& statuses, const std::vector<bool>& wanted,
                   std::FILE* out) {
  std::map<std::string, std::size_t> counts;
  std::size_t listed = 0;
  fmt::print(out, "{:<9} {:<12} {:<9} {}\n", "stage", "key", "status", "instance: why");
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    if (!wanted[i]) continue;
    const Instance& instance = plan.instances[i];
    fmt::print(out, "{:<9} {:<12} {:<9} {}: {}\n", stage_name(instance.stage), instance.key.substr(0, 12),
               statuses[i].status, instance.label, statuses[i].why);
    ++counts[statuses[i].status];
    ++listed;
  }
  std::string tally;
  for (const auto& [status, n] : counts) tally += fmt::format("{}{} {}", tally.empty() ? "" : ", ", n, status);
  fmt::print(out, "{} instances ({} generate, {} train, {} evaluate, {} report in the plan): {}\n", listed,
             plan.count(Stage::kGenerate), plan.count(Stage::kTrain), plan.count(Stage::kEvaluate),
             plan.count(Stage::kReport), tally.empty() ? "nothing" : tally);
}

std::string dag_dot(const Plan& plan, const std::vector<InstanceStatus>& statuses) {
  static const std::map<std::string, std::string> colour = {{"done", "palegreen"},   {"missing", "lightgrey"},
                                                            {"partial", "orange"},    {"locked", "lightblue"},
                                                            {"outdated", "khaki"}};
  auto escape = [](const std::string& s) {
    std::string e;
    for (char c : s) e += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    return e;
  };
  std::string dot = fmt::format("digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=filled, fontsize=9];\n",
                                escape(plan.name));
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    const Instance& instance = plan.instances[i];
    const auto c = colour.find(statuses[i].status);
    dot += fmt::format("  n{} [label=\"{}\\n{}\\n{} {}\", fillcolor={}];\n", i, stage_name(instance.stage),
                       escape(instance.label), instance.key.substr(0, 12), statuses[i].status,
                       c == colour.end() ? "white" : c->second);
  }
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    const std::set<std::size_t> inputs(plan.instances[i].inputs.begin(), plan.instances[i].inputs.end());
    for (std::size_t in : inputs) dot += fmt::format("  n{} -> n{};\n", in, i);
  }
  return dot + "}\n";
}

}  // namespace selectiv::engine
