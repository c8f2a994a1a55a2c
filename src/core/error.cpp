// SPDX-License-Identifier: BSD-3-Clause
#include "core/error.hpp"

namespace selectiv {

const char* exit_code_name(ExitCode code) {
  switch (code) {
    case ExitCode::kOk: return "ok";
    case ExitCode::kFailure: return "failure";
    case ExitCode::kInvalidInput: return "invalid input";
    case ExitCode::kDiverged: return "diverged";
    case ExitCode::kInterrupted: return "interrupted";
  }
  return "unknown";
}

namespace detail {
void throw_error(ExitCode code, const char* file, int line, const char* function, const std::string& message) {
  if (code == ExitCode::kFailure) {
    throw Error(code, fmt::format("{} [{} at {}:{}]", message, function, file, line));
  }
  throw Error(code, message);
}
}  // namespace detail

}  // namespace selectiv
