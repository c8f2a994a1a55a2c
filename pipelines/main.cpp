// SPDX-License-Identifier: BSD-3-Clause
// The `selectiv` executable; everything lives in pipelines/cli.
#include "pipelines/cli/command.hpp"

int main(int argc, char** argv) { return selectiv::cli::run(argc, argv); }
