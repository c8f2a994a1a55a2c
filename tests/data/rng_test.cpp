// SPDX-License-Identifier: BSD-3-Clause
// Known-answer tests of the reference-compatible RNGs (data/rng/). Every expected value was produced with Debian's
// numpy 1.24.2 / CPython 3.11.2 by the Python expression quoted above it (`numpy` and `random` imported).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "data/rng/numpy_generator.hpp"
#include "data/rng/pcg64.hpp"
#include "data/rng/python_random.hpp"
#include "data/rng/seed_sequence.hpp"

namespace selectiv::data {
namespace {

std::vector<std::int64_t> draw_integers(NumpyGenerator& rng, std::int64_t low, std::int64_t high, int n) {
  return rng.integers(low, high, static_cast<std::size_t>(n));
}

TEST(RngSeedSequence, GenerateStateMatchesNumpy) {
  // numpy.random.SeedSequence(5).generate_state(4, numpy.uint64)
  EXPECT_EQ(SeedSequence(5).generate_state64(4),
            (std::vector<std::uint64_t>{12631478326263854183ULL, 4464650224815488352ULL, 6320729261375576658ULL,
                                        2846562751307321766ULL}));
  // numpy.random.SeedSequence(0).generate_state(8)
  EXPECT_EQ(SeedSequence(0).generate_state32(8),
            (std::vector<std::uint32_t>{2968811710u, 3677149159u, 745650761u, 2884920346u, 2642120001u, 549907821u,
                                        574372308u, 742431198u}));
  // numpy.random.SeedSequence(2**40 + 7).generate_state(4)   (two entropy words)
  EXPECT_EQ(SeedSequence((1ULL << 40) + 7).generate_state32(4),
            (std::vector<std::uint32_t>{238885397u, 226915041u, 1322230113u, 2599373530u}));
  // numpy.random.SeedSequence(sum(w << (32 * i) for i, w in enumerate([1, 2, 3, 4, 5, 6]))).generate_state(4)
  // (more entropy words than the pool holds)
  EXPECT_EQ(SeedSequence(std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6}).generate_state32(4),
            (std::vector<std::uint32_t>{488360481u, 3956080669u, 2986500235u, 3488252836u}));
}

TEST(RngSeedSequence, ProductWordsAreThePythonIntsWords) {
  EXPECT_EQ(uint32_words_of_product(0, 12345), (std::vector<std::uint32_t>{0u}));
  EXPECT_EQ(uint32_words_of_product(4, 199999), (std::vector<std::uint32_t>{799996u}));
  // (2**64 - 1) * (2**64 - 1) = 2**128 - 2**65 + 1 -> words [1, 0, 0xfffffffe, 0xffffffff]
  EXPECT_EQ(uint32_words_of_product(~0ULL, ~0ULL), (std::vector<std::uint32_t>{1u, 0u, 0xfffffffeu, 0xffffffffu}));
  // 3 * 2**40 -> words [0, 3 << 8]
  EXPECT_EQ(uint32_words_of_product(3, 1ULL << 40), (std::vector<std::uint32_t>{0u, 768u}));
}

TEST(RngPcg64, SeededStateAndRawOutputMatchNumpy) {
  Pcg64 bits(SeedSequence(5));
  // hex(numpy.random.PCG64(5).state['state']['state']), hex(...['inc'])
  EXPECT_EQ(bits.state().high, 0xe500c1d129ce9183ULL);
  EXPECT_EQ(bits.state().low, 0xd973b921e554efeeULL);
  EXPECT_EQ(bits.increment().high, 0xaf6f7b8c936ab4a4ULL);
  EXPECT_EQ(bits.increment().low, 0x4f020b7b2d10234dULL);
  // numpy.random.default_rng(5).bit_generator.random_raw(4)
  const std::vector<std::uint64_t> expected{14849682912918955432ULL, 14903876974979881461ULL, 9506078739185184192ULL,
                                            5272104914398938230ULL};
  for (std::uint64_t value : expected) EXPECT_EQ(bits.next_uint64(), value);
}

TEST(RngPcg64, Uint32DrawsAreBufferedHalvesLowFirst) {
  Pcg64 whole(SeedSequence(5)), halves(SeedSequence(5));
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t raw = whole.next_uint64();
    EXPECT_EQ(halves.next_uint32(), static_cast<std::uint32_t>(raw));
    EXPECT_TRUE(halves.has_uint32());
    EXPECT_EQ(halves.next_uint32(), static_cast<std::uint32_t>(raw >> 32));
    EXPECT_FALSE(halves.has_uint32());
  }
}

