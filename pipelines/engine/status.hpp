// SPDX-License-Identifier: BSD-3-Clause
// What a run would do, without doing it: each instance's status against the store and why.
//   done      complete and not older than its inputs
//   missing   no output under its key: never run, or (when the pipeline ran here before with another key for the
//             same label) what changed: parameters, an input, the code version or the backend
//   partial   a folder without manifest or without a declared output (an interrupted or failed run): redone
//   locked    another live worker holds its lock (it is running it now)
//   outdated  complete, but an input was redone after it or will run first: run again
// --dry-run prints this table; --dag writes the DAG as Graphviz with the same statuses.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "pipelines/engine/instance.hpp"
#include "pipelines/engine/store.hpp"

namespace selectiv::engine {

struct InstanceStatus {
  std::string status;  // done | missing | partial | locked | outdated
  std::string why;
  bool will_run() const { return status != "done"; }
};

// Statuses of every instance of the plan (instances outside `wanted` are described too, marked by the caller).
std::vector<InstanceStatus> describe_plan(const Plan& plan, const Store& store);

// The --dry-run table on `out` (only the instances in `wanted`), then a count per status.
void print_dry_run(const Plan& plan, const std::vector<InstanceStatus>& statuses, const std::vector<bool>& wanted,
                   std::FILE* out);

// Graphviz text of the DAG: one node per instance (stage, label, key prefix, colour by status), edges input -> user.
std::string dag_dot(const Plan& plan, const std::vector<InstanceStatus>& statuses);

}  // namespace selectiv::engine
