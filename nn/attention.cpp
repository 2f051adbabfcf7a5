// nn/attention.cpp: softmax attention and p-Laplacian attention (p-LaT), each ONE recorded autograd
// operation whose hand-written backward sits right below its forward, as in llm.c; then the plain-loop
// references and the versions composed from autograd primitives that the tests hold them to.
// The math: notes/03-attention-as-laplacian.md. The backward, derived: notes/04-p-laplacian-backward.md.
#include "nn/attention.h"


#include <cmath>
#include <limits>
#include <vector>

#include "autograd/ops.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/kernels.h"

namespace plat {

const char* self_term_name(SelfTerm s) { return s == SelfTerm::unit ? "unit" : "exclude"; }

SelfTerm parse_self_term(const std::string& name) {
    if (name == "unit") return SelfTerm::unit;
    if (name == "exclude") return SelfTerm::exclude;
    fail("self term '{}' is not one of the choices: \"unit\" (b_ii = 0) or \"exclude\" (drop j = i); "
         "see notes/03-attention-as-laplacian.md, 'The self term j = i'",
         printable(name));
}

// ---- the distance pass (notes/04 section 9b, "Distances at GEMM speed") -----------------------------
// The expansion turns the O(T^2 D) differences into one syrk, but in float it carries an error of up to
// ~2(D+2) 2^-24 (||u_i||^2 + ||u_j||^2): harmless for most pairs, fatal for near-duplicates, where r is
// tiny against the norms. Centring removes any offset the values share (distances do not change) so
// the norms stay small; the pairs whose result is still small against them are
// recomputed by direct differences, exact to float rounding. notes/04 derives the threshold.

// A near pair: r_ij at most `below` times (||u_i||^2 + ||u_j||^2), where the expansion has cancelled.
// The forward recomputes these pairs, and the backward sends them through direct differences.
static inline bool near_pair(real r, real ni, real nj, real below) { return r <= below * (ni + nj); }

// sum_c (v_i[c] - v_j[c])^2 in float, c = 0, 1, ...: the recomputation.
static real direct_sq_distance(const real* vi, const real* vj, int64_t D) {
    real s = 0;
    for (int64_t c = 0; c < D; c++) {
        const real diff = vi[c] - vj[c];
        s += diff * diff;
    }
    return s;
}

int64_t pairwise_sq_distances(real* r, const real* v, int64_t ldv, int64_t T, int64_t D, bool causal, real* work,
                              real recompute_below) {
    real* u = work;          // [T, D] the centred values
    real* n = u + T * D;     // [T] their squared norms
    real* centre = n + T;    // [D] any common offset gives the same distances; the mean gives the smallest
    // norms, but under a causal mask row i must not depend on later tokens even in the last bit, so
    // there the centre is v_0, the one value every row sees.
    for (int64_t c = 0; c < D; c++) centre[c] = causal ? v[c] : 0;
    if (!causal) {
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < D; c++) centre[c] += v[t * ldv + c];
        for (int64_t c = 0; c < D; c++) centre[c] /= real(T);
    }
    for (int64_t t = 0; t < T; t++) {
        real s = 0;
        for (int64_t c = 0; c < D; c++) {
            const real x = v[t * ldv + c] - centre[c];
            u[t * D + c] = x;
            s += x * x;
        }
        n[t] = s;
    }
    syrk_lower(T, D, real(-2), u, D, real(0), r, T);  // r_ij = -2 u_i.u_j, j <= i
    int64_t recomputed = 0;
    for (int64_t i = 0; i < T; i++) {
        real* ri = r + i * T;
        // One pass adds the norms and notes whether the row has a near pair; most rows have none, and
        // only those that do take the branchy loop. A plain loop, which GCC vectorizes (int32_t: one
        // lane per float lane); with `omp simd reduction` it left this loop scalar (notes/07 section 9c).
        const real ni = n[i];
        int32_t near = 0;
        for (int64_t j = 0; j < i; j++) {
            const real rij = ri[j] + (ni + n[j]);
            ri[j] = rij;
            near |= int32_t(near_pair(rij, ni, n[j], recompute_below));
        }
        if (!near) continue;
        for (int64_t j = 0; j < i; j++)
            if (near_pair(ri[j], n[i], n[j], recompute_below)) {
                ri[j] = direct_sq_distance(v + i * ldv, v + j * ldv, D);
                recomputed++;
            }
    }
    for (int64_t i = 0; i < T; i++) r[i * T + i] = 0;  // exactly, whatever the rounding
    return recomputed;
}

