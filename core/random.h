// core/random.h: a seeded random number generator that gives the same numbers on every machine.
// std::normal_distribution is implementation-defined (libstdc++ and libc++ differ), so plat
// uses its own: a 64-bit counter-free xorshift-multiply generator (splitmix64) for bits,
// 24-bit uniform floats, and Box-Muller for normals (notes/01-tensors.md, "Random numbers").
#pragma once
#include <cstdint>

namespace plat {

class Generator {
public:
    explicit Generator(uint64_t seed = 0) : state_(seed) {}

    uint64_t next_u64();            // splitmix64 step
    double uniform();               // in [0, 1), 53 random bits
    double normal();                // standard normal, Box-Muller
    int64_t randint(int64_t n);     // in [0, n), n > 0; unbiased by rejection
    uint64_t state() const { return state_; }
    void set_state(uint64_t s) { state_ = s; has_spare_ = false; }

private:
    uint64_t state_;
    bool has_spare_ = false;  // Box-Muller makes two normals at a time
    double spare_ = 0;
};

}  // namespace plat
