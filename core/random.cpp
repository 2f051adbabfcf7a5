// core/random.cpp: splitmix64 and Box-Muller (notes/01-tensors.md, "Random numbers").
#include "core/random.h"

#include <cmath>

#include "core/error.h"

namespace plat {

uint64_t Generator::next_u64() {
    // splitmix64 (Steele, Lea, Flood 2014): add a Weyl constant, then mix. Integer arithmetic
    // only, so every machine produces the same sequence.
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double Generator::uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }

double Generator::normal() {
    // Box-Muller: for independent uniforms u1 in (0, 1] and u2 in [0, 1), r = sqrt(-2 ln u1)
    // and angle 2 pi u2 are the polar coordinates of a standard 2-D normal point, so
    // r cos(angle) is a standard normal. Its twin r sin(angle) is discarded rather than kept
    // for the next call: a cached spare would be state outside state_, and a run resumed from
    // state() would then draw different numbers. 1 - u keeps log's argument in (0, 1].
    double u1 = 1.0 - uniform(), u2 = uniform();
    double radius = std::sqrt(-2.0 * std::log(u1)), angle = 2.0 * M_PI * u2;
    return radius * std::cos(angle);
}

int64_t Generator::randint(int64_t n) {
    if (n <= 0) fail("Generator::randint: n must be > 0, got {}", n);
    // Reject the top partial block so every value in [0, n) is equally likely.
    uint64_t limit = UINT64_MAX - UINT64_MAX % uint64_t(n);
    uint64_t x;
    do x = next_u64(); while (x >= limit);
    return int64_t(x % uint64_t(n));
}

}  // namespace plat
