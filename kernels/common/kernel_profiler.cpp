// SPDX-License-Identifier: BSD-3-Clause
#include "kernels/common/kernel_profiler.hpp"

#include <algorithm>
#include <cstdint>
#include <map>

#include "kernels/common/compat.hpp"

namespace selectiv {
namespace {

struct Profiler {
  std::map<std::string, KernelTime> totals;
  bool active = false;
  int depth = 0;          // kernels and regions entered and not left
  std::string outermost;  // name of the entry that opened depth 1
  Kokkos::Timer timer;
};

Profiler& profiler() {
  static Profiler p;
  return p;
}

void enter(const char* name) {
  Profiler& p = profiler();
  if (p.depth++ > 0) return;
  kc::fence("selectiv::kernel_profiler::enter");
  p.outermost = name;
  p.timer.reset();
}

void leave() {
  Profiler& p = profiler();
  if (--p.depth > 0) return;
  kc::fence("selectiv::kernel_profiler::leave");
  KernelTime& t = p.totals[p.outermost];
  t.name = p.outermost;
  t.seconds += p.timer.seconds();
  ++t.calls;
}

void on_begin_kernel(const char* name, const std::uint32_t, std::uint64_t*) { enter(name); }
void on_end_kernel(const std::uint64_t) { leave(); }
void on_push_region(const char* name) { enter(name); }
void on_pop_region() { leave(); }

// Installs the profiler's callbacks, or removes them when `on` is false.
void install_callbacks(bool on) {
  namespace tools = Kokkos::Tools::Experimental;
  tools::set_begin_parallel_for_callback(on ? on_begin_kernel : nullptr);
  tools::set_end_parallel_for_callback(on ? on_end_kernel : nullptr);
  tools::set_begin_parallel_reduce_callback(on ? on_begin_kernel : nullptr);
  tools::set_end_parallel_reduce_callback(on ? on_end_kernel : nullptr);
  tools::set_begin_parallel_scan_callback(on ? on_begin_kernel : nullptr);
  tools::set_end_parallel_scan_callback(on ? on_end_kernel : nullptr);
  tools::set_push_region_callback(on ? on_push_region : nullptr);
  tools::set_pop_region_callback(on ? on_pop_region : nullptr);
}

}  // namespace

void start_kernel_profiling() {
  profiler().totals.clear();
  profiler().depth = 0;
  profiler().active = true;
  install_callbacks(true);
}

void stop_kernel_profiling() {
  install_callbacks(false);
  profiler().active = false;
}

bool kernel_profiling_active() { return profiler().active; }

std::vector<KernelTime> kernel_profile() {
  std::vector<KernelTime> out;
  for (const auto& [name, t] : profiler().totals) out.push_back(t);
  std::sort(out.begin(), out.end(), [](const KernelTime& a, const KernelTime& b) { return a.seconds > b.seconds; });
  return out;
}

}  // namespace selectiv
