// SPDX-License-Identifier: BSD-3-Clause
// Progress of long work on stderr, never stdout: on a terminal a redrawn bar with rate and ETA; otherwise (Slurm
// logs, pipes) one plain line every few seconds so log files stay readable.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace selectiv {

class Progress {
 public:
  struct Options {
    std::FILE* sink = stderr;
    int terminal = -1;                       // 1 bar, 0 lines, -1 decide from isatty(sink)
    double line_interval_s = 5.0;            // non-terminal: at most one line per interval
    double redraw_interval_s = 0.1;          // terminal: at most one redraw per interval
    std::function<double()> clock = nullptr; // seconds; steady_clock when empty (tests inject one)
  };

  Progress(std::string label, std::int64_t total, std::string unit = "it");
  Progress(std::string label, std::int64_t total, std::string unit, Options options);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::int64_t n = 1);
  void set(std::int64_t done);
  // Final line (always printed once), e.g. "generate: 1000/1000 samples in 3.2 s (312 samples/s)".
  void finish();

  std::int64_t done() const { return m_done; }

 private:
  void maybe_report(bool force);
  std::string status_text(double elapsed) const;

  std::string m_label;
  std::int64_t m_total;
  std::string m_unit;
  Options m_options;
  bool m_terminal = false;
  bool m_finished = false;
  std::int64_t m_done = 0;
  double m_start = 0.0;
  double m_last_report = 0.0;
};

}  // namespace selectiv
