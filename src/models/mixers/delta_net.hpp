// SPDX-License-Identifier: BSD-3-Clause
// DeltaNet mixer: fla DeltaNet(hidden_size=d, num_heads=H, use_short_conv=True, expand_k=1, expand_v=2,
// conv_size=4) (reference-spec §5.6, golden/README.md §4.3): no decay, one sub-step per token, beta = sigmoid,
// output RMSNorm per head without gate. The maths is models/mixers/delta_common.hpp.
#pragma once

#include "models/mixers/delta_common.hpp"

namespace selectiv::models {

class DeltaNetMixer : public DeltaFamilyMixer {
 public:
  DeltaNetMixer(const ModelDims& dims, std::string prefix);
};

}  // namespace selectiv::models