void pairwise_sq_distances_naive(real* r, const real* v, int64_t ldv, int64_t T, int64_t D) {
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j <= i; j++) {
            double s = 0;
            for (int64_t c = 0; c < D; c++) {
                const double diff = double(v[i * ldv + c]) - double(v[j * ldv + c]);
                s += diff * diff;
            }
            r[i * T + j] = real(s);
        }
}

namespace {

// ---- shapes and arguments, checked once at the boundary ---------------------------------------

struct Dims {
    int64_t B, T, C, H, D;
};

Dims attention_dims(const Tensor& qkv, int heads, const char* op) {
    if (qkv.empty() || qkv.ndim() != 3)
        fail("{}: qkv has shape {}; expected [B, T, 3C] (the output of the c_attn Linear)", op, qkv.shape().str());
    if (heads < 1) fail("{}: heads = {}; expected at least 1", op, heads);
    int64_t C3 = qkv.size(2);
    if (C3 == 0 || C3 % 3 != 0)
        fail("{}: the last dimension of qkv {} is {}, not a positive multiple of 3; qkv must hold q, k and v "
             "side by side, [B, T, 3C]",
             op, qkv.shape().str(), C3);
    int64_t C = C3 / 3;
    if (C % heads != 0)
        fail("{}: C = {} channels (qkv {}) do not split into {} heads; C must be divisible by the number of heads",
             op, C, qkv.shape().str(), heads);
    return {qkv.size(0), qkv.size(1), C, heads, C / heads};
}

void check_plap_args(const Tensor& p, int64_t H, real eps, const char* op) {
    if (p.empty() || p.ndim() != 1 || p.size(0) != H)
        fail("{}: p has shape {}; expected [H] = [{}], one exponent per head", op, p.shape().str(), H);
    for (int64_t h = 0; h < H; h++)
        if (!std::isfinite(p[h]) || p[h] < kMinP)
            fail("{}: p[{}] = {}; the p-Laplacian needs a finite p >= 1 (clamp a learned p to [1, 4], notes/03, "
                 "'p itself')",
                 op, h, double(p[h]));
    if (!std::isfinite(eps) || !(eps > 0))
        fail("{}: eps = {}; expected a finite eps > 0 (it keeps log(r + eps) finite when two value vectors "
             "coincide; the default is 1e-6)",
             op, double(eps));
}

// ---- which keys a query sees (notes/03 sections 2 and 5: masking, the self term) -------------
// Query i sees the keys j < row_end(i): all T of them, or j <= i under a causal mask. Masking is by
// these loop bounds, never by a finite constant (minGPT #75), so masked weights are exactly 0.
// With SelfTerm::exclude the diagonal is dropped too, unless it is the row's only key (the first
// token under a causal mask, or T = 1).

inline int64_t row_end(int64_t i, int64_t T, bool causal) { return causal ? i + 1 : T; }

// Threads split the B*H (batch, head) pairs. Waking them costs a few microseconds (and much more on
// a busy machine, where a barrier waits for a descheduled thread), so below this many multiply-adds
// per gemm, B*H*T*T*D, the pairs run on one thread: the gradient checks' tiny sizes stay serial.
constexpr int64_t kParallelMinWork = 1 << 16;

inline bool worth_threads(const Dims& d) { return d.B * d.H > 1 && d.B * d.H * d.T * d.T * d.D >= kParallelMinWork; }

// The [T, T] products, causal or not, by blocks of query rows (notes/04 section 10, "Causal blocks").
// Under a causal mask rows [i0, i1) see keys j < i1 only, so each block's products stop there: about
// half the multiply-adds at long contexts, and the block's part of the output stays in cache. The
// entries of a block's rows beyond i1 are never computed; they are masked, and the softmax passes
// write their exact zeros. Without a mask: one block, all T rows against all T keys.
constexpr int64_t kCausalRowBlock = 64;

template <class F>  // f(i0, i1, nk): rows [i0, i1), keys [0, nk)
inline void for_row_blocks(int64_t T, bool causal, F f) {
    const int64_t rows = causal ? kCausalRowBlock : T;
    for (int64_t i0 = 0; i0 < T; i0 += rows) {
        const int64_t i1 = std::min(T, i0 + rows);
        f(i0, i1, causal ? i1 : T);
    }
}

// What turns softmax attention into p-LaT inside the shared kernels; on == false is plain softmax.
struct Plap {
    bool on = false;
    const real* p = nullptr;  // [H], one exponent per head
    SelfTerm self = SelfTerm::unit;
    real eps = 0;
};

inline bool drops_self(const Plap& pl, int64_t jend) { return pl.on && pl.self == SelfTerm::exclude && jend > 1; }

// Per-thread scratch that outlives the call: [T,T] buffers are megabytes at long contexts, and a fresh
// vector would be zero-filled and page-faulted in at every call. Contents are garbage on entry.
thread_local std::vector<real> r_buf, dz_buf, work;
inline real* scratch(std::vector<real>& buf, int64_t n) {
    if (int64_t(buf.size()) < n) buf.resize(size_t(n));
    return buf.data();
}

// Pass 3 for one row of logits ai (query i, keys j < jend), in place: softmax over the admissible
// keys, the row max subtracted (b can be large and positive for p < 2; exp of the max is 1, so the sum
// is >= 1, never 0); the diagonal is dropped when skip_self; masked entries get exactly 0. A function
// of its own so that GCC vectorizes its loops wherever it is called from: written inline inside the
// loop over row blocks, the exp loop ran one float at a time (notes/07 section 9d).
__attribute__((noinline)) void softmax_row(real* ai, int64_t i, int64_t jend, int64_t T, bool skip_self) {
    real m = -std::numeric_limits<real>::infinity();
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < jend; j++)
        m = (!(skip_self && j == i) && ai[j] > m) ? ai[j] : m;
    real sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < jend; j++) {
        ai[j] = (skip_self && j == i) ? real(0) : fast_exp(ai[j] - m);
        sum += ai[j];
    }
    const real inv = 1 / sum;
    for (int64_t j = 0; j < jend; j++) ai[j] *= inv;
    for (int64_t j = jend; j < T; j++) ai[j] = 0;  // masked: exactly 0
}

