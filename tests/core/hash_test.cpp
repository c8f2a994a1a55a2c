// SPDX-License-Identifier: BSD-3-Clause
// SHA-256 against the FIPS 180-2 / NIST known answers, and the canonical JSON form that keys are hashed from.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/hash.hpp"

namespace selectiv {

TEST(Sha256, NistKnownAnswers) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(CanonicalJson, SortsKeysAndDropsWhitespaceWhateverTheInsertionOrder) {
  nlohmann::json a = nlohmann::json::parse(R"({"b": 1, "a": {"y": [1, 2.5, "x"], "x": true}})");
  nlohmann::json b;
  b["a"]["x"] = true;
  b["a"]["y"] = {1, 2.5, "x"};
  b["b"] = 1;
  EXPECT_EQ(canonical_json(a), R"({"a":{"x":true,"y":[1,2.5,"x"]},"b":1})");
  EXPECT_EQ(sha256_of_json(a), sha256_of_json(b));
  EXPECT_EQ(sha256_of_json(a), sha256_hex(R"({"a":{"x":true,"y":[1,2.5,"x"]},"b":1})"));
}

TEST(CanonicalJson, NumbersRoundTripAndDistinguishIntegersFromFloats) {
  EXPECT_EQ(canonical_json(nlohmann::json{{"lr", 0.001}, {"steps", 3125}, {"w", 1.0}}),
            R"({"lr":0.001,"steps":3125,"w":1.0})");
  EXPECT_NE(sha256_of_json(nlohmann::json{{"w", 1}}), sha256_of_json(nlohmann::json{{"w", 1.0}}));
}

TEST(CanonicalJson, RejectsNonFiniteNumbers) {
  nlohmann::json j = {{"a", {{"b", std::numeric_limits<double>::infinity()}}}};
  try {
    canonical_json(j);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("a.b"), std::string::npos) << e.what();
  }
}

}  // namespace selectiv
