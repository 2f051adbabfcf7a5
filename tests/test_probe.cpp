// tests/test_probe.cpp: the measurements of `plat probe` (experiments/training/probe.h): the attention
// mass on value-space nearest neighbours on hand-built cases worked out in the comments and
// against a rank-counting reference, the uniform baseline, the mean pairwise cosine similarity
// on closed-form cases and against a plain double loop, the values recorded in Trace, and the
// errors. Tiny tensors and models: the suite takes a few milliseconds.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "core/error.h"
#include "core/random.h"
#include "experiments/training/probe.h"

using namespace plat;

namespace {

// Attention [B, H, T, T] with every admissible row uniform: 1 / n over the keys the query may
// attend to (j <= i when causal, minus j = i when self_excluded and another key exists).
Tensor uniform_attention(int64_t B, int64_t H, int64_t T, bool causal, bool self_excluded) {
    Tensor A(Shape{B, H, T, T});
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t i = 0; i < T; i++) {
            int64_t keys = causal ? i + 1 : T;
            bool drop_self = self_excluded && keys > 1;
            int64_t n = drop_self ? keys - 1 : keys;
            for (int64_t j = 0; j < keys; j++)
                if (!(drop_self && j == i)) A[(bh * T + i) * T + j] = real(1.0 / double(n));
        }
    return A;
}

// Random attention rows (positive, summing to 1 over the admissible keys), as a model makes.
Tensor random_attention(int64_t B, int64_t H, int64_t T, bool causal, Generator& gen) {
    Tensor A(Shape{B, H, T, T});
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t i = 0; i < T; i++) {
            int64_t keys = causal ? i + 1 : T;
            double total = 0;
            for (int64_t j = 0; j < keys; j++) total += A[(bh * T + i) * T + j] = real(gen.uniform() + 0.01);
            for (int64_t j = 0; j < keys; j++) A[(bh * T + i) * T + j] = real(A[(bh * T + i) * T + j] / total);
        }
    return A;
}

// The reference for the nearest-neighbour mass, by a different route than the code's partial
// sort: key j (!= i) is among the k nearest iff fewer than k keys are strictly closer or
// equally close with a smaller index (the documented tie rule).
NeighbourMass rank_reference(const Tensor& A, const Tensor& v, bool causal, bool self_excluded, int k) {
    const int64_t B = A.size(0), H = A.size(1), T = A.size(2), C = v.size(2), D = C / H;
    auto dist = [&](int64_t b, int64_t h, int64_t i, int64_t j) {
        double r = 0;
        for (int64_t d = 0; d < D; d++) {
            double diff = double(v[(b * T + i) * C + h * D + d]) - double(v[(b * T + j) * C + h * D + d]);
            r += diff * diff;
        }
        return r;
    };
    NeighbourMass out;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                int64_t keys = causal ? i + 1 : T;
                if (keys - 1 < k) continue;
                double mass = 0;
                for (int64_t j = 0; j < keys; j++) {
                    if (j == i) continue;
                    int64_t before = 0;
                    for (int64_t m = 0; m < keys; m++) {
                        if (m == i || m == j) continue;
                        double dm = dist(b, h, i, m), dj = dist(b, h, i, j);
                        if (dm < dj || (dm == dj && m < j)) before++;
                    }
                    if (before < k) mass += double(A[((b * H + h) * T + i) * T + j]);
                }
                out.mass_sum += mass;
                out.uniform_sum += double(k) / double(self_excluded ? keys - 1 : keys);
                out.queries++;
            }
    return out;
}

// The mean over sequences of the mean cosine over ordered pairs i != j, by the definition.
double naive_cosine(const Tensor& x) {
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
    double total = 0;
    for (int64_t b = 0; b < B; b++) {
        double s = 0;
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = 0; j < T; j++) {
                if (i == j) continue;
                double dot = 0, ni = 0, nj = 0;
                for (int64_t c = 0; c < C; c++) {
                    double a = x[(b * T + i) * C + c], e = x[(b * T + j) * C + c];
                    dot += a * e;
                    ni += a * a;
                    nj += e * e;
                }
                s += ni > 0 && nj > 0 ? dot / std::sqrt(ni * nj) : 0;
            }
        total += s / double(T * (T - 1));
    }
    return total / double(B);
}

}  // namespace