// ---- forward (notes/03 section 4, "The discrete formula"; notes/04 section 1) -------------------
// For each batch entry b and head h, with q_i, k_i, v_i the D channels of head h in row (b, i):
//   pass 1  s_ij = q_i.k_j / sqrt(D)                                   (gemm)
//   pass 2  plap: r_ij = ||v_i - v_j||^2 (pairwise_sq_distances: one syrk, near pairs recomputed),
//           logit_ij = s_ij + (p_h - 2)/2 log(r_ij + eps)              admissible j != i
//   pass 3  A_ij = softmax_j(logit_ij) over admissible j, row max subtracted; other entries 0
//   pass 4  out_i = sum_j A_ij v_j                                      (gemm)
// r is computed for the whole head first; then passes 1-4 run block of query rows by block
// (`for_row_blocks`), so that a block's rows of A stay in cache from their scores to their share of
// out (notes/04 section 10, "Causal blocks"; without a mask there is one block of all T rows).
// out [B,T,C]; att [B,H,T,T] receives A (and holds the logits in between). r lives in a per-thread
// [T,T] buffer and is not kept: the backward recomputes it (notes/04 section 10, "Costs"). Threads
// split the B*H pairs: pair (b,h) writes only its own [T,T] block and its own D columns of out, so
// there are no races, and each pair's arithmetic does not depend on which thread runs it.
void attention_forward(real* out, real* att, const real* qkv, const Dims& d, bool causal, const Plap& pl) {
    const int64_t B = d.B, T = d.T, C = d.C, H = d.H, D = d.D, C3 = 3 * C;
    const real scale = real(1) / std::sqrt(real(D));
#pragma omp parallel if (worth_threads(d))
    {
#pragma omp for schedule(static)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const int64_t b = bh / H, h = bh % H;
            const real* q = qkv + b * T * C3 + h * D;  // row t of head h: q + t*C3, k + t*C3, v + t*C3
            const real* k = q + C;
            const real* v = q + 2 * C;
            real* a = att + bh * T * T;  // [T, T]

            // pass 2, first half (plap): the distances r_ij of the whole head (notes/03, "The discrete
            // formula"; notes/04 section 9b); the blocks below read their rows.
            real* r = nullptr;
            if (pl.on) {
                r = scratch(r_buf, T * T);
                pairwise_sq_distances(r, v, C3, T, D, causal, scratch(work, T * D + T + D));
                if (!causal)  // r is symmetric: the upper triangle mirrors the lower one, bit for bit
                    for (int64_t i = 0; i < T; i++)
                        for (int64_t j = 0; j < i; j++) r[j * T + i] = r[i * T + j];
            }
            const real half_pm2 = pl.on ? (pl.p[h] - 2) / 2 : real(0);

            for_row_blocks(T, causal, [&](int64_t i0, int64_t i1, int64_t nk) {
                // pass 1: the scores of the block's rows against keys j < nk (under a causal mask some
                // masked ones too, which pass 3 overwrites with exact zeros)
                gemm_strided(false, true, i1 - i0, nk, D, scale, q + i0 * C3, C3, k, C3, real(0), a + i0 * T, T);

                // pass 2, second half (plap): the distance term b_ij into the block's scores.
                if (r) {
                    // The diagonal has no distance term in either mode: the row runs in two pieces
                    // around it, j < i and i < j < jend, each a plain loop that vectorizes (core/fast_math.h).
                    for (int64_t i = i0; i < i1; i++) {
                        const int64_t jend = row_end(i, T, causal);
                        real* ai = a + i * T;
                        const real* ri = r + i * T;
#pragma omp simd
                        for (int64_t j = 0; j < i; j++) ai[j] += half_pm2 * fast_log(ri[j] + pl.eps);
#pragma omp simd
                        for (int64_t j = i + 1; j < jend; j++) ai[j] += half_pm2 * fast_log(ri[j] + pl.eps);
                    }
                }

                // pass 3: softmax over each row's admissible keys
                for (int64_t i = i0; i < i1; i++) {
                    const int64_t jend = row_end(i, T, causal);
                    softmax_row(a + i * T, i, jend, T, drops_self(pl, jend));
                }

                // pass 4: out_i = sum_j A_ij v_j, into head h's D columns of out [B, T, C]
                gemm_strided(false, false, i1 - i0, D, nk, real(1), a + i0 * T, T, v, C3, real(0),
                             out + (b * T + i0) * C + h * D, C);
            });
        }
    }
}

