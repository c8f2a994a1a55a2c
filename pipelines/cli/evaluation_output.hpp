// SPDX-License-Identifier: BSD-3-Clause
// What `selectiv evaluate` and `selectiv generalize` share: the streaming options on the command line and the
// result table on stdout.
#pragma once

#include <CLI/CLI.hpp>

#include "eval/evaluation.hpp"

namespace selectiv::cli {

void add_evaluation_options(CLI::App& cmd, eval::EvaluationOptions& options);
void print_evaluation_header();
void print_evaluation_row(const eval::Evaluation& e);

}  // namespace selectiv::cli
