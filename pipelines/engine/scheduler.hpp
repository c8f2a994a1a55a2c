// SPDX-License-Identifier: BSD-3-Clause
// Runs the wanted instances of a plan in dependency order, one at a time, against the store: a complete instance
// is skipped; anything else is locked, cleaned, run by the stage action, and published with its manifest. An
// instance locked by another live worker (another process, rank or array task on the same store) is waited for,
// polling, while this worker goes on with instances that do not need it. A complete instance whose manifest is
// older than one of its inputs' manifests (that input was redone since) is run again, as make would. A failed instance blocks only its
// users; the others go on (exit code of the first failure at the end). SIGINT/SIGTERM stop at the next instance
// boundary (the trainer stops at the next update) with exit 75.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "pipelines/engine/instance.hpp"
#include "pipelines/engine/store.hpp"

namespace selectiv::engine {

struct StageContext {
  const Plan& plan;
  const Store& store;
  std::size_t index;
  std::string dir;  // the instance's (empty, fresh) output folder
  const Instance& instance() const { return plan.instances[index]; }
  std::string input_dir(std::size_t k) const { return store.dir(plan.instances[instance().inputs[k]]); }
};

// Runs one instance into ctx.dir; returns extra manifest fields (for example {"outcome": "diverged"}).
using StageAction = std::function<nlohmann::json(const StageContext&)>;

struct RunOptions {
  double poll_seconds = 0.2;
  // Called once per instance actually run, before it starts (logging, tests).
  std::function<void(const Instance&, std::size_t position, std::size_t total)> on_start;
};

struct RunSummary {
  std::size_t reused = 0;    // complete before this run
  std::size_t ran = 0;       // run here
  std::size_t failed = 0;
  std::size_t blocked = 0;   // not run because an input failed
  ExitCode code = ExitCode::kOk;  // of the first failure
  std::vector<bool> ran_here;     // per instance of the plan
};

// `wanted`: which instances this worker is responsible for (inputs of wanted instances must be wanted too).
// Whether every instance of the plan is complete and not older than its inputs (stat() calls only).
bool all_current(const Plan& plan, const Store& store);

RunSummary run_instances(const Plan& plan, const Store& store, const std::vector<bool>& wanted,
                         const StageAction& action, const RunOptions& options = {});

}  // namespace selectiv::engine
