// core/fast_math.h: exp and log for float, written so that a loop calling them vectorizes.
// glibc's expf, logf and tanhf are opaque calls, one value at a time (GCC maps them to the vector
// library only under -ffast-math), and GELU's tanhf once dominated a training step
// (notes/07-performance.md, "Measured history of the changes"). These are the textbook reductions: a few
// exact steps bring x into a small interval, where a short series is accurate to float's rounding.
// In the double build (PLAT_REAL=double, the gradient checks) they are std::exp and std::log.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace plat {

namespace fast_math_detail {
inline uint32_t bits_of(float x) {
    uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    return b;
}
inline float float_of(uint32_t b) {
    float x;
    std::memcpy(&x, &b, sizeof x);
    return x;
}
// ln 2 = kLn2Hi + kLn2Lo (Cody and Waite): kLn2Hi = 355/512 has 9 significant bits, so n * kLn2Hi
// is exact for the |n| <= 150 used here and x - n ln 2 keeps the bits a plain n * 0.6931472f loses.
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kLog2e = 1.44269504088896341f;
}  // namespace fast_math_detail

// exp(x) = 2^n exp(r), with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2].
// exp(r) is its Taylor series to r^7: the first term left out, r^8/8!, is at most
// 0.347^8 / 40320 = 5.2e-9 of the result, below float's rounding unit 2^-24 = 6.0e-8; the rest of
// the error is the rounding of about eight float operations (tests/test_core.cpp measures it).
// 2^n is built directly in the exponent bits. Outside [-87.33, 88.37] the result would not be a
// normal float: below, it is 0 (the true value is under 1.2e-38); above, +inf (the true value is
// over 2.4e38). NaN stays NaN.
inline float fast_exp(float x) {
    using namespace fast_math_detail;
    constexpr float lo = -87.33654f;  // ln(2^-126): the smallest normal float
    constexpr float hi = 88.37626f;   // ln(2^127.5): keeps n <= 127
    float xc = x < lo ? lo : (x > hi ? hi : x);  // written with < and > so that NaN passes through
    // n = round(t): adding 1.5 * 2^23 pushes the fraction out of the mantissa; the low bits of
    // `shifted` then hold n (for |n| < 2^22), so no float-to-int conversion is needed.
    constexpr float shifter = 12582912.0f;  // 1.5 * 2^23
    float shifted = xc * kLog2e + shifter;
    float n = shifted - shifter;
    float r = (xc - n * kLn2Hi) - n * kLn2Lo;
    float p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
                                                                     r * (1.0f / 720 + r * (1.0f / 5040)))))));
    uint32_t n_bits = bits_of(shifted) - bits_of(shifter);  // n, as a two's-complement integer
    float two_n = float_of((n_bits + 127u) << 23);           // the float 2^n: exponent field n + 127
    float y = p * two_n;
    y = x < lo ? 0.0f : y;
    return x > hi ? std::numeric_limits<float>::infinity() : y;
}

// log(x) = e ln 2 + log(m), with x = m 2^e and m in [sqrt(1/2), sqrt(2)); then
// log(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + s^7/7 + s^9/9 + ...), s = (m - 1) / (m + 1),
// |s| <= 0.1716: the first term left out, s^11/11, is at most 2.0e-9 of the sum.
// Special values as std::log: log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN stays NaN.
// Subnormal x (below 1.2e-38) are scaled by 2^23 first.
inline float fast_log(float x) {
    using namespace fast_math_detail;
    // Written with selects between values already computed (a ? b : c, `|` not `||`): GCC will not
    // speculate a float operation inside a conditional (it might trap), so the loop would not vectorize.
    constexpr float kSmallestNormal = 1.17549435e-38f;
    const bool subnormal = x < kSmallestNormal;
    const float x_scaled = x * 8388608.0f;  // x 2^23
    const float xs = subnormal ? x_scaled : x;
    const uint32_t b = bits_of(xs);
    const float e_raw = float(int32_t((b >> 23) & 0xffu) - 127);
    const float m_raw = float_of((b & 0x7fffffu) | 0x3f800000u);  // the mantissa, in [1, 2)
    const bool big = m_raw > 1.41421356f;  // then use m / 2 in [0.707, 1) and e + 1
    const float m_half = m_raw * 0.5f, e_scaled = e_raw - 23.0f, e_next = e_raw + 1.0f, e_scaled_next = e_raw - 22.0f;
    const float m = big ? m_half : m_raw;
    const float e = subnormal ? (big ? e_scaled_next : e_scaled) : (big ? e_next : e_raw);
    const float s = (m - 1.0f) / (m + 1.0f), z = s * s;
    const float log_m = 2.0f * s * (1.0f + z * (1.0f / 3 + z * (1.0f / 5 + z * (1.0f / 7 + z * (1.0f / 9)))));
    float y = e * kLn2Hi + (e * kLn2Lo + log_m);
    y = x == 0.0f ? -std::numeric_limits<float>::infinity() : y;
    y = x == std::numeric_limits<float>::infinity() ? x : y;
    return ((x < 0.0f) | (x != x)) ? std::numeric_limits<float>::quiet_NaN() : y;
}

// The double build checks gradients to 1e-6 and more: it keeps the library's exact functions.
inline double fast_exp(double x) { return std::exp(x); }
inline double fast_log(double x) { return std::log(x); }

}  // namespace plat