TEST_CASE("probe: nearest-neighbour mass on a hand-built case") {
    // One sequence, H = 2 heads of D = 1 channel, T = 4 tokens, not causal. Values (head 0,
    // head 1) per token: t0 (0, 5), t1 (10, 4), t2 (1, 0), t3 (3, 6).
    Tensor v = Tensor::from_data(Shape{1, 4, 2}, {0, 5, 10, 4, 1, 0, 3, 6});
    // Head 0's rows hold 0.1 * (j + 1) + 0.01 * i (not normalized: the measure only picks entries),
    // head 1's 0.2 * (j + 1) + 0.01 * i.
    Tensor A(Shape{1, 2, 4, 4});
    for (int64_t h = 0; h < 2; h++)
        for (int64_t i = 0; i < 4; i++)
            for (int64_t j = 0; j < 4; j++) A[(h * 4 + i) * 4 + j] = real((h == 0 ? 0.1 : 0.2) * (j + 1) + 0.01 * i);
    auto a = [&](int h, int i, int j) { return double(A[(h * 4 + i) * 4 + j]); };

    // k = 1. Head 0, distances |v_i - v_j| on the values 0, 10, 1, 3:
    //   i=0: to 1,2,3 = 10, 1, 3 -> j=2;   i=1: to 0,2,3 = 10, 9, 7 -> j=3;
    //   i=2: to 0,1,3 = 1, 9, 2 -> j=0;    i=3: to 0,1,2 = 3, 7, 2 -> j=2.
    // Head 1, values 5, 4, 0, 6:
    //   i=0: to 1,2,3 = 1, 5, 1 -> tie, the smaller j=1;   i=1: to 0,2,3 = 1, 4, 2 -> j=0;
    //   i=2: to 0,1,3 = 5, 4, 6 -> j=1;                    i=3: to 0,1,2 = 1, 2, 6 -> j=0.
    double k1 = a(0, 0, 2) + a(0, 1, 3) + a(0, 2, 0) + a(0, 3, 2) + a(1, 0, 1) + a(1, 1, 0) + a(1, 2, 1) + a(1, 3, 0);
    NeighbourMass m1 = nearest_neighbour_mass(A, v, /*causal=*/false, /*self_excluded=*/false, 1);
    CHECK(m1.queries == 8);
    CHECK(m1.mass_sum == doctest::Approx(k1).epsilon(1e-12));
    CHECK(m1.mass() == doctest::Approx(k1 / 8).epsilon(1e-12));
    CHECK(m1.uniform() == doctest::Approx(1.0 / 4).epsilon(1e-12));  // k / n = 1 / 4
    // The same with the self term excluded: the neighbours are the same, the baseline is 1 / 3.
    NeighbourMass m1x = nearest_neighbour_mass(A, v, false, true, 1);
    CHECK(m1x.mass_sum == doctest::Approx(k1).epsilon(1e-12));
    CHECK(m1x.uniform() == doctest::Approx(1.0 / 3).epsilon(1e-12));

    // k = 2, causal: queries i = 2 and 3 only (i = 0, 1 have fewer than 2 keys j < i).
    //   head 0: i=2 keys 0, 1 -> both; i=3 keys 0,1,2 at 3, 7, 2 -> j = 2, 0.
    //   head 1: i=2 keys 0, 1 -> both; i=3 keys 0,1,2 at 1, 2, 6 -> j = 0, 1.
    double k2 = a(0, 2, 0) + a(0, 2, 1) + a(0, 3, 2) + a(0, 3, 0) + a(1, 2, 0) + a(1, 2, 1) + a(1, 3, 0) + a(1, 3, 1);
    NeighbourMass m2 = nearest_neighbour_mass(A, v, /*causal=*/true, false, 2);
    CHECK(m2.queries == 4);
    CHECK(m2.mass_sum == doctest::Approx(k2).epsilon(1e-12));
    // Baseline: k / n_i = 2/3 for i = 2 (keys 0..2) and 2/4 for i = 3, in each head.
    CHECK(m2.uniform_sum == doctest::Approx(2 * (2.0 / 3 + 2.0 / 4)).epsilon(1e-12));
}

TEST_CASE("probe: nearest-neighbour mass agrees with a rank-counting reference on random inputs") {
    Generator gen(7);
    for (bool causal : {false, true})
        for (bool excluded : {false, true})
            for (int k : {1, 3, 5}) {
                CAPTURE(causal);
                CAPTURE(excluded);
                CAPTURE(k);
                const int64_t B = 2, H = 3, T = 9, D = 4;
                Tensor A = random_attention(B, H, T, causal, gen);
                Tensor v = Tensor::randn(Shape{B, T, H * D}, gen);
                NeighbourMass got = nearest_neighbour_mass(A, v, causal, excluded, k);
                NeighbourMass want = rank_reference(A, v, causal, excluded, k);
                CHECK(got.queries == want.queries);
                // The same float entries summed in the same order of j? No: the code sums in
                // distance order, the reference in index order; double sums of k <= 5 numbers
                // below 1 differ by at most a few 1e-16.
                CHECK(got.mass_sum == doctest::Approx(want.mass_sum).epsilon(1e-12));
                CHECK(got.uniform_sum == doctest::Approx(want.uniform_sum).epsilon(1e-12));
                // A mass is a sum of attention weights: between 0 and 1 per query.
                CHECK(got.mass() >= 0);
                CHECK(got.mass() <= 1);
            }
}

