// SPDX-License-Identifier: BSD-3-Clause
// Errors and exit codes (DESIGN.md "Errors and exit codes"): one exception type that carries the exit code the
// process should end with, and one checking macro that adds the source location. Header-only (with fmt): the one
// header of src/ that every layer, data/ included, may use, so a bad input file fails with exit code 2 wherever it
// is detected.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace selectiv {

// Process exit codes; every command maps its outcome onto exactly these.
enum class ExitCode : int {
  kOk = 0,            // success, or everything already up to date
  kFailure = 1,       // internal or I/O error
  kInvalidInput = 2,  // bad CLI argument, config value or data file (the message names the key or path)
  kDiverged = 3,      // non-finite loss or gradients
  kInterrupted = 75,  // SIGTERM/SIGINT after a resumable checkpoint was written
};

inline const char* exit_code_name(ExitCode code) {
  switch (code) {
    case ExitCode::kOk: return "ok";
    case ExitCode::kFailure: return "failure";
    case ExitCode::kInvalidInput: return "invalid input";
    case ExitCode::kDiverged: return "diverged";
    case ExitCode::kInterrupted: return "interrupted";
  }
  return "unknown";
}

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), m_code(code) {}
  ExitCode code() const { return m_code; }

 private:
  ExitCode m_code;
};

namespace detail {
[[noreturn]] inline void throw_error(ExitCode code, const char* file, int line, const char* function,
                                     const std::string& message) {
  if (code == ExitCode::kFailure) {
    throw Error(code, fmt::format("{} [{} at {}:{}]", message, function, file, line));
  }
  throw Error(code, message);
}
}  // namespace detail

}  // namespace selectiv

// SELECTIV_REQUIRE(condition, ExitCode::kX, "fmt {}", args...): throws selectiv::Error when the condition is false.
// Internal failures (kFailure) get the C++ source location appended; user-facing codes keep the message as written,
// because the message itself names the offending key, path or file:line.
#define SELECTIV_REQUIRE(condition, code, ...)                                                          \
  do {                                                                                                  \
    if (!(condition)) {                                                                                 \
      ::selectiv::detail::throw_error(::selectiv::code, __FILE__, __LINE__, __func__, fmt::format(__VA_ARGS__)); \
    }                                                                                                   \
  } while (false)
