// datasets/synthetic.cpp: the cluster-denoising task, its Bayes-optimal predictor and the exact
// accuracy of that predictor (notes/06a-data.md, "The synthetic task", "Bayes-optimal accuracy").
#include "datasets/synthetic.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace plat {

void ClusterTaskConfig::validate() const {
    if (clusters < 1) fail("ClusterTaskConfig: clusters must be >= 1, got {}", clusters);
    if (members < 2) fail("ClusterTaskConfig: members must be >= 2, got {}", members);
    if (!(keep > 1.0 / members && keep <= 1.0))
        fail("ClusterTaskConfig: keep must be in (1/members, 1] = ({}, 1], got {}; at or below "
             "1/members the shown member says nothing about the true one", 1.0 / members, keep);
    if (control && clusters < 2)
        fail("ClusterTaskConfig: the control task needs clusters >= 2 (the answer comes from another cluster), got {}",
             clusters);
    if (first_token < 0 || first_token + int64_t(clusters) * members > 256)
        fail("ClusterTaskConfig: tokens first_token .. first_token + clusters * members - 1 = {} .. {} "
             "must be bytes (0 .. 255)", first_token, first_token + int64_t(clusters) * members - 1);
}

Batch cluster_task_batch(const ClusterTaskConfig& config, int64_t B, int64_t T, Generator& gen) {
    config.validate();
    if (B <= 0 || T <= 0) fail("cluster_task_batch: B and T must be positive, got B = {}, T = {}", B, T);
    const int K = config.clusters, M = config.members;
    Batch batch;
    batch.B = B;
    batch.T = T;
    batch.tokens.resize(size_t(B * T));  // [B, T]
    batch.targets.resize(size_t(B * T));  // [B, T]
    std::vector<int> truth((size_t)K);  // [K] this row's true member per cluster
    for (int64_t b = 0; b < B; b++) {
        for (int c = 0; c < K; c++) truth[c] = int(gen.randint(M));
        for (int64_t t = 0; t < T; t++) {
            int c = int(gen.randint(K));
            int shown = truth[c];
            if (gen.uniform() >= config.keep) {
                // another member, uniformly: draw from the M - 1 others by skipping the true one
                int other = int(gen.randint(M - 1));
                shown = other < truth[c] ? other : other + 1;
            }
            const int a = config.answer_cluster(c);
            batch.tokens[b * T + t] = config.token(c, shown);
            batch.targets[b * T + t] = config.token(a, truth[a]);
        }
    }
    return batch;
}

ClusterTaskSampler::ClusterTaskSampler(const ClusterTaskConfig& config, int64_t B, int64_t T, uint64_t seed)
    : config_(config), B_(B), T_(T), gen_(seed) {
    config_.validate();
    if (B <= 0 || T <= 0) fail("ClusterTaskSampler: B and T must be positive, got B = {}, T = {}", B, T);
}

Batch ClusterTaskSampler::next() {
    step_++;
    return cluster_task_batch(config_, B_, T_, gen_);
}

void ClusterTaskSampler::set_state(const SamplerState& state) {
    if (state.step < 0) fail("ClusterTaskSampler::set_state: step must be >= 0, got {}", state.step);
    gen_.set_state(state.generator_state);
    step_ = state.step;
}

std::vector<int64_t> cluster_task_bayes_predict(const ClusterTaskConfig& config, const Batch& batch) {
    config.validate();
    const int K = config.clusters, M = config.members;
    const int64_t B = batch.B, T = batch.T;
    std::vector<int64_t> predict(size_t(B * T));  // [B, T]
    std::vector<int64_t> counts(size_t(K * M));   // [K, M] members seen so far in this row
    for (int64_t b = 0; b < B; b++) {
        std::fill(counts.begin(), counts.end(), 0);
        for (int64_t t = 0; t < T; t++) {
            int64_t token = batch.tokens[b * T + t];
            if (token < config.first_token || token >= config.first_token + int64_t(K) * M)
                fail("cluster_task_bayes_predict: token {} at row {}, position {} is not in the task's "
                     "vocabulary [{}, {})", token, b, t, config.first_token, config.first_token + K * M);
            int c = config.cluster_of(token);
            counts[c * M + config.member_of(token)]++;
            const int a = config.answer_cluster(c);
            int best = 0;  // strict > keeps the smallest member among ties (and when a is unseen)
            for (int m = 1; m < M; m++)
                if (counts[a * M + m] > counts[a * M + best]) best = m;
            predict[b * T + t] = config.token(a, best);
        }
    }
    return predict;
}

