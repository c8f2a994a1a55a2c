// SPDX-License-Identifier: BSD-3-Clause
#include "eval/selectivity.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace selectiv::eval {

GrammarIndex::GrammarIndex(const data::Grammar& grammar) : m_grammar(grammar), m_V(grammar.n_symbols) {
  const std::size_t S = grammar.states.size();
  m_next.assign(S * m_V, -1);
  m_prob.assign(S * m_V, 0.0);
  for (std::size_t i = 0; i < grammar.transition_src.size(); ++i) {
    const int src = grammar.transition_src[i], dst = grammar.transition_dst[i];
    const std::size_t slot = static_cast<std::size_t>(src) * m_V + grammar.symbol_id_of_state[dst];
    SELECTIV_REQUIRE(m_next[slot] < 0, ExitCode::kInvalidInput,
                     "grammar: state {} has two edges to symbol {}", grammar.states[src],
                     grammar.symbol_id_of_state[dst]);
    m_next[slot] = dst;
    m_prob[slot] = grammar.transition_prob[i];
  }
  m_symbol_of_class.assign(grammar.n_classes, 0);
  m_states_of_symbol.assign(m_V, {});
  for (std::size_t s = 0; s < S; ++s) {
    m_symbol_of_class[grammar.class_id_of_state[s]] = grammar.symbol_id_of_state[s];
    m_states_of_symbol[grammar.symbol_id_of_state[s]].push_back(static_cast<int>(s));
  }
}

namespace {

// States that may follow `state` showing `symbol`: the unique successor, or after '#' the start states.
template <class F>
void for_each_successor(const GrammarIndex& index, int state, int symbol, F&& f) {
  const data::Grammar& g = index.grammar();
  if (state == g.eos_state) {
    for (int s : g.start_states) {
      if (g.symbol_id_of_state[s] == symbol) f(s, 1.0 / g.start_states.size());
    }
  } else if (int next = index.next(state, symbol); next >= 0) {
    f(next, index.prob(state, symbol));
  }
}

}  // namespace

std::vector<int> context_needed(const GrammarIndex& index, const std::vector<int>& symbols) {
  const data::Grammar& g = index.grammar();
  const int S = static_cast<int>(g.states.size());
  std::vector<int> needed(symbols.size(), kMaxContext + 1);
  std::vector<int> current, following;
  std::vector<char> seen(S, 0);
  for (std::size_t e = 0; e < symbols.size(); ++e) {
    for (int k = 1; k <= kMaxContext && k <= static_cast<int>(e) + 1; ++k) {
      const std::size_t first = e + 1 - k;
      current.clear();
      for (int s : index.states_of_symbol(symbols[first])) {
        const bool start_ok = first > 0 || std::find(g.start_states.begin(), g.start_states.end(), s) !=
                                               g.start_states.end();
        if (start_ok) current.push_back(s);
      }
      for (std::size_t t = first + 1; t <= e && !current.empty(); ++t) {
        following.clear();
        for (int s : current) {
          for_each_successor(index, s, symbols[t], [&](int next, double) {
            if (!seen[next]) {
              seen[next] = 1;
              following.push_back(next);
            }
          });
        }
        for (int s : following) seen[s] = 0;
        current.swap(following);
      }
      if (current.size() <= 1) {
        needed[e] = k;
        break;
      }
    }
  }
  return needed;
}

std::vector<int> oracle_classes(const GrammarIndex& index, const std::vector<int>& symbols) {
  const data::Grammar& g = index.grammar();
  const int S = static_cast<int>(g.states.size());
  std::vector<double> belief(S, 0.0), next(S, 0.0);
  std::vector<int> support, next_support;  // states with non-zero belief
  std::vector<int> classes(symbols.size(), 0);
  for (std::size_t e = 0; e < symbols.size(); ++e) {
    next_support.clear();
    auto add = [&](int s, double p) {
      if (g.symbol_id_of_state[s] != symbols[e] || p <= 0.0) return;  // the observation rules the state out
      if (next[s] == 0.0) next_support.push_back(s);
      next[s] += p;
    };
    if (e == 0) {
      for (int s : g.start_states) add(s, 1.0 / g.start_states.size());
    } else {
      for (int s : support) for_each_successor(index, s, symbols[e], [&](int n, double p) { add(n, belief[s] * p); });
    }
    if (next_support.empty()) {  // impossible under the filter: restart from the symbol alone
      for (int s : index.states_of_symbol(symbols[e])) add(s, 1.0);
    }
    double total = 0.0;
    for (int s : next_support) total += next[s];
    int best = next_support.front();
    for (int s : next_support) {
      next[s] /= total;
      if (next[s] > next[best] || (next[s] == next[best] && s < best)) best = s;
    }
    classes[e] = g.class_id_of_state[best];
    for (int s : support) belief[s] = 0.0;
    std::swap(belief, next);
    std::swap(support, next_support);
  }
  return classes;
}

