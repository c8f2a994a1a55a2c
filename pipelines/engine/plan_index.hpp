// SPDX-License-Identifier: BSD-3-Clause
// A compact record of an expanded plan (stage, key, inputs, declared outputs, label of every instance), kept at
// <store>/pipelines/<name>.index and valid for one fingerprint: the SHA-256 of the pipeline document after --set
// overrides, the code version, the backend and this format's version. It lets a rerun of a finished pipeline
// check the store without expanding the grid and hashing every instance again (the slow part for tens of thousands
// of instances); when anything is not up to date, the full plan is built as usual.
#pragma once

#include <optional>
#include <string>

#include "core/config.hpp"
#include "pipelines/engine/instance.hpp"
#include "pipelines/engine/store.hpp"

namespace selectiv::engine {

std::string plan_fingerprint(const ConfigDocument& doc, const CodeIdentity& code);
std::string plan_index_path(const Store& store, const std::string& pipeline);
void write_plan_index(const Store& store, const Plan& plan, const std::string& fingerprint);
// Whether the index of `pipeline` was recorded for this fingerprint (reads its first lines only).
bool plan_index_matches(const Store& store, const std::string& pipeline, const std::string& fingerprint);
// The recorded plan (instances without parameters or payload: enough for Store checks), or nothing when there is
// no index for this fingerprint.
std::optional<Plan> read_plan_index(const Store& store, const std::string& pipeline, const std::string& fingerprint);

}  // namespace selectiv::engine
