// SPDX-License-Identifier: BSD-3-Clause
// The task spec as root attributes of a dataset file (one attribute per field, names in data/SCHEMA.md), written
// by DatasetWriter and read back by DatasetReader.
#pragma once

#include "data/h5/file.hpp"
#include "data/tasks/task_spec.hpp"

namespace selectiv::data {

void write_spec_attributes(h5::Object& object, const TaskSpec& spec);
// Throws selectiv::Error(kInvalidInput) naming the file and attribute when one is missing or of the wrong kind,
// or when the spec they make is invalid.
TaskSpec read_spec_attributes(const h5::Object& object);

}  // namespace selectiv::data