// ---- backward (notes/04, the whole chapter) -------------------------------------------------------
// Given dout [B,T,C] = dL/dout and the forward's A, adds into dqkv [B,T,3C] (when not null) and writes
// dp_partial [B*H] (when not null): head h's dL/dp from batch entry b. Per pair (b,h), undoing the
// passes of the forward in reverse:
//   pass 4  out_i = sum_j A_ij v_j:     dA_ij = dout_i . v_j;        dv_j += sum_i A_ij dout_i
//   pass 3  softmax:                    dz_ij = A_ij (dA_ij - sum_k A_ik dA_ik)
//   pass 2  logit_ij += (p-2)/2 log(r_ij + eps), j != i admissible, r recomputed (bit for bit the forward's):
//           dr_ij = dz_ij (p-2)/2 / (r_ij + eps);   dp += dz_ij 1/2 log(r_ij + eps)
//           r_ij = ||v_i - v_j||^2:  dv_i += sum_j M_ij (v_i - v_j),  M_ij = 2 (dr_ij + dr_ji)  (notes/04 section 6)
//   pass 1  s_ij = q_i.k_j / sqrt(D):   dq_i += sum_j dz_ij k_j / sqrt(D);  dk_j += sum_i dz_ij q_i / sqrt(D)
// Pair (b,h) writes only head h's columns of dq, dk, dv in batch entry b, and dp_partial[b*H + h]:
// no two threads write the same memory. The caller sums dp_partial over b in a fixed order.
void attention_backward(real* dqkv, double* dp_partial, const real* dout, const real* qkv, const real* att,
                        const Dims& d, bool causal, const Plap& pl) {
    const int64_t B = d.B, T = d.T, C = d.C, H = d.H, D = d.D, C3 = 3 * C;
    const real scale = real(1) / std::sqrt(real(D));
#pragma omp parallel if (worth_threads(d))
    {
#pragma omp for schedule(static)
        for (int64_t bh = 0; bh < B * H; bh++) {
            const int64_t b = bh / H, h = bh % H;
            const real* q = qkv + b * T * C3 + h * D;
            const real* k = q + C;
            const real* v = q + 2 * C;
            const real* a = att + bh * T * T;            // [T, T]
            const real* dout_bh = dout + b * T * C + h * D;  // row stride C
            real* dz = scratch(dz_buf, T * T);  // [T, T]: dA, then overwritten in place by dz
            real* dq = dqkv ? dqkv + b * T * C3 + h * D : nullptr;  // row stride 3C, like q
            real* dk = dqkv ? dq + C : nullptr;
            real* dv = dqkv ? dq + 2 * C : nullptr;

            // pass 4 back: dA = dout v^T [T, T];  dv += A^T dout [T, D]
            for_row_blocks(T, causal, [&](int64_t i0, int64_t i1, int64_t nk) {
                gemm_strided(false, true, i1 - i0, nk, D, real(1), dout_bh + i0 * C, C, v, C3, real(0), dz + i0 * T, T);
                if (dv)
                    gemm_strided(true, false, nk, D, i1 - i0, real(1), a + i0 * T, T, dout_bh + i0 * C, C, real(1), dv, C3);
            });

            // pass 3 back: the softmax Jacobian dA_k/dz_j = A_k (delta_kj - A_j), row by row, in place.
            // Inadmissible entries have A = 0 and get dz = 0 (written explicitly: never 0 * garbage).
            for (int64_t i = 0; i < T; i++) {
                const real* ai = a + i * T;
                real* gi = dz + i * T;
                const int64_t jend = row_end(i, T, causal);
                real dot = 0;  // sum_k A_ik dA_ik; simd: without it GCC adds the products one by one, in order
#pragma omp simd reduction(+ : dot)
                for (int64_t j = 0; j < jend; j++) dot += ai[j] * gi[j];
                for (int64_t j = 0; j < jend; j++) gi[j] = ai[j] * (gi[j] - dot);
                for (int64_t j = jend; j < T; j++) gi[j] = 0;
            }

            // pass 1 back: dq = dz k / sqrt(D);  dk = dz^T q / sqrt(D)   [T, D] each. Done before pass 2
            // back, which only reads dz from here on (and folds its upper triangle into the lower one).
            if (dqkv) {
                for_row_blocks(T, causal, [&](int64_t i0, int64_t i1, int64_t nk) {
                    gemm_strided(false, false, i1 - i0, D, nk, scale, dz + i0 * T, T, k, C3, real(1), dq + i0 * C3, C3);
                    gemm_strided(true, false, nk, D, i1 - i0, scale, dz + i0 * T, T, q + i0 * C3, C3, real(1), dk, C3);
                });
            }

            // pass 2 back (plap): through b_ij = (p-2)/2 log(r_ij + eps) into r (hence v) and p. Only
            // admissible j != i: the diagonal carries no b in either self-term mode. (i, j) and (j, i) go
            // through the same r_ij, so the pair is taken once, j < i, with g_ij = dz_ij + dz_ji (causal:
            // dz_ji = 0), and M_ij = 2 (p-2)/2 g_ij / (r_ij + eps) is stored in r's place (notes/04 section 9b).
            // With nothing to send (p = 2 and a constant p), r is not computed at all.
            const real half_pm2 = pl.on ? (pl.p[h] - 2) / 2 : real(0);
            const bool into_v = pl.on && dv && half_pm2 != 0;  // p = 2: b = 0 for every r, nothing flows to v
            if (pl.on && (into_v || dp_partial)) {
                real* m = scratch(r_buf, T * T);
                pairwise_sq_distances(m, v, C3, T, D, causal, scratch(work, T * D + T + D + 2 * T * (D + 1)));
                const real* u = work.data();  // [T, D] the centred values, and n [T] their squared norms
                const real* n = u + T * D;
                if (!causal)
                    for (int64_t i = 0; i < T; i++)
                        for (int64_t j = 0; j < i; j++) dz[i * T + j] += dz[j * T + i];
                double dp = 0;  // accumulated in double: T^2 terms of both signs
                for (int64_t i = 0; i < T; i++) {
                    real* mi = m + i * T;  // r_ij, then M_ij, for j < i
                    const real* gi = dz + i * T;
                    if (dp_partial) {
                        #pragma omp simd reduction(+ : dp)
                        for (int64_t j = 0; j < i; j++) dp += double(gi[j]) * 0.5 * double(fast_log(mi[j] + pl.eps));
                    }
                    if (!into_v) continue;
                    // Near-duplicates: direct differences, as the forward recomputed them (in the expansion
                    // below, M_ij up to 1/eps times u_i ~ u_j would cancel); r = inf then gives M_ij = 0.
                    // The branchy loop only for rows that have one (a plain loop that vectorizes finds them).
                    int32_t near = 0;
                    for (int64_t j = 0; j < i; j++) near |= int32_t(near_pair(mi[j], n[i], n[j], kRecomputeBelow));
                    for (int64_t j = 0; near && j < i; j++)
                        if (near_pair(mi[j], n[i], n[j], kRecomputeBelow)) {
                            const real mij = 2 * half_pm2 * gi[j] / (mi[j] + pl.eps);
                            const real *vi = v + i * C3, *vj = v + j * C3;
                            real *dvi = dv + i * C3, *dvj = dv + j * C3;
                            for (int64_t c = 0; c < D; c++) {
                                const real mdiff = mij * (vi[c] - vj[c]);
                                dvi[c] += mdiff;
                                dvj[c] -= mdiff;
                            }
                            mi[j] = std::numeric_limits<real>::infinity();
                        }
#pragma omp simd
                    for (int64_t j = 0; j < i; j++) mi[j] = 2 * half_pm2 * gi[j] / (mi[j] + pl.eps);
                    mi[i] = 0;
                }
                // The other pairs at GEMM speed: dv_i += sum_j M_ij (u_i - u_j) = (sum_j M_ij) u_i - (M u)_i
                // over the symmetric M (its lower triangle is stored), on the centred values u: the
                // differences u_i - u_j are those of v.
                if (into_v) {
                    // One symm gives both: [M u | M 1] = M [u | 1], so the row sums sum_j M_ij come from
                    // the same product (as a loop over the stored triangle they need a float reduction
                    // per row, which GCC leaves scalar: notes/07 section 9c).
                    const int64_t D1 = D + 1;
                    real* u1 = work.data() + T * D + T + D;  // [T, D + 1]: [u | 1], after the distance pass's scratch
                    real* mu = u1 + T * D1;                  // [T, D + 1]: [M u | M 1]
                    for (int64_t i = 0; i < T; i++) {
                        for (int64_t c = 0; c < D; c++) u1[i * D1 + c] = u[i * D + c];
                        u1[i * D1 + D] = 1;
                    }
                    symm_lower(T, D1, real(1), m, T, u1, D1, real(0), mu, D1);
                    for (int64_t i = 0; i < T; i++) {
                        const real rowsum = mu[i * D1 + D];
                        for (int64_t c = 0; c < D; c++) dv[i * C3 + c] += rowsum * u[i * D + c] - mu[i * D1 + c];
                    }
                }
                if (dp_partial) dp_partial[bh] = dp;
            }
        }
    }
}

}  // namespace

