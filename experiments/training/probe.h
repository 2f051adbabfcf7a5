// experiments/training/probe.h: what `plat probe` measures inside a trained model, as functions the tests
// call on hand-built tensors: the attention mass each query puts on its nearest neighbours in
// value space (the measured form of "low p favours close tokens"), the mean pairwise cosine
// similarity of the tokens after each layer (over-smoothing), and the exponents p of each head
// (notes/06-experiments.md, "How the measurements are made").
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "experiments/training/evaluate.h"
#include "nn/models.h"

namespace plat {

// Sums over the counted queries (b, h, i), kept as sums so that batches can be pooled before
// dividing: mass() and uniform() are the means the probe reports.
struct NeighbourMass {
    double mass_sum = 0;     // sum of sum_{j in N_k(i)} A_ij, N_k(i) = the k nearest admissible keys j != i
    double uniform_sum = 0;  // sum of k / n_i, n_i = the number of keys query i may attend to
    int64_t queries = 0;     // (b, h, i) with at least k admissible keys other than i

    double mass() const { return queries ? mass_sum / double(queries) : std::numeric_limits<double>::quiet_NaN(); }
    double uniform() const { return queries ? uniform_sum / double(queries) : std::numeric_limits<double>::quiet_NaN(); }
    void add(const NeighbourMass& other);
};

// The attention mass on value-space nearest neighbours (notes/06-experiments.md, "Nearest-
// neighbour attention mass"). attention A [B, H, T, T] (rows sum to 1 over the admissible keys),
// values v [B, T, C] with head h in channels [h*D, (h+1)*D), D = C / H. For each batch entry b,
// head h and query i: the admissible keys are j < T, or j <= i when `causal`, minus j = i when
// `self_excluded` (the p-Laplacian "exclude" self term, which never attends to itself when another
// key exists). Queries with fewer than k admissible keys j != i are skipped. N_k(i) holds the k
// keys j != i with the smallest ||v_i - v_j|| (head h's D channels; ties go to the smaller j);
// the query adds sum_{j in N_k(i)} A_ij to mass_sum and k / n_i (n_i admissible keys) to
// uniform_sum: the mass a uniform attention over its keys would put there.
// Throws plat::Error on mismatched shapes, heads not dividing C, or k < 1.
NeighbourMass nearest_neighbour_mass(const Tensor& attention, const Tensor& values, bool causal, bool self_excluded,
                                     int k);

// Sums over the counted queries (b, h, i) of the attention on the keys of a chosen ground-truth
// group: the measured form of "a query attends to the tokens that belong with it" on the
// synthetic task, where the groups are known (notes/06c-what-p-lat-changes.md, section 7).
struct ClusterMass {
    double mass_sum = 0;     // sum of sum_{j in S(i)} A_ij, S(i) = admissible keys j != i with key_group[j] == query_group[i]
    double uniform_sum = 0;  // sum of |S(i)| / n_i, n_i = the number of keys query i may attend to
    int64_t queries = 0;     // (b, h, i) with S(i) not empty

    double mass() const { return queries ? mass_sum / double(queries) : std::numeric_limits<double>::quiet_NaN(); }
    double uniform() const { return queries ? uniform_sum / double(queries) : std::numeric_limits<double>::quiet_NaN(); }
    void add(const ClusterMass& other);
};

// attention A [B, H, T, T]; key_group and query_group [B * T] (row b, position t at b * T + t).
// Admissible keys as in nearest_neighbour_mass (j <= i when causal, j = i dropped when
// self_excluded); the query itself never counts in S(i), so both self terms are measured alike.
// The synthetic task (cluster_groups): key_group = the cluster of each token; query_group = its
// own cluster ("cluster mass": the keys alike to it) or its answer cluster ("answer mass": the keys
// that carry the answer; the same thing except on the control task).
ClusterMass group_attention_mass(const Tensor& attention, const std::vector<int>& key_group,
                                 const std::vector<int>& query_group, bool causal, bool self_excluded);

// The groups of a synthetic batch: the cluster of every token, and the answer cluster of every
// token (ClusterTaskConfig::answer_cluster), each [B * T].
void cluster_groups(const ClusterTaskConfig& task, const Batch& batch, std::vector<int>& cluster,
                    std::vector<int>& answer);

// Sums over sequences of the mean pairwise cosine similarity (notes/06-experiments.md,
// "Over-smoothing").
struct CosineSimilarity {
    double sum = 0;         // sum over sequences b of (1 / (T (T-1))) sum_{i != j} cos(x_bi, x_bj)
    int64_t sequences = 0;

    double mean() const { return sequences ? sum / double(sequences) : std::numeric_limits<double>::quiet_NaN(); }
    void add(const CosineSimilarity& other);
};

// x [B, T, C], T >= 2. cos(a, b) = a.b / (||a|| ||b||); a zero vector has cosine 0 with every
// token. Computed as ||sum_i u_i||^2 - sum_i ||u_i||^2 with u_i = x_i / ||x_i|| (in double),
// which is sum_{i != j} u_i . u_j. Throws plat::Error on a shape that is not [B, T >= 2, C].
CosineSimilarity mean_pairwise_cosine(const Tensor& x);

// The exponent of every layer and head: the learned parameter ...attn.p [H] with learn_p, else
// config.p_for_layer(l) in every head; empty for softmax attention. Result [L][H].
std::vector<std::vector<double>> layer_exponents(Model& model);

// One row of the probe's table: layer 0 is the embedding (the blocks' input; cosine only),
// layer l >= 1 the block l - 1 (its attention and values, and the tokens after it).
struct LayerProbe {
    int layer = 0;
    NeighbourMass neighbours;   // empty for layer 0
    CosineSimilarity cosine;
    std::vector<double> p;      // per head; empty for layer 0 and for softmax attention
    ClusterMass cluster;        // synthetic task only: attention on the query's own cluster
    ClusterMass answer;         // synthetic task only: attention on the query's answer cluster
};

// Forward passes (eval mode, no graph) over the batches with a Trace, pooled: L + 1 rows. With
// `task` (batches of the synthetic task) also the cluster and answer masses of each layer.
std::vector<LayerProbe> probe_model(Model& model, const std::vector<Batch>& batches, int k,
                                    const ClusterTaskConfig* task = nullptr);

// The held-out data the probe runs on, `batches` batches of `batch` rows, drawn from `seed`:
// lm: windows of `context` bytes at random positions of the validation split (bytes 90-95%);
// vit: test images in a random order; synthetic: fresh batches of the cluster task.
std::vector<Batch> probe_batches(const TrainData& data, const ModelConfig& config, int64_t batches, int64_t batch,
                                 uint64_t seed);

// The rows as CSV: layer,nn_mass,uniform_mass,ratio,queries,cosine,p_mean,p_heads,cluster_mass,
// cluster_uniform,answer_mass,answer_uniform (p_heads holds the heads' exponents separated by ';';
// fields that do not apply are empty).
std::string probe_csv(const std::vector<LayerProbe>& rows);

}  // namespace plat