TEST(RngNumpyGenerator, RandomMatchesNumpy) {
  NumpyGenerator rng = NumpyGenerator::default_rng(5);
  // numpy.random.default_rng(5).random(4)
  for (double value : {0.8050029237453802, 0.8079407897364937, 0.515325561042142, 0.2858013800881416}) {
    EXPECT_EQ(rng.random(), value);
  }
}

TEST(RngNumpyGenerator, IntegersMatchNumpy) {
  NumpyGenerator rng5 = NumpyGenerator::default_rng(5);
  // numpy.random.default_rng(5).integers(0, 100, 10)
  EXPECT_EQ(draw_integers(rng5, 0, 100, 10), (std::vector<std::int64_t>{67, 80, 2, 80, 46, 51, 63, 28, 97, 5}));
  NumpyGenerator rng3 = NumpyGenerator::default_rng(3);
  // numpy.random.default_rng(3).integers(-5, 2**40, 4)   (64-bit Lemire)
  EXPECT_EQ(draw_integers(rng3, -5, 1LL << 40, 4),
            (std::vector<std::int64_t>{94172255179LL, 260375905578LL, 881010591533LL, 640093927900LL}));
  NumpyGenerator rng3b = NumpyGenerator::default_rng(3);
  // numpy.random.default_rng(3).integers(0, 2**32, 4)   (range 2**32 - 1: plain 32-bit draws)
  EXPECT_EQ(draw_integers(rng3b, 0, 1LL << 32, 4),
            (std::vector<std::int64_t>{3485385464LL, 367860371LL, 770692085LL, 1017093381LL}));
}

TEST(RngNumpyGenerator, SpareUint32PersistsAcrossCallsAndRandomLeavesIt) {
  NumpyGenerator rng = NumpyGenerator::default_rng(7);
  // (lambda g: [g.integers(0, 100), g.random(), g.integers(0, 4), g.integers(0, 4), g.random(), g.integers(0, 4)])
  //     (numpy.random.default_rng(7))
  EXPECT_EQ(rng.integers(0, 100), 94);
  EXPECT_EQ(rng.random(), 0.8972138009695755);
  EXPECT_EQ(rng.integers(0, 4), 2);
  EXPECT_EQ(rng.integers(0, 4), 2);
  EXPECT_EQ(rng.random(), 0.22520718999059186);
  EXPECT_EQ(rng.integers(0, 4), 3);
}

TEST(RngNumpyGenerator, PermutationMatchesNumpy) {
  NumpyGenerator rng = NumpyGenerator::default_rng(11);
  // numpy.random.default_rng(11).permutation(10)
  EXPECT_EQ(rng.permutation(10), (std::vector<std::int64_t>{8, 5, 6, 1, 9, 3, 4, 2, 7, 0}));
  NumpyGenerator rng40 = NumpyGenerator::default_rng(11);
  // numpy.random.default_rng(11).permutation(40)
  EXPECT_EQ(rng40.permutation(40),
            (std::vector<std::int64_t>{1,  6,  5,  26, 4,  34, 37, 27, 11, 18, 0,  7,  39, 9,  29, 15, 2,  24, 8,  33,
                                       3,  36, 28, 38, 17, 12, 25, 32, 22, 23, 21, 35, 20, 31, 13, 19, 30, 10, 16, 14}));
  NumpyGenerator rng1 = NumpyGenerator::default_rng(11);
  // (lambda g: [g.permutation(1)[0], g.random()])(numpy.random.default_rng(11))   (permutation(1) draws nothing)
  EXPECT_EQ(rng1.permutation(1), (std::vector<std::int64_t>{0}));
  EXPECT_EQ(rng1.random(), 0.12857020276919962);
}

TEST(RngNumpyGenerator, ChoiceWithoutReplacementMatchesNumpy) {
  NumpyGenerator rng1 = NumpyGenerator::default_rng(1);
  // numpy.random.default_rng(1).choice(1601, 4, replace=False)   (Floyd + shuffle)
  EXPECT_EQ(rng1.choice_without_replacement(1601, 4), (std::vector<std::int64_t>{1208, 818, 1521, 756}));
  NumpyGenerator rng1b = NumpyGenerator::default_rng(1);
  // numpy.random.default_rng(1).choice(10, 10, replace=False)
  EXPECT_EQ(rng1b.choice_without_replacement(10, 10), (std::vector<std::int64_t>{0, 2, 8, 5, 6, 4, 1, 9, 7, 3}));
  NumpyGenerator rng2 = NumpyGenerator::default_rng(2);
  // numpy.random.default_rng(2).choice(20000, 100, replace=False)[:6]   (Floyd: 100 <= 20000 // 50)
  std::vector<std::int64_t> floyd = rng2.choice_without_replacement(20000, 100);
  ASSERT_EQ(floyd.size(), 100u);
  EXPECT_EQ(std::vector<std::int64_t>(floyd.begin(), floyd.begin() + 6),
            (std::vector<std::int64_t>{6777, 19482, 13096, 16207, 2989, 11118}));
  NumpyGenerator rng2b = NumpyGenerator::default_rng(2);
  // numpy.random.default_rng(2).choice(20000, 500, replace=False)[:6]   (tail shuffle: 500 > 20000 // 50)
  std::vector<std::int64_t> tail = rng2b.choice_without_replacement(20000, 500);
  ASSERT_EQ(tail.size(), 500u);
  EXPECT_EQ(std::vector<std::int64_t>(tail.begin(), tail.begin() + 6),
            (std::vector<std::int64_t>{3103, 18508, 19833, 18957, 3096, 15946}));
}

