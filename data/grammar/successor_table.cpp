// SPDX-License-Identifier: BSD-3-Clause
#include "data/grammar/successor_table.hpp"

#include <stdexcept>

namespace selectiv::data {

SuccessorTable build_successor_table(const Grammar& grammar) {
  const std::size_t n_states = grammar.states.size();
  const std::size_t n_edges = grammar.transition_src.size();
  if (grammar.transition_dst.size() != n_edges || grammar.transition_prob.size() != n_edges) {
    throw std::invalid_argument("build_successor_table: transition arrays differ in length");
  }
  SuccessorTable table;
  table.offsets.assign(n_states + 1, 0);
  table.targets = grammar.transition_dst;
  table.cumulative.resize(n_edges);
  for (std::size_t e = 0; e < n_edges; ++e) {
    const int src = grammar.transition_src[e];
    if (src < 0 || static_cast<std::size_t>(src) >= n_states || (e > 0 && src < grammar.transition_src[e - 1])) {
      throw std::invalid_argument("build_successor_table: transitions not grouped by source in state range");
    }
    ++table.offsets[static_cast<std::size_t>(src) + 1];
    // Sequential float64 accumulation restarting at each source, as numpy.cumsum over that source's list.
    const bool first_of_source = e == 0 || grammar.transition_src[e - 1] != src;
    table.cumulative[e] = first_of_source ? grammar.transition_prob[e]
                                          : table.cumulative[e - 1] + grammar.transition_prob[e];
  }
  for (std::size_t s = 0; s < n_states; ++s) table.offsets[s + 1] += table.offsets[s];
  return table;
}

}  // namespace selectiv::data
