// SPDX-License-Identifier: BSD-3-Clause
// Static sharding of a plan across workers (--shard i/n, Slurm array tasks, MPI ranks). The shard units are the
// grid points in expansion order; unit u belongs to shard u mod n, which runs the point's train and evaluate
// instances. Shared inputs (the generate instances) are run by whichever shard needs them first; another shard
// that needs one meanwhile waits on its lock. The report is not assigned: it is written by the worker that finds all
// its inputs complete when it finishes (with sequential shards: the last one; with MPI: rank 0 after a barrier).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "pipelines/engine/instance.hpp"

namespace selectiv::engine {

struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;
  std::string source;  // "--shard", "SLURM_ARRAY_TASK_ID", "MPI rank", or "" for the whole plan
  bool whole() const { return count == 1; }
};

// "i/n" with 0 <= i < n (exit 2 otherwise).
Shard parse_shard(const std::string& text);
// SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) of SLURM_ARRAY_TASK_COUNT, when both are set.
std::optional<Shard> shard_from_environment();

// Instances the shard runs (its units' train and evaluate instances and, transitively, their inputs); the report
// instances are never selected here.
std::vector<bool> select_shard(const Plan& plan, const Shard& shard);

}  // namespace selectiv::engine