// ---- the two recorded operations ------------------------------------------------------------------

Var softmax_attention(const Var& qkv, int heads, bool causal, Tensor* weights) {
    const Dims d = attention_dims(qkv.value(), heads, "softmax_attention");
    Tensor out = Tensor::uninitialized({d.B, d.T, d.C});       // [B, T, C]: every entry written
    Tensor att = Tensor::uninitialized({d.B, d.H, d.T, d.T});    // [B, H, T, T], A: saved for the backward
    attention_forward(out.data(), att.data(), qkv.value().data(), d, causal, Plap{});
    if (weights) *weights = att.clone();
    return record("softmax_attention", out, {qkv}, [att, d, causal](Node& self) {
        Node& x = *self.inputs[0];
        attention_backward(x.grad_buffer().data(), nullptr, self.grad.data(), x.value.data(), att.data(), d, causal,
                           Plap{});
    });
}

Var plap_attention(const Var& qkv, const Var& p, int heads, bool causal, SelfTerm self_term, real eps,
                   Tensor* weights) {
    const Dims d = attention_dims(qkv.value(), heads, "plap_attention");
    check_plap_args(p.value(), d.H, eps, "plap_attention");
    Tensor out = Tensor::uninitialized({d.B, d.T, d.C});       // [B, T, C]: every entry written
    Tensor att = Tensor::uninitialized({d.B, d.H, d.T, d.T});    // [B, H, T, T], A: saved for the backward (r is recomputed)
    Tensor pv = p.value().clone();       // [H], the exponents this forward used
    attention_forward(out.data(), att.data(), qkv.value().data(), d, causal, Plap{true, pv.data(), self_term, eps});
    if (weights) *weights = att.clone();
    return record("plap_attention", out, {qkv, p}, [att, pv, d, causal, self_term, eps](Node& self) {
        Node &x = *self.inputs[0], &pn = *self.inputs[1];
        std::vector<double> dp_partial(pn.requires_grad ? d.B * d.H : 0);  // [B, H]
        attention_backward(x.requires_grad ? x.grad_buffer().data() : nullptr,
                           pn.requires_grad ? dp_partial.data() : nullptr, self.grad.data(), x.value.data(),
                           att.data(), d, causal, Plap{true, pv.data(), self_term, eps});
        if (pn.requires_grad) {
            Tensor& dp = pn.grad_buffer();  // [H]
            for (int64_t h = 0; h < d.H; h++) {
                double total = 0;  // batch entries in order: the same sum for any thread count
                for (int64_t b = 0; b < d.B; b++) total += dp_partial[b * d.H + h];
                dp[h] += real(total);
            }
        }
    });
}

