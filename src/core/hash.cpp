// SPDX-License-Identifier: BSD-3-Clause
#include "core/hash.hpp"

#include <openssl/evp.h>

#include <cmath>
#include <memory>

#include "core/error.hpp"

namespace selectiv {

std::string sha256_hex(std::string_view bytes) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  SELECTIV_REQUIRE(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
                       EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) == 1 &&
                       EVP_DigestFinal_ex(ctx.get(), digest, &length) == 1,
                   ExitCode::kFailure, "OpenSSL SHA-256 failed");
  static const char* kHex = "0123456789abcdef";
  std::string out(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

namespace {
void require_finite(const nlohmann::json& value, const std::string& path) {
  if (value.is_number_float()) {
    SELECTIV_REQUIRE(std::isfinite(value.get<double>()), ExitCode::kInvalidInput,
                     "{}: non-finite number cannot be hashed as JSON", path.empty() ? "<root>" : path);
  } else if (value.is_object()) {
    for (const auto& [key, item] : value.items()) require_finite(item, path.empty() ? key : path + "." + key);
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) require_finite(value[i], path + "[" + std::to_string(i) + "]");
  }
}
}  // namespace

std::string canonical_json(const nlohmann::json& value) {
  require_finite(value, "");
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

std::string sha256_of_json(const nlohmann::json& value) { return sha256_hex(canonical_json(value)); }

}  // namespace selectiv
