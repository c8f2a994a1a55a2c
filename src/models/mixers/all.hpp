// SPDX-License-Identifier: BSD-3-Clause
// Every mixer class of models/zoo.def.
#pragma once

#include "models/mixers/gla.hpp"
#include "models/mixers/mamba.hpp"
#include "models/mixers/transformer.hpp"
#include "models/mixers/mamba2.hpp"
#include "models/mixers/delta_net.hpp"
#include "models/mixers/gated_delta_net.hpp"
#include "models/mixers/gated_delta_product.hpp"
#include "models/mixers/retnet.hpp"
#include "models/mixers/linear_attention.hpp"