// ---- naive references: the definition, in double, one (b, h, i) at a time ------------------------

namespace {

Tensor attention_naive(const Tensor& qkv, const Dims& d, bool causal, const Plap& pl, Tensor* weights) {
    const int64_t B = d.B, T = d.T, C = d.C, H = d.H, D = d.D, C3 = 3 * C;
    Tensor out({B, T, C}), att({B, H, T, T});
    std::vector<double> logit(T), w(T), acc(D);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                auto q = [&](int64_t t, int64_t c) { return double(qkv[(b * T + t) * C3 + h * D + c]); };
                auto k = [&](int64_t t, int64_t c) { return double(qkv[(b * T + t) * C3 + C + h * D + c]); };
                auto v = [&](int64_t t, int64_t c) { return double(qkv[(b * T + t) * C3 + 2 * C + h * D + c]); };
                const int64_t jend = causal ? i + 1 : T;
                const bool skip_self = pl.on && pl.self == SelfTerm::exclude && jend > 1;
                double m = -INFINITY, sum = 0;
                for (int64_t j = 0; j < jend; j++) {
                    if (skip_self && j == i) continue;
                    double s = 0;
                    for (int64_t c = 0; c < D; c++) s += q(i, c) * k(j, c);
                    logit[j] = s / std::sqrt(double(D));
                    if (pl.on && j != i) {
                        double r = 0;
                        for (int64_t c = 0; c < D; c++) r += (v(i, c) - v(j, c)) * (v(i, c) - v(j, c));
                        logit[j] += (double(pl.p[h]) - 2) / 2 * std::log(r + double(pl.eps));
                    }
                    m = std::fmax(m, logit[j]);
                }
                for (int64_t j = 0; j < T; j++) {
                    bool admissible = j < jend && !(skip_self && j == i);
                    w[j] = admissible ? std::exp(logit[j] - m) : 0.0;
                    sum += w[j];
                }
                for (int64_t c = 0; c < D; c++) acc[c] = 0;
                for (int64_t j = 0; j < T; j++) {
                    w[j] /= sum;
                    att[((b * H + h) * T + i) * T + j] = real(w[j]);
                    for (int64_t c = 0; c < D; c++) acc[c] += w[j] * v(j, c);
                }
                for (int64_t c = 0; c < D; c++) out[(b * T + i) * C + h * D + c] = real(acc[c]);
            }
    if (weights) *weights = att;
    return out;
}

}  // namespace

