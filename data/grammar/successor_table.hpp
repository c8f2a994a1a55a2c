// SPDX-License-Identifier: BSD-3-Clause
// Compressed successor lists of a grammar (CSR by source state), with each source's running sum of edge
// probabilities, so that one walk step is a binary search instead of the reference's scan over all transitions.
#pragma once

#include <vector>

#include "data/grammar/grammar.hpp"

namespace selectiv::data {

struct SuccessorTable {
  std::vector<int> offsets;        // (S + 1) edges of state s are [offsets[s], offsets[s + 1])
  std::vector<int> targets;        // (E) destination states, in the grammar's transition order
  std::vector<double> cumulative;  // (E) numpy.cumsum of the float64 probabilities within each source's range
};

// Requires the grammar's transitions grouped by source (as generate_grammar and the golden files store them).
SuccessorTable build_successor_table(const Grammar& grammar);

}  // namespace selectiv::data
