// SPDX-License-Identifier: BSD-3-Clause
#include "eval/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "kernels/nn/cross_entropy.hpp"
#include "kernels/nn/window_vote.hpp"

namespace selectiv::eval {
namespace {

std::int64_t count_correct(const Exec& exec, IView2 pred, DeviceView2<const int> target) {
  const int E = static_cast<int>(pred.extent(1));
  std::int64_t correct = 0;
  Kokkos::parallel_reduce(
      "selectiv::eval::count_correct", Kokkos::RangePolicy<Exec>(exec, 0, static_cast<int>(pred.extent(0)) * E),
      KOKKOS_LAMBDA(int i, std::int64_t& n) { n += pred(i / E, i % E) == target(i / E, i % E) ? 1 : 0; }, correct);
  return correct;
}

// Loss sum, valid steps and correct elements of one micro-batch, streamed over blocks of flattened steps.
struct MicroResult {
  double loss_sum = 0.0;
  std::int64_t n_valid = 0;
  std::int64_t correct = 0;
};

MicroResult evaluate_micro_batch(const Exec& exec, models::RecNet& net, const DeviceBatch& batch, View3 votes,
                                 View2 logits, IView2 pred, std::vector<int>* predictions) {
  const int d = net.dims().d_model, C = net.dims().n_classes;
  const std::int64_t rows = static_cast<std::int64_t>(batch.B) * batch.T;
  const std::int64_t block = static_cast<std::int64_t>(logits.extent(0));
  CView3 hidden = net.forward_hidden(exec, batch.inputs);  // (B, T, d)
  Kokkos::deep_copy(exec, votes, 0.0f);
  MicroResult r;
  for (std::int64_t r0 = 0; r0 < rows; r0 += block) {
    const std::int64_t n = std::min(block, rows - r0);
    View2 part(logits.data(), n, C);
    net.decode(exec, part, CView2(hidden.data() + r0 * d, n, d));
    nn::CrossEntropyLoss loss =
        nn::cross_entropy_fwd(exec, part, IView1(batch.targets.data() + r0, n), CView1(batch.mask.data() + r0, n));
    r.loss_sum += loss.sum;
    r.n_valid += loss.n_valid;
    nn::window_vote_accumulate(exec, votes, part, static_cast<int>(r0), batch.T, batch.window_start,
                               batch.window_length);
  }
  nn::window_vote_argmax(exec, pred, votes, batch.window_length);
  r.correct = count_correct(exec, pred, batch.element_target);
  if (predictions) {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pred);
    predictions->insert(predictions->end(), host.data(), host.data() + host.size());
  }
  return r;
}

}  // namespace

double batch_accuracy(const Exec& exec, CView3 logits, const DeviceBatch& batch) {
  IView2 pred("selectiv::eval::pred", batch.B, batch.E);
  nn::window_vote_fwd(exec, pred, logits, batch.window_start, batch.window_length);
  return static_cast<double>(count_correct(exec, pred, batch.element_target)) /
         (static_cast<double>(batch.B) * batch.E);
}

SplitMetrics evaluate_split(const Exec& exec, models::RecNet& net, BatchSource& source,
                            const EvaluationOptions& options, std::vector<int>* predictions, Progress* progress) {
  SELECTIV_REQUIRE(options.batch_size > 0 && options.max_tokens > 0 && options.logit_rows > 0,
                   ExitCode::kInvalidInput, "evaluation batch size, max tokens and logit rows must be positive");
  if (predictions) predictions->clear();
  SplitMetrics m;
  const std::int64_t N = source.size(), E = source.info().elements;
  const std::int64_t longest = std::max<std::int64_t>(1, source.info().max_steps);
  const int micro = static_cast<int>(
      std::clamp<std::int64_t>(options.max_tokens / longest, 1, std::min<std::int64_t>(options.batch_size, N)));
  const int C = net.dims().n_classes;
  View3 votes("selectiv::eval::votes", micro, E, C);
  View2 logits("selectiv::eval::logits", std::min<std::int64_t>(options.logit_rows, micro * longest), C);
  IView2 pred("selectiv::eval::pred", micro, E);
  std::int64_t correct = 0;
  for (std::int64_t first = 0; first < N; first += options.batch_size) {
    const int count = static_cast<int>(std::min<std::int64_t>(options.batch_size, N - first));
    MicroResult batch_total;
    for (int m0 = 0; m0 < count; m0 += micro) {
      const int mc = std::min(micro, count - m0);
      const DeviceBatch& batch = source.load(first + m0, mc);
      MicroResult r = evaluate_micro_batch(exec, net, batch, View3(votes.data(), mc, E, C), logits,
                                           IView2(pred.data(), mc, E), predictions);
      batch_total.loss_sum += r.loss_sum;
      batch_total.n_valid += r.n_valid;
      batch_total.correct += r.correct;
      if (progress) progress->advance(mc);
    }
    // PyTorch's mean over an empty selection is NaN; so is ours.
    const double batch_loss = batch_total.n_valid > 0 ? batch_total.loss_sum / batch_total.n_valid
                                                      : std::numeric_limits<double>::quiet_NaN();
    m.loss += batch_loss * count / static_cast<double>(N);
    correct += batch_total.correct;
    m.samples += count;
    m.elements += static_cast<std::int64_t>(count) * E;
    m.steps += batch_total.n_valid;
  }
  m.accuracy = m.elements > 0 ? static_cast<double>(correct) / m.elements : 0.0;
  return m;
}

}  // namespace selectiv::eval
