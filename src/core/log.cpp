// SPDX-License-Identifier: BSD-3-Clause
#include "core/log.hpp"

#include <mutex>

namespace selectiv::log {
namespace {
Level g_level = Level::kInfo;
int g_rank = 0;
int g_size = 1;
std::FILE* g_sink = nullptr;
std::mutex g_mutex;

const char* level_tag(Level level) {
  switch (level) {
    case Level::kDebug: return "debug: ";
    case Level::kWarn: return "warning: ";
    case Level::kError: return "error: ";
    default: return "";
  }
}
}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }
void set_rank(int rank, int size) {
  g_rank = rank;
  g_size = size;
}
void set_sink(std::FILE* sink) { g_sink = sink; }

void write(Level level, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::FILE* out = g_sink ? g_sink : stderr;
  std::string prefix = g_size > 1 ? fmt::format("[rank {}/{}] ", g_rank, g_size) : std::string();
  fmt::print(out, "{}{}{}\n", prefix, level_tag(level), message);
  std::fflush(out);
}

}  // namespace selectiv::log