Tensor softmax_attention_naive(const Tensor& qkv, int heads, bool causal, Tensor* weights) {
    const Dims d = attention_dims(qkv, heads, "softmax_attention_naive");
    return attention_naive(qkv, d, causal, Plap{}, weights);
}

Tensor plap_attention_naive(const Tensor& qkv, const Tensor& p, int heads, bool causal, SelfTerm self_term, real eps,
                            Tensor* weights) {
    const Dims d = attention_dims(qkv, heads, "plap_attention_naive");
    check_plap_args(p, d.H, eps, "plap_attention_naive");
    return attention_naive(qkv, d, causal, Plap{true, p.data(), self_term, eps}, weights);
}

// ---- composed from autograd primitives: the reference for the hand-written backward ------------
// Literally the formula of notes/03, "The discrete formula", one head at a time, differentiated by autograd/ops.cpp.
// Masking here is by adding a constant holding -inf at inadmissible (i, j): softmax gives them exactly 0
// and its backward sends them exactly 0. The diagonal's distance term is removed by multiplying
// log(r + eps) with a constant 0/1 off-diagonal mask (log(eps) is finite, so 0 * it is exactly 0).

namespace {

Var attention_composed(const Var& qkv, const Var* p, const Dims& d, bool causal, SelfTerm self_term, real eps) {
    const int64_t B = d.B, T = d.T, C = d.C, H = d.H, D = d.D;
    Plap pl;
    pl.on = p != nullptr;
    pl.self = self_term;
    Tensor mask({T, T}), offdiag({T, T});  // [T, T] constants: 0 / -inf; 1 off the diagonal, 0 on it
    for (int64_t i = 0; i < T; i++) {
        const int64_t jend = row_end(i, T, causal);
        const bool skip_self = drops_self(pl, jend);
        for (int64_t j = 0; j < T; j++) {
            bool admissible = j < jend && !(skip_self && j == i);
            mask[i * T + j] = admissible ? real(0) : -std::numeric_limits<real>::infinity();
            offdiag[i * T + j] = i == j ? real(0) : real(1);
        }
    }
    Var mask_v(mask), offdiag_v(offdiag);
    std::vector<Var> outs;
    for (int64_t h = 0; h < H; h++) {
        Var q = slice(qkv, 2, h * D, (h + 1) * D);                  // [B, T, D]
        Var k = slice(qkv, 2, C + h * D, C + (h + 1) * D);          // [B, T, D]
        Var v = slice(qkv, 2, 2 * C + h * D, 2 * C + (h + 1) * D);  // [B, T, D]
        Var logits = mul_scalar(matmul(q, k, false, true), real(1) / std::sqrt(real(D)));  // s_ij [B, T, T]
        if (p) {
            Var diff = sub(reshape(v, {B, T, 1, D}), reshape(v, {B, 1, T, D}));  // v_i - v_j [B, T, T, D]
            Var r = sum(mul(diff, diff), 3);                                     // r_ij [B, T, T]
            Var log_phi = mul(log(add_scalar(r, eps)), offdiag_v);               // log(r_ij + eps), j != i
            Var half_pm2 = mul_scalar(add_scalar(slice(*p, 0, h, h + 1), -2), real(0.5));  // (p_h - 2)/2 [1]
            logits = add(logits, mul(log_phi, half_pm2));
        }
        Var a = softmax(add(logits, mask_v));  // A [B, T, T]
        outs.push_back(matmul(a, v));          // [B, T, D]
    }
    return concat(outs, 2);  // [B, T, C]
}

}  // namespace

Var softmax_attention_composed(const Var& qkv, int heads, bool causal) {
    const Dims d = attention_dims(qkv.value(), heads, "softmax_attention_composed");
    return attention_composed(qkv, nullptr, d, causal, SelfTerm::unit, 0);
}

Var plap_attention_composed(const Var& qkv, const Var& p, int heads, bool causal, SelfTerm self_term, real eps) {
    const Dims d = attention_dims(qkv.value(), heads, "plap_attention_composed");
    check_plap_args(p.value(), d.H, eps, "plap_attention_composed");
    return attention_composed(qkv, &p, d, causal, self_term, eps);
}

}  // namespace plat
