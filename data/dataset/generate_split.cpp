// SPDX-License-Identifier: BSD-3-Clause
// Split generation: blocks of samples built in parallel, appended in order.
#include "data/dataset/generate_split.hpp"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "data/grammar/sample.hpp"
#include "data/tasks/element_gaps.hpp"

namespace selectiv::data {

std::int64_t generate_split(const std::string& path, const TaskSpec& spec, Split split, const Grammar& grammar,
                            const Provenance& provenance, const GenerateOptions& options) {
  require_valid_task_spec(spec);
  const std::int64_t n = options.n_samples < 0 ? split_size(spec, split) : options.n_samples;
  DatasetWriter writer(path, spec, split, n, grammar, provenance, options.writer);
  SampleGenerator samples(grammar, spec.grammar);
  ForbiddenSymbols forbidden(grammar);
  const int threads = std::max(1, options.threads);
  const std::int64_t block = std::max<std::int64_t>(1, options.writer.rows_per_chunk);

  std::vector<SymbolSample> symbols(static_cast<std::size_t>(block));
  std::vector<SampleGaps> gaps(static_cast<std::size_t>(block));
  for (std::int64_t first = 0; first < n; first += block) {
    const std::int64_t count = std::min(block, n - first);
    auto build = [&](std::int64_t worker, std::exception_ptr* error) {
      try {
        for (std::int64_t k = worker; k < count; k += threads) {
          const std::int64_t index = sample_index(spec, split, first + k);
          symbols[static_cast<std::size_t>(k)] = samples.generate(index);
          gaps[static_cast<std::size_t>(k)] =
              draw_sample_gaps(spec, split, forbidden, symbols[static_cast<std::size_t>(k)].state_idx, index);
        }
      } catch (...) {
        *error = std::current_exception();
      }
    };
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
    if (threads == 1) {
      build(0, &errors[0]);
    } else {
      std::vector<std::thread> pool;
      for (int w = 0; w < threads; ++w) pool.emplace_back(build, w, &errors[static_cast<std::size_t>(w)]);
      for (std::thread& t : pool) t.join();
    }
    for (const std::exception_ptr& e : errors) {
      if (e) std::rethrow_exception(e);
    }
    for (std::int64_t k = 0; k < count; ++k) {
      writer.append(sample_index(spec, split, first + k), symbols[static_cast<std::size_t>(k)],
                    gaps[static_cast<std::size_t>(k)]);
    }
    if (options.progress) options.progress(first + count);
  }
  writer.commit();
  return n;
}

}  // namespace selectiv::data