// log(i!) for i = 0..n, so binomial coefficients of n in the hundreds stay finite.
static std::vector<double> log_factorials(int64_t n) {
    std::vector<double> table(size_t(n + 1), 0.0);
    for (int64_t i = 1; i <= n; i++) table[i] = table[i - 1] + std::log(double(i));
    return table;
}

// P(X = k) for X ~ Binomial(n, p); log_factorial must reach n.
static double binomial_pmf(int64_t k, int64_t n, double p, const std::vector<double>& log_factorial) {
    if (k < 0 || k > n) return 0;
    if (p <= 0) return k == 0 ? 1 : 0;
    if (p >= 1) return k == n ? 1 : 0;
    double log_choose = log_factorial[n] - log_factorial[k] - log_factorial[n - k];
    return std::exp(log_choose + double(k) * std::log(p) + double(n - k) * std::log1p(-p));
}

double cluster_task_accuracy_given_count(const ClusterTaskConfig& config, int64_t n) {
    config.validate();
    if (n < 0) fail("cluster_task_accuracy_given_count: n must be >= 0, got {}", n);
    const int M = config.members, others = M - 1;
    if (n == 0) return 1.0 / double(M);  // nothing seen: the smallest member, right 1 time in M
    const std::vector<double> log_factorial = log_factorials(n);
    // The n observations of the cluster are independent: the true member with probability q,
    // each other member with (1 - q) / (M - 1). With k of them the true member, the predictor is
    // right with probability 1 / (1 + J) when no other member was seen more than k times and J
    // others were seen exactly k times (it picks uniformly, in expectation, among the tied), and
    // wrong otherwise. The other n - k observations are a uniform multinomial over the M - 1
    // others, drawn member by member: member i takes Binomial(rest, 1 / (M - 1 - i)).
    double accuracy = 0;
    for (int64_t k = 1; k <= n; k++) {
        double p_k = binomial_pmf(k, n, config.keep, log_factorial);
        if (p_k == 0) continue;
        // prob[r][j]: probability that r observations are still to place and j others tie at k
        std::vector<std::vector<double>> prob(size_t(n - k + 1), std::vector<double>(size_t(M), 0.0));
        prob[n - k][0] = 1;
        for (int i = 0; i < others; i++) {
            std::vector<std::vector<double>> next(size_t(n - k + 1), std::vector<double>(size_t(M), 0.0));
            double share = 1.0 / double(others - i);
            for (int64_t r = 0; r <= n - k; r++) {
                bool reached = false;
                for (int j = 0; j < M; j++) reached = reached || prob[r][j] != 0;
                if (!reached) continue;
                for (int64_t c = 0; c <= std::min(k, r); c++) {  // counts above k: predictor wrong
                    double p_c = binomial_pmf(c, r, share, log_factorial);
                    for (int j = 0; j + (c == k) < M; j++) next[r - c][j + (c == k)] += prob[r][j] * p_c;
                }
            }
            prob.swap(next);
        }
        for (int j = 0; j < M; j++) accuracy += p_k * prob[0][j] / double(1 + j);
    }
    return accuracy;
}

double cluster_task_bayes_accuracy(const ClusterTaskConfig& config, int64_t T) {
    config.validate();
    if (T <= 0) fail("cluster_task_bayes_accuracy: T must be positive, got {}", T);
    const std::vector<double> log_factorial = log_factorials(T);
    std::vector<double> given(size_t(T + 1));  // given[n], n = 0..T
    for (int64_t n = 0; n <= T; n++) given[n] = cluster_task_accuracy_given_count(config, n);
    // At position t the earlier t positions each fall in the answer cluster with probability 1/K;
    // the position itself is in it unless control (then it is in the cluster before it).
    const int64_t self = config.control ? 0 : 1;
    double total = 0;
    for (int64_t t = 0; t < T; t++)
        for (int64_t n = self; n <= t + self; n++)
            total += binomial_pmf(n - self, t, 1.0 / config.clusters, log_factorial) * given[n];
    return total / double(T);
}

}  // namespace plat
