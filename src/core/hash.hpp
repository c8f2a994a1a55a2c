// SPDX-License-Identifier: BSD-3-Clause
// Content hashing: SHA-256 (OpenSSL EVP) of bytes, and of canonical JSON (sorted keys, no whitespace, shortest
// round-trip numbers), which is what every cache key and dataset provenance attribute is made of.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace selectiv {

std::string sha256_hex(std::string_view bytes);
// Canonical text of a JSON value: object keys sorted (nlohmann::json keeps them in a std::map), no whitespace,
// UTF-8 as is. Non-finite numbers are rejected (kInvalidInput), since JSON cannot carry them.
std::string canonical_json(const nlohmann::json& value);
std::string sha256_of_json(const nlohmann::json& value);

}  // namespace selectiv