SelectivityProfile build_profile(const data::Grammar& grammar, const data::CompactSamples& samples,
                                 const std::vector<int>& predictions, bool distractors) {
  const std::int64_t N = samples.count, E = samples.elements;
  SELECTIV_REQUIRE(static_cast<std::int64_t>(predictions.size()) == N * E, ExitCode::kFailure,
                   "build_profile: {} predictions for {} x {} elements", predictions.size(), N, E);
  GrammarIndex index(grammar);
  SelectivityProfile p;
  p.has_distractors = distractors;
  Tally oracle;
  std::map<int, std::map<int, std::int64_t>> class_count_by_symbol;
  for (std::int64_t b = 0; b < N; ++b) {
    std::vector<int> symbols(samples.symbol.begin() + b * E, samples.symbol.begin() + (b + 1) * E);
    std::vector<int> context = context_needed(index, symbols);
    std::vector<int> oracle_pred = oracle_classes(index, symbols);
    for (std::int64_t e = 0; e < E; ++e) {
      const std::size_t i = static_cast<std::size_t>(b * E + e);
      const int target = samples.target[i], pred = predictions[i];
      const bool ok = pred == target;
      auto add = [ok](Tally& t) {
        t.correct += ok;
        ++t.total;
      };
      add(p.overall);
      add(p.by_gap[samples.gap[i]]);
      add(p.by_context[context[e]]);
      add(p.by_position[static_cast<int>(10 * e / E)]);
      if (distractors) add(e > 0 && samples.gap[i - 1] > 0 ? p.after_distractor : p.elsewhere);
      if (!ok) {
        const bool same = pred >= 0 && pred < grammar.n_classes && index.symbol_of_class(pred) == symbols[e];
        (same ? p.errors_same_symbol : p.errors_other_symbol) += 1;
      }
      oracle.correct += oracle_pred[e] == target;
      ++oracle.total;
      ++class_count_by_symbol[symbols[e]][target];
    }
  }
  std::int64_t memoryless = 0;
  for (const auto& [symbol, counts] : class_count_by_symbol) {
    std::int64_t best = 0;
    for (const auto& [cls, n] : counts) best = std::max(best, n);
    memoryless += best;
  }
  p.oracle_accuracy = oracle.accuracy();
  p.memoryless_accuracy = p.overall.total > 0 ? static_cast<double>(memoryless) / p.overall.total : 0.0;
  return p;
}

nlohmann::json SelectivityProfile::to_json() const {
  auto table = [](const std::map<int, Tally>& m) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& [key, t] : m) j.push_back({{"key", key}, {"accuracy", t.accuracy()}, {"count", t.total}});
    return j;
  };
  nlohmann::json j = {{"accuracy", overall.accuracy()},
                      {"elements", overall.total},
                      {"oracle_accuracy", oracle_accuracy},
                      {"memoryless_accuracy", memoryless_accuracy},
                      {"by_gap", table(by_gap)},
                      {"by_context_needed", table(by_context)},
                      {"by_position_decile", table(by_position)},
                      {"errors_same_symbol", errors_same_symbol},
                      {"errors_other_symbol", errors_other_symbol}};
  if (has_distractors) {
    j["after_distractor"] = {{"accuracy", after_distractor.accuracy()}, {"count", after_distractor.total}};
    j["elsewhere"] = {{"accuracy", elsewhere.accuracy()}, {"count", elsewhere.total}};
  }
  return j;
}

}  // namespace selectiv::eval
