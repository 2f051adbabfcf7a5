// core/random.h: a seeded random number generator that gives the same numbers on every machine.
// std::normal_distribution is implementation-defined (libstdc++ and libc++ differ), so plat
// uses its own: splitmix64 for bits (a Weyl counter passed through an xorshift-multiply mixer),
// 53-bit uniform doubles, and Box-Muller for normals (notes/01-tensors.md, "Random numbers").
// The whole state is one 64-bit word: state() and set_state() save and resume it exactly.
#pragma once
#include <cstdint>

namespace plat {

class Generator {
public:
    explicit Generator(uint64_t seed = 0) : state_(seed) {}

    uint64_t next_u64();            // splitmix64 step
    double uniform();               // in [0, 1), 53 random bits
    double normal();                // standard normal, Box-Muller (one per call, no cached spare)
    int64_t randint(int64_t n);     // in [0, n), n > 0; unbiased by rejection
    uint64_t state() const { return state_; }
    void set_state(uint64_t s) { state_ = s; }

private:
    uint64_t state_;  // the Weyl counter: seed + (number of draws) * 0x9e3779b97f4a7c15
};

}  // namespace plat