TEST_CASE("probe: uniform attention puts exactly the uniform mass on the neighbours") {
    Generator gen(11);
    for (bool causal : {false, true})
        for (bool excluded : {false, true}) {
            CAPTURE(causal);
            CAPTURE(excluded);
            const int64_t B = 2, H = 2, T = 8;
            Tensor A = uniform_attention(B, H, T, causal, excluded);
            Tensor v = Tensor::randn(Shape{B, T, 2 * H}, gen);
            NeighbourMass m = nearest_neighbour_mass(A, v, causal, excluded, 3);
            // Per query the mass is k entries of float(1/n) and the baseline is k/n in double:
            // float rounding of 1/n is at most 2^-24 relative, so 1e-6 relative covers it.
            CHECK(m.queries > 0);
            CHECK(m.mass() == doctest::Approx(m.uniform()).epsilon(1e-6));
        }
    // Rows of 8 keys get 1/8, exact in float: then the mass is exactly the baseline.
    Tensor A = uniform_attention(1, 1, 8, false, false);
    Tensor v = Tensor::randn(Shape{1, 8, 3}, gen);
    NeighbourMass m = nearest_neighbour_mass(A, v, false, false, 3);
    CHECK(m.mass_sum == m.uniform_sum);
    CHECK(m.mass() == 3.0 / 8);
}

TEST_CASE("probe: mean pairwise cosine: identical tokens 1, orthogonal 0, opposite -1, random as the definition") {
    // Identical tokens (up to a positive scale, which cosine ignores).
    Tensor same = Tensor::from_data(Shape{1, 3, 2}, {1, 2, 2, 4, 0.5, 1});
    CHECK(mean_pairwise_cosine(same).mean() == doctest::Approx(1).epsilon(1e-12));
    // The standard basis of R^3: every pair orthogonal.
    Tensor basis = Tensor::from_data(Shape{1, 3, 3}, {1, 0, 0, 0, 2, 0, 0, 0, 3});
    CHECK(std::abs(mean_pairwise_cosine(basis).mean()) < 1e-12);
    // Two opposite tokens: cos = -1 for both ordered pairs.
    Tensor opposite = Tensor::from_data(Shape{1, 2, 2}, {1, 1, -2, -2});
    CHECK(mean_pairwise_cosine(opposite).mean() == doctest::Approx(-1).epsilon(1e-12));
    // Two sequences are averaged: (1 + 0) / 2. A zero token has cosine 0 with everything:
    // sequence [e1, e1, 0] has pairs (0,1), (1,0) at 1 and four at 0: 2 / 6.
    Tensor two = Tensor::from_data(Shape{2, 3, 3}, {1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1});
    CosineSimilarity s = mean_pairwise_cosine(two);
    CHECK(s.sequences == 2);
    CHECK(s.mean() == doctest::Approx((1.0 + 0.0) / 2).epsilon(1e-12));
    Tensor with_zero = Tensor::from_data(Shape{1, 3, 2}, {1, 0, 1, 0, 0, 0});
    CHECK(mean_pairwise_cosine(with_zero).mean() == doctest::Approx(2.0 / 6).epsilon(1e-12));
    // Random tokens against the O(T^2) definition (both in double; they differ by summation order).
    Generator gen(5);
    Tensor x = Tensor::randn(Shape{3, 7, 5}, gen, 0.3, 1);
    CHECK(mean_pairwise_cosine(x).mean() == doctest::Approx(naive_cosine(x)).epsilon(1e-10));
}

