// SPDX-License-Identifier: BSD-3-Clause
#include "eval/evaluate.hpp"

#include <algorithm>

#include "kernels/nn/cross_entropy.hpp"
#include "kernels/nn/window_vote.hpp"

namespace selectiv::eval {

double batch_accuracy(const Exec& exec, CView3 logits, const DeviceBatch& batch, std::vector<int>* predictions) {
  IView2 pred("selectiv::eval::pred", batch.B, batch.E);
  nn::window_vote_fwd(exec, pred, logits, batch.window_start, batch.window_length);
  std::int64_t correct = 0;
  DeviceView2<const int> target = batch.element_target;
  const int E = batch.E;
  Kokkos::parallel_reduce(
      "selectiv::eval::count_correct", Kokkos::RangePolicy<Exec>(exec, 0, batch.B * E),
      KOKKOS_LAMBDA(int i, std::int64_t& n) { n += pred(i / E, i % E) == target(i / E, i % E) ? 1 : 0; }, correct);
  if (predictions) {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pred);
    predictions->insert(predictions->end(), host.data(), host.data() + host.size());
  }
  return static_cast<double>(correct) / (static_cast<double>(batch.B) * E);
}

SplitMetrics evaluate_split(const Exec& exec, models::RecNet& net, BatchSource& source, int batch_size,
                            std::vector<int>* predictions) {
  if (predictions) predictions->clear();
  SplitMetrics m;
  const std::int64_t N = source.size();
  for (std::int64_t first = 0; first < N; first += batch_size) {
    const int count = static_cast<int>(std::min<std::int64_t>(batch_size, N - first));
    const DeviceBatch& batch = source.load(first, count);
    CView3 logits = net.forward(exec, batch.inputs);
    CView2 rows(logits.data(), static_cast<std::size_t>(batch.B) * batch.T, logits.extent(2));
    nn::CrossEntropyLoss loss = nn::cross_entropy_fwd(exec, rows, batch.targets, batch.mask);
    double accuracy = batch_accuracy(exec, logits, batch, predictions);
    m.loss += loss.mean * count / static_cast<double>(N);
    m.accuracy += accuracy * count / static_cast<double>(N);
    m.samples += count;
    m.elements += static_cast<std::int64_t>(count) * batch.E;
    m.steps += loss.n_valid;
  }
  return m;
}

}  // namespace selectiv::eval
