// SPDX-License-Identifier: BSD-3-Clause
// Progress off a terminal: plain lines at the configured interval, no carriage returns, a final summary line.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/progress.hpp"

namespace selectiv {
namespace {
std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) out.append(buffer, n);
  return out;
}
int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}
}  // namespace

TEST(Progress, NonTerminalPrintsOneLinePerIntervalAndASummary) {
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  double now = 0.0;
  Progress::Options options;
  options.sink = sink;
  options.terminal = -1;  // decide from isatty: a temporary file is not a terminal
  options.line_interval_s = 5.0;
  options.clock = [&now]() { return now; };
  {
    Progress progress("generate", 100, "samples", options);
    for (int i = 0; i < 100; ++i) {
      now += 0.25;  // 25 s in all -> a line at 5, 10, 15, 20, 25 s
      progress.advance();
    }
    progress.finish();
  }
  std::string text = read_all(sink);
  std::fclose(sink);
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(count_lines(text), 5 + 1) << text;
  EXPECT_NE(text.find("generate: 20/100 samples | 4.0 samples/s | elapsed 5s | ETA 20s"), std::string::npos) << text;
  EXPECT_NE(text.find("generate: 100/100 samples in 25.0 s (4.0 samples/s)"), std::string::npos) << text;
}

TEST(Progress, TerminalRedrawsOneLineWithBarRateAndEta) {
  std::FILE* sink = std::tmpfile();
  ASSERT_NE(sink, nullptr);
  double now = 0.0;
  Progress::Options options;
  options.sink = sink;
  options.terminal = 1;
  options.clock = [&now]() { return now; };
  {
    Progress progress("train", 10, "steps", options);
    now = 1.0;
    progress.set(5);
    progress.finish();
  }
  std::string text = read_all(sink);
  std::fclose(sink);
  EXPECT_NE(text.find("\rtrain [###############...............]  50% 5/10 steps | 5.0 steps/s"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ETA 1s"), std::string::npos) << text;
  EXPECT_EQ(count_lines(text), 1) << text;
}

}  // namespace selectiv