TEST_CASE("probe: attention on a ground-truth group, on a hand-built case") {
    // B = 1, H = 1, T = 3, clusters of the positions 0, 1, 0. Rows of A (each sums to 1):
    //   i = 0: 0.5 0.3 0.2     i = 1: 0.1 0.6 0.3     i = 2: 0.25 0.25 0.5
    Tensor A(Shape{1, 1, 3, 3});
    const double rows[9] = {0.5, 0.3, 0.2, 0.1, 0.6, 0.3, 0.25, 0.25, 0.5};
    for (int k = 0; k < 9; k++) A[k] = real(rows[k]);
    const std::vector<int> cluster = {0, 1, 0};
    // Own cluster, all keys (unit self term): query 0 has S = {2}: 0.2, |S| / n = 1/3; query 1 has
    // no other key of cluster 1 (skipped); query 2 has S = {0}: 0.25, 1/3. Mean 0.225, uniform 1/3.
    ClusterMass own = group_attention_mass(A, cluster, cluster, false, false);
    CHECK(own.queries == 2);
    CHECK(own.mass() == doctest::Approx(0.225).epsilon(1e-6));
    CHECK(own.uniform() == doctest::Approx(1.0 / 3).epsilon(1e-12));
    // Causal: only query 2 has an earlier key of its cluster (0): 0.25 over 3 keys; with the self
    // term excluded it may attend to 2 keys, so the uniform share is 1/2.
    ClusterMass causal = group_attention_mass(A, cluster, cluster, true, false);
    CHECK(causal.queries == 1);
    CHECK(causal.mass() == doctest::Approx(0.25).epsilon(1e-6));
    CHECK(causal.uniform() == doctest::Approx(1.0 / 3).epsilon(1e-12));
    CHECK(group_attention_mass(A, cluster, cluster, true, true).uniform() == doctest::Approx(0.5).epsilon(1e-12));
    // The control's answer groups (K = 2: the answer of cluster c is cluster 1 - c): queries want
    // 1, 0, 1. Query 0: S = {1}, 0.3, 1/3; query 1: S = {0, 2}, 0.1 + 0.3 = 0.4, 2/3; query 2:
    // S = {1}, 0.25, 1/3. Mean (0.3 + 0.4 + 0.25) / 3 = 0.95 / 3, uniform (1 + 2 + 1) / 9 = 4/9.
    ClusterMass answer = group_attention_mass(A, cluster, {1, 0, 1}, false, false);
    CHECK(answer.queries == 3);
    CHECK(answer.mass() == doctest::Approx(0.95 / 3).epsilon(1e-6));
    CHECK(answer.uniform() == doctest::Approx(4.0 / 9).epsilon(1e-12));
    // The groups of a synthetic batch: K = 2 clusters of M = 2 members from 'A': A B | C D.
    ClusterTaskConfig task;
    task.clusters = 2;
    task.members = 2;
    task.keep = 1;
    Batch batch;
    batch.B = 1;
    batch.T = 3;
    batch.tokens = {'A', 'D', 'B'};
    batch.targets = {'A', 'D', 'A'};
    std::vector<int> c, a;
    cluster_groups(task, batch, c, a);
    CHECK(c == std::vector<int>{0, 1, 0});
    CHECK(a == std::vector<int>{0, 1, 0});
    task.control = true;
    cluster_groups(task, batch, c, a);
    CHECK(a == std::vector<int>{1, 0, 1});
    CHECK_THROWS_WITH_AS(group_attention_mass(A, {0, 1}, cluster, false, false), doctest::Contains("B * T = 3"), Error);
}

TEST_CASE("probe: bad arguments are refused with what was expected") {
    Tensor A = uniform_attention(1, 2, 4, false, false);
    Tensor v(Shape{1, 4, 4});
    CHECK_THROWS_WITH_AS(nearest_neighbour_mass(A, v, false, false, 0), doctest::Contains("k >= 1"), Error);
    CHECK_THROWS_WITH_AS(nearest_neighbour_mass(Tensor(Shape{1, 2, 4, 3}), v, false, false, 1),
                         doctest::Contains("[B, H, T, T]"), Error);
    CHECK_THROWS_WITH_AS(nearest_neighbour_mass(A, Tensor(Shape{1, 5, 4}), false, false, 1),
                         doctest::Contains("values [B, T, C]"), Error);
    CHECK_THROWS_WITH_AS(nearest_neighbour_mass(A, Tensor(Shape{1, 4, 3}), false, false, 1),
                         doctest::Contains("do not split into H = 2 heads"), Error);
    CHECK_THROWS_WITH_AS(mean_pairwise_cosine(Tensor(Shape{2, 1, 3})), doctest::Contains("T >= 2"), Error);
    CHECK_THROWS_WITH_AS(mean_pairwise_cosine(Tensor(Shape{2, 3})), doctest::Contains("[B, T, C]"), Error);
    TrainData data = TrainData::synthetic(ClusterTaskConfig{});
    ModelConfig c;
    c.context = 8;
    CHECK_THROWS_WITH_AS(probe_batches(data, c, 0, 4, 0), doctest::Contains("--batches 0"), Error);
    CHECK_THROWS_WITH_AS(probe_model(*make_model(c), {}, 4), doctest::Contains("no batches"), Error);
    // k larger than any query's keys: nothing to measure is an error, not a NaN in the table.
    c.dim = 8;
    c.layers = 1;
    c.heads = 2;
    std::vector<Batch> batches = probe_batches(data, c, 1, 2, 0);
    CHECK_THROWS_WITH_AS(probe_model(*make_model(c), batches, 8), doctest::Contains("smaller --k"), Error);
}

