// SPDX-License-Identifier: BSD-3-Clause
// `selectiv bench --model M --d D --T L --batch B --layers N`: milliseconds per training step (forward, fused
// cross-entropy, backward, clipping, Adam) and per forward pass alone on synthetic one-hot inputs, as the median of
// --steps fenced steps after --warmup steps, plus tokens/s and the peak bytes held in Kokkos allocations of the
// default memory space (kernels/common/memory_tracker.hpp) and the allocations per step. --profile N adds N fenced
// steps timed per kernel (kernels/common/kernel_profiler.hpp). The shapes of performance.md §3.3 are the defaults.
#include <fmt/format.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>

#include "kernels/common/compat.hpp"
#include "kernels/common/kernel_profiler.hpp"
#include "kernels/common/memory_tracker.hpp"
#include "kernels/common/precision.hpp"
#include "kernels/nn/adam.hpp"
#include "kernels/nn/cross_entropy.hpp"
#include "models/recnet.hpp"
#include "pipelines/cli/command.hpp"

namespace selectiv::cli {
namespace {

struct BenchArgs {
  std::string model = "gla";
  int d = 256, T = 400, batch = 64, layers = 8, heads = 0, d_state = 128, V = 41, C = 1601;
  int warmup = 3, steps = 10;
  std::string precision = "auto";
  int profile_steps = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Runs `steps` more training steps with every kernel and region fenced and timed, and prints where the time goes.
template <class Step>
void print_profile(const BenchArgs& a, Step& train_step, int first_step, double unfenced_step_ms) {
  const std::map<std::string, std::int64_t> allocations_before = tracked_allocations_by_label();
  start_kernel_profiling();
  Kokkos::Timer wall;
  for (int i = 0; i < a.profile_steps; ++i) train_step(first_step + i + 1);
  const double fenced_ms = 1e3 * wall.seconds() / a.profile_steps;
  stop_kernel_profiling();
  const std::vector<KernelTime> profile = kernel_profile();
  double kernels_ms = 0.0;
  for (const KernelTime& t : profile) kernels_ms += 1e3 * t.seconds / a.profile_steps;
  fmt::print(
      "profile ({} fenced steps): {:.2f} ms/step fenced, {:.2f} ms in kernels and regions, {:.2f} ms outside "
      "them (unfenced step {:.2f} ms)\n",
      a.profile_steps, fenced_ms, kernels_ms, fenced_ms - kernels_ms, unfenced_step_ms);
  fmt::print("{:>9} {:>6} {:>7}  {}\n", "ms/step", "share", "calls", "kernel or region");
  for (const KernelTime& t : profile) {
    const double ms = 1e3 * t.seconds / a.profile_steps;
    fmt::print("{:9.3f} {:5.1f}% {:7.0f}  {}\n", ms, 100.0 * ms / fenced_ms,
               static_cast<double>(t.calls) / a.profile_steps, t.name);
  }
  // Device allocations made during the profiled steps, by label: each is a cudaMalloc + synchronising cudaFree on
  // CUDA, so a step that allocates shows which temporaries escaped the workspaces.
  std::vector<std::pair<std::int64_t, std::string>> allocations;
  for (const auto& [label, count] : tracked_allocations_by_label()) {
    const auto before = allocations_before.find(label);
    const std::int64_t made = count - (before == allocations_before.end() ? 0 : before->second);
    if (made > 0) allocations.emplace_back(made, label);
  }
  std::sort(allocations.rbegin(), allocations.rend());
  for (const auto& [made, label] : allocations) {
    fmt::print("{:9.1f} allocations/step  {}\n", static_cast<double>(made) / a.profile_steps, label);
  }
  // What the peak device memory is made of, largest labels first.
  std::vector<std::pair<std::int64_t, std::string>> held;
  std::int64_t peak_bytes = 0;
  for (const auto& [label, bytes] : tracked_peak_by_label()) {
    held.emplace_back(bytes, label);
    peak_bytes += bytes;
  }
  std::sort(held.rbegin(), held.rend());
  fmt::print("peak {:.3f} GiB held by (largest first):\n", static_cast<double>(peak_bytes) / (1 << 30));
  for (std::size_t i = 0; i < held.size() && i < 25; ++i) {
    fmt::print("{:9.3f} GiB  {}\n", static_cast<double>(held[i].first) / (1 << 30), held[i].second);
  }
}

ExitCode run_bench(const BenchArgs& a) {
  ensure_kokkos();
  std::optional<MatmulPrecision> resolved;
  try {
    resolved = resolve_matmul_precision(a.precision);  // auto: the precision a training run gets
  } catch (const std::invalid_argument&) {
  }
  SELECTIV_REQUIRE(resolved.has_value(), ExitCode::kInvalidInput,
                   "--precision {}: needs a CUDA build with Kokkos Kernels' cuBLAS TPL", a.precision);
  const MatmulPrecision precision = *resolved;
  set_matmul_precision(precision);
  start_memory_tracking();
  models::ModelDims dims;
  dims.mixer = a.model;
  dims.input_size = a.V;
  dims.n_classes = a.C;
  dims.d_model = a.d;
  dims.n_heads = a.heads > 0 ? a.heads : models::reference_num_heads(a.d);
  dims.layers = a.layers;
  dims.d_state = a.d_state;
  models::RecNet net(dims);
  net.params().allocate(1);

  // Synthetic batch: one-hot symbols, random targets, every step valid.
  const std::size_t rows = static_cast<std::size_t>(a.batch) * a.T;
  View3 input("selectiv::bench::input", a.batch, a.T, a.V);
  IView1 targets("selectiv::bench::targets", rows);
  View1 mask("selectiv::bench::mask", rows);
  {
    auto h_input = Kokkos::create_mirror_view(input);
    auto h_targets = Kokkos::create_mirror_view(targets);
    std::mt19937 rng(7);
    for (std::size_t r = 0; r < rows; ++r) {
      h_input.data()[r * a.V + rng() % a.V] = 1.0f;
      h_targets(r) = static_cast<int>(rng() % a.C);
    }
    Kokkos::deep_copy(input, h_input);
    Kokkos::deep_copy(targets, h_targets);
    Kokkos::deep_copy(mask, 1.0f);
  }
  View2 dlogits("selectiv::bench::dlogits", rows, a.C);
  Exec exec;
  Kokkos::Timer timer;
  double forward_seconds = 0.0;
  auto train_step = [&](int step_number) {
    kc::fence("selectiv::bench::start");
    timer.reset();
    CView3 logits = net.forward(exec, input);
    kc::fence("selectiv::bench::forward");
    forward_seconds = timer.seconds();
    nn::cross_entropy_fwd_bwd(exec, dlogits, CView2(logits.data(), rows, a.C), targets, mask);
    net.params().zero_grads();
    net.backward(exec, CView3(dlogits.data(), a.batch, a.T, a.C));
    nn::clip_grad_norm(exec, net.params().grads(), 1.0);
    nn::adam_update(exec, net.params().values(), net.params().adam_m(), net.params().adam_v(), net.params().grads(),
                    1e-4, step_number);
    kc::fence("selectiv::bench::step");
    return timer.seconds();
  };
  std::vector<double> step_ms, forward_ms;
  std::int64_t allocations_before = 0;
  for (int i = 0; i < a.warmup + a.steps; ++i) {
    if (i == a.warmup) allocations_before = tracked_allocation_count();
    const double step = train_step(i + 1);
    if (i >= a.warmup) {
      step_ms.push_back(1e3 * step);
      forward_ms.push_back(1e3 * forward_seconds);
    }
  }
  const double allocations_per_step =
      static_cast<double>(tracked_allocation_count() - allocations_before) / static_cast<double>(a.steps);
  const double step = median(step_ms), fwd = median(forward_ms);
  const double peak_gib = static_cast<double>(tracked_bytes_peak()) / (1024.0 * 1024.0 * 1024.0);
  fmt::print(
      "model {} d {} T {} batch {} layers {} heads {} params {} precision {}: step {:.2f} ms, forward {:.2f} "
      "ms, {:.0f} tokens/s, peak {:.2f} GiB, {:.0f} allocations/step (median of {}, {} warm-up)\n",
      a.model, a.d, a.T, a.batch, a.layers, dims.n_heads, net.params().trainable_count(),
      matmul_precision_name(precision), step, fwd, rows / (step / 1e3), peak_gib, allocations_per_step, a.steps,
      a.warmup);
  if (a.profile_steps > 0) print_profile(a, train_step, a.warmup + a.steps, step);
  return ExitCode::kOk;
}

}  // namespace

void add_bench_command(CLI::App& app, Registry& registry) {
  CLI::App* cmd = app.add_subcommand("bench", "Time training steps of a model at a given shape");
  auto a = std::make_shared<BenchArgs>();
  cmd->add_option("--model", a->model, "Model name from the model list");
  cmd->add_option("--d", a->d, "d_model")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--T", a->T, "Sequence length (time steps)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--batch", a->batch, "Batch size")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--layers", a->layers, "Layers")->check(CLI::Range(1, 1024));
  cmd->add_option("--heads", a->heads, "Heads (0: the reference's rule)")->check(CLI::Range(0, 4096));
  cmd->add_option("--d-state", a->d_state, "Mamba/Mamba2 state size")->check(CLI::Range(1, 4096));
  cmd->add_option("--vocab", a->V, "Input size V")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--classes", a->C, "Output classes C")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--warmup", a->warmup, "Untimed steps first")->check(CLI::Range(0, 1000));
  cmd->add_option("--steps", a->steps, "Timed steps (median reported)")->check(CLI::Range(1, 100000));
  cmd->add_option("--profile", a->profile_steps,
                  "Then run this many steps with every kernel fenced and print the time per kernel and region")
      ->check(CLI::Range(0, 1000));
  cmd->add_option(
         "--precision", a->precision,
         "Matmul precision: auto (what a training run gets: bf16 on CUDA, fp32 elsewhere), fp32, or tf32 / bf16 "
         "(CUDA with cuBLAS only)")
      ->check(CLI::IsMember({"auto", "fp32", "tf32", "bf16"}));
  cmd->callback([&registry, a]() {
    registry.action = [a]() {
      if (!models::is_mixer(a->model)) {
        throw Error(ExitCode::kInvalidInput, fmt::format("--model {}: not in the model list", a->model));
      }
      return run_bench(*a);
    };
  });
}

}  // namespace selectiv::cli
