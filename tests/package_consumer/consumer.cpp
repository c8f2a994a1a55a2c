// SPDX-License-Identifier: BSD-3-Clause
// Uses the installed selectiv::core: hashes a known string and checks the digest (FIPS 180-2 "abc").
#include <cstdio>

#include "core/hash.hpp"

int main() {
  const char* expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  bool ok = selectiv::sha256_hex("abc") == expected;
  std::printf("%s\n", ok ? "consumer: ok" : "consumer: wrong digest");
  return ok ? 0 : 1;
}