TEST_CASE("probe: Trace::values is v of each block, and a tiny model's probe has one row per layer and the embedding") {
    ModelConfig c;
    c.model = ModelKind::lm;
    c.dim = 8;
    c.layers = 2;
    c.heads = 2;
    c.context = 8;
    c.attn = AttnKind::plap;
    c.p = {1.5, 2.5};
    c.learn_p = true;
    c.seed = 2;
    std::unique_ptr<Model> model = make_model(c);
    auto& gpt = dynamic_cast<GPT&>(*model);
    gpt.h[1]->attn.p.value()[1] = real(1.25);  // as if learned: layer_exponents reads the parameter

    TrainData data = TrainData::synthetic(ClusterTaskConfig{});
    std::vector<Batch> batches = probe_batches(data, c, 2, 3, 1);
    REQUIRE(batches.size() == 2);
    CHECK(batches[0].B == 3);
    CHECK(batches[0].T == 8);

    // values[0] against v computed here: the last C channels of c_attn(ln_1(embedded)).
    model->eval();
    NoGradGuard no_grad;
    Trace trace;
    model->forward(batches[0], &trace);
    REQUIRE(trace.values.size() == 2);
    CHECK(trace.values[0].shape() == Shape{3, 8, 8});
    Tensor qkv = gpt.h[0]->attn.qkv.forward(gpt.h[0]->norm1.forward(Var(trace.embedded))).value();  // [3, 8, 24]
    for (int64_t bt = 0; bt < 3 * 8; bt++)
        for (int64_t ch = 0; ch < 8; ch++) CHECK(trace.values[0][bt * 8 + ch] == qkv[bt * 24 + 16 + ch]);

    std::vector<LayerProbe> rows = probe_model(*model, batches, 2);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].neighbours.queries == 0);  // the embedding: cosine only
    CHECK(rows[0].p.empty());
    // Each layer: 2 batches x 3 rows x 2 heads x (queries i = 2..7 with >= 2 earlier keys) = 72.
    CHECK(rows[1].neighbours.queries == 72);
    CHECK(rows[1].p == std::vector<double>{1.5, 1.5});
    CHECK(rows[2].p == std::vector<double>{2.5, 1.25});
    for (const LayerProbe& r : rows) {
        CHECK(r.cosine.sequences == 6);
        CHECK(std::isfinite(r.cosine.mean()));
    }
    // The pooled rows equal the measurements of the single batches added up.
    NeighbourMass by_hand;
    for (const Batch& b : batches) {
        Trace t;
        model->forward(b, &t);
        by_hand.add(nearest_neighbour_mass(t.attention[1], t.values[1], true, false, 2));
    }
    CHECK(rows[2].neighbours.mass_sum == doctest::Approx(by_hand.mass_sum).epsilon(1e-12));

    std::string csv = probe_csv(rows);
    CHECK(csv.rfind("layer,nn_mass,uniform_mass,ratio,queries,cosine,p_mean,p_heads,cluster_mass,cluster_uniform,"
                    "answer_mass,answer_uniform\n",
                    0) == 0);
    CHECK(csv.find("\n0,,,,0,") != std::string::npos);
    CHECK(csv.find(",2.5;1.25,,,,\n") != std::string::npos);  // no cluster masses without the synthetic task
    int lines = 0;
    for (char ch : csv) lines += ch == '\n';
    CHECK(lines == 4);
}

TEST_CASE("probe: the exponents are empty for softmax and config.p for a fixed p") {
    ModelConfig c;
    c.dim = 8;
    c.layers = 2;
    c.heads = 2;
    c.context = 8;
    CHECK(layer_exponents(*make_model(c)).empty());
    c.attn = AttnKind::plap;
    c.p = {1.75};
    std::vector<std::vector<double>> p = layer_exponents(*make_model(c));
    REQUIRE(p.size() == 2);
    CHECK(p[0] == std::vector<double>{1.75, 1.75});
    CHECK(p[1] == std::vector<double>{1.75, 1.75});
}