TEST(RngPythonRandom, GetrandbitsMatchesCPython) {
  PythonRandom r42(42);
  // (lambda r: [r.getrandbits(32), r.getrandbits(5), r.getrandbits(40), r.getrandbits(64), r.getrandbits(1)])
  //     (random.Random(42))
  EXPECT_EQ(r42.getrandbits(32), 2746317213ULL);
  EXPECT_EQ(r42.getrandbits(5), 3ULL);
  EXPECT_EQ(r42.getrandbits(40), 811856239313ULL);
  EXPECT_EQ(r42.getrandbits(64), 4517457392071889495ULL);
  EXPECT_EQ(r42.getrandbits(1), 0ULL);
  // (lambda r: [r.getrandbits(32) for _ in range(3)])(random.Random(0))
  PythonRandom r0(0);
  for (std::uint64_t value : {3626764237ULL, 1654615998ULL, 3255389356ULL}) EXPECT_EQ(r0.getrandbits(32), value);
  // (lambda r: [r.getrandbits(32) for _ in range(3)])(random.Random(2**40 + 3))   (two-word key)
  PythonRandom r_big((1ULL << 40) + 3);
  for (std::uint64_t value : {943978446ULL, 261273136ULL, 2359950418ULL}) EXPECT_EQ(r_big.getrandbits(32), value);
  // (lambda r: [r.getrandbits(32) for _ in range(700)][-3:])(random.Random(99))   (past one 624-word refill)
  PythonRandom r99(99);
  for (int i = 0; i < 697; ++i) r99.getrandbits(32);
  for (std::uint64_t value : {3854360204ULL, 1066955590ULL, 740362341ULL}) EXPECT_EQ(r99.getrandbits(32), value);
}

TEST(RngPythonRandom, RandbelowMatchesCPython) {
  PythonRandom r(8);
  // (lambda r: [r._randbelow(n) for n in (1, 2, 3, 100, 2**33 + 5)])(random.Random(8))
  EXPECT_EQ(r.randbelow(1), 0ULL);
  EXPECT_EQ(r.randbelow(2), 1ULL);
  EXPECT_EQ(r.randbelow(3), 1ULL);
  EXPECT_EQ(r.randbelow(100), 16ULL);
  EXPECT_EQ(r.randbelow((1ULL << 33) + 5), 188027056ULL);
}

TEST(RngPythonRandom, SampleMatchesCPythonBothBranches) {
  // random.Random(17).sample(range(40), 40)   (pool branch)
  EXPECT_EQ(PythonRandom(17).sample_indices(40, 40),
            (std::vector<std::size_t>{33, 26, 19, 23, 18, 11, 17, 7,  1,  32, 12, 38, 36, 13, 8,  16, 10, 20, 21, 29,
                                      4,  39, 31, 37, 6,  2,  34, 25, 22, 27, 3,  5,  35, 28, 15, 0,  14, 30, 24, 9}));
  // random.Random(17).sample(range(1000), 30)   (set branch: 1000 > 21 + 4**4)
  EXPECT_EQ(PythonRandom(17).sample_indices(1000, 30),
            (std::vector<std::size_t>{534, 424, 826, 310, 983, 374, 296, 178, 784, 722, 721, 553, 677, 284, 112,
                                      939, 27,  254, 393, 834, 764, 429, 258, 880, 513, 821, 325, 655, 866, 700}));
  // random.Random(17).sample(range(52), 3)   (k <= 5 and 52 > 21: set branch)
  PythonRandom r(17);
  const std::vector<char> letters{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q',
                                  'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H',
                                  'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y',
                                  'Z'};
  EXPECT_EQ(r.sample(letters, 3), (std::vector<char>{letters[33], letters[26], letters[51]}));
}

}  // namespace
}  // namespace selectiv::data
