// SPDX-License-Identifier: BSD-3-Clause
// Factory over the model list in models/zoo.def.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "models/mixer.hpp"
#include "models/mixers/all.hpp"

namespace selectiv::models {

int reference_num_heads(int d_model, int max_head_size) {
  if (d_model / max_head_size <= 4) return 4;
  for (int n = 4; n <= d_model; n *= 2) {
    if (d_model % n == 0 && d_model / n <= max_head_size) return n;
  }
  SELECTIV_REQUIRE(false, ExitCode::kInvalidInput, "d_model = {}: no power-of-two head count divides it", d_model);
  return 0;
}

const std::vector<std::string>& mixer_names() {
  static const std::vector<std::string> names = {
#define SELECTIV_MIXER(name, cls) #name,
#include "models/zoo.def"
#undef SELECTIV_MIXER
  };
  return names;
}

bool is_mixer(const std::string& name) {
  for (const auto& n : mixer_names()) {
    if (n == name) return true;
  }
  return false;
}

std::unique_ptr<Mixer> make_mixer(const std::string& name, const ModelDims& dims, const std::string& prefix) {
#define SELECTIV_MIXER(mixer_name, cls) \
  if (name == #mixer_name) return std::make_unique<cls>(dims, prefix);
#include "models/zoo.def"
#undef SELECTIV_MIXER
  throw Error(ExitCode::kInvalidInput,
              fmt::format("unknown model '{}' (known: {})", name, fmt::join(mixer_names(), ", ")));
}

}  // namespace selectiv::models
