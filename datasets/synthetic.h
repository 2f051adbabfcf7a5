// datasets/synthetic.h: "cluster denoising", a small sequence task on which attending to tokens
// with similar values is the right inductive bias (notes/06a-data.md, "The synthetic task").
// The vocabulary is split into K clusters of M tokens. In each sequence every cluster has a
// hidden true member; each position shows a random cluster's true member with probability q
// and another member of that cluster otherwise. The target at every position is the true member
// of the input token's cluster: the best guess pools the evidence of all earlier tokens of the
// SAME cluster, wherever they are, and nothing from tokens of other clusters or nearby positions.
// The control variant (`control`) keeps the same inputs but asks, at a token of cluster c, for the
// true member of the NEXT cluster, (c + 1) mod K: the tokens alike to the query (its own cluster)
// then say nothing about the answer, and the evidence sits in tokens unlike it
// (notes/06c-what-p-lat-changes.md, section 7).
#pragma once
#include <cstdint>
#include <vector>

#include "core/random.h"
#include "datasets/batch.h"

namespace plat {

struct ClusterTaskConfig {
    int clusters = 8;        // K
    int members = 4;         // M tokens per cluster
    double keep = 0.5;       // q: probability that a position shows its cluster's true member
    int first_token = 'A';   // token id of cluster c, member m: first_token + c * M + m
    bool control = false;    // the answer at cluster c is the true member of cluster (c + 1) mod K

    // Needs K >= 1, M >= 2, 1/M < q <= 1 (so a member seen more often is more likely the true
    // one), first_token + K * M <= 256 (byte vocabulary) and K >= 2 for the control. Throws plat::Error otherwise.
    void validate() const;
    int64_t token(int cluster, int member) const { return first_token + int64_t(cluster) * members + member; }
    int cluster_of(int64_t token) const { return int((token - first_token) / members); }
    int member_of(int64_t token) const { return int((token - first_token) % members); }
    // The cluster whose true member is the answer at a token of cluster c: c, or c + 1 mod K (control).
    int answer_cluster(int c) const { return control ? (c + 1) % clusters : c; }
};

// B independent sequences of T positions (x, y as [B, T] token ids): per row, true members
// m_c ~ uniform(M) for each cluster; per position, cluster c ~ uniform(K), shown member = m_c
// with probability q, else uniform over the M - 1 others; x = token(c, shown), y = token(a, m_a)
// with a = answer_cluster(c) (a = c unless control). The draws do not depend on `control`.
Batch cluster_task_batch(const ClusterTaskConfig& config, int64_t B, int64_t T, Generator& gen);

// The same as a resumable sampler, with the state of datasets/text.h's TextBatchSampler.
class ClusterTaskSampler {
public:
    ClusterTaskSampler(const ClusterTaskConfig& config, int64_t B, int64_t T, uint64_t seed);
    Batch next();
    SamplerState state() const { return {gen_.state(), step_}; }
    void set_state(const SamplerState& state);

private:
    ClusterTaskConfig config_;
    int64_t B_, T_;
    Generator gen_;
    int64_t step_ = 0;
};

// The Bayes-optimal prediction at every position of x [B, T]: among the tokens of x[b, 0..t] in
// the answer cluster a of x[b, t] (the token itself included when a is its own cluster), the
// member of a seen most often; ties, and no token of a seen yet, go to the smallest member.
// (The posterior of member m is proportional to r^count(m), r = q (M-1) / (1-q) > 1.)
std::vector<int64_t> cluster_task_bayes_predict(const ClusterTaskConfig& config, const Batch& batch);

// Exact expected accuracy of the Bayes-optimal predictor at a position whose answer cluster has
// been seen n >= 0 times so far (1/M at n = 0: a guess), and averaged over positions t = 0..T-1
// (n - 1 ~ Binomial(t, 1/K), the position itself counted; control: n ~ Binomial(t, 1/K)). No model can beat it on average; predicting x itself scores q,
// a uniform guess within the right cluster 1/M (notes/06a-data.md, "Bayes-optimal accuracy").
double cluster_task_accuracy_given_count(const ClusterTaskConfig& config, int64_t n);
double cluster_task_bayes_accuracy(const ClusterTaskConfig& config, int64_t T);

}  // namespace plat
