// SPDX-License-Identifier: BSD-3-Clause
#include "core/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace selectiv {
namespace {
double steady_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string format_duration(double s) {
  if (s < 0 || s != s) return "?";
  auto total = static_cast<long long>(s + 0.5);
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}
}  // namespace

Progress::Progress(std::string label, std::int64_t total, std::string unit)
    : Progress(std::move(label), total, std::move(unit), Options{}) {}

Progress::Progress(std::string label, std::int64_t total, std::string unit, Options options)
    : m_label(std::move(label)), m_total(std::max<std::int64_t>(total, 0)), m_unit(std::move(unit)),
      m_options(std::move(options)) {
  if (!m_options.clock) m_options.clock = steady_seconds;
  m_terminal = m_options.terminal < 0 ? isatty(fileno(m_options.sink)) == 1 : m_options.terminal == 1;
  m_start = m_options.clock();
  m_last_report = m_start;
}

Progress::~Progress() {
  if (!m_finished && m_terminal) std::fputc('\n', m_options.sink);  // leave the bar's line intact
}

void Progress::advance(std::int64_t n) { set(m_done + n); }

void Progress::set(std::int64_t done) {
  m_done = done;
  maybe_report(false);
}

std::string Progress::status_text(double elapsed) const {
  double rate = elapsed > 0 ? static_cast<double>(m_done) / elapsed : 0.0;
  double eta = rate > 0 ? static_cast<double>(m_total - m_done) / rate : -1.0;
  return fmt::format("{}/{} {} | {:.1f} {}/s | elapsed {} | ETA {}", m_done, m_total, m_unit, rate, m_unit,
                     format_duration(elapsed), format_duration(eta));
}

void Progress::maybe_report(bool force) {
  double now = m_options.clock();
  double interval = m_terminal ? m_options.redraw_interval_s : m_options.line_interval_s;
  if (!force && now - m_last_report < interval) return;
  m_last_report = now;
  double elapsed = now - m_start;
  if (m_terminal) {
    constexpr int kWidth = 30;
    double fraction = m_total > 0 ? std::min(1.0, static_cast<double>(m_done) / m_total) : 1.0;
    int filled = static_cast<int>(fraction * kWidth);
    fmt::print(m_options.sink, "\r{} [{}{}] {:3.0f}% {}", m_label, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), 100.0 * fraction, status_text(elapsed));
  } else {
    fmt::print(m_options.sink, "{}: {}\n", m_label, status_text(elapsed));
  }
  std::fflush(m_options.sink);
}

void Progress::finish() {
  if (m_finished) return;
  m_finished = true;
  double elapsed = m_options.clock() - m_start;
  double rate = elapsed > 0 ? static_cast<double>(m_done) / elapsed : 0.0;
  fmt::print(m_options.sink, "{}{}: {}/{} {} in {:.1f} s ({:.1f} {}/s)\n", m_terminal ? "\r\x1b[2K" : "", m_label,
             m_done, m_total, m_unit, elapsed, rate, m_unit);
  std::fflush(m_options.sink);
}

}  // namespace selectiv
