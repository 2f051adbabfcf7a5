// experiments/training/probe.cpp: the measurements of experiments/training/probe.h on a trained
// model and held-out data: nearest-neighbour attention mass against its uniform baseline, the mean
// pairwise cosine similarity after each layer, and the exponents p (notes/06-experiments.md, "How
// the measurements are made"). The command is experiments/cli/probe.cpp.
#include "experiments/training/probe.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include <fmt/core.h>

#include "autograd/var.h"
#include "core/files.h"
#include "core/error.h"

namespace plat {

namespace {
// Fresh synthetic batches come from Generator(seed XOR this), a stream that is neither the
// training order (kDataSeedMix in experiments/training/trainer.cpp) nor plat eval's fixed batches.
constexpr uint64_t kProbeSeedMix = 0x510e527fade682d1ULL;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

void NeighbourMass::add(const NeighbourMass& o) {
    mass_sum += o.mass_sum;
    uniform_sum += o.uniform_sum;
    queries += o.queries;
}

void CosineSimilarity::add(const CosineSimilarity& o) {
    sum += o.sum;
    sequences += o.sequences;
}

// ---- nearest-neighbour attention mass --------------------------------------------------------------

NeighbourMass nearest_neighbour_mass(const Tensor& A, const Tensor& v, bool causal, bool self_excluded, int k) {
    if (k < 1) fail("nearest_neighbour_mass: k = {}; expected k >= 1 neighbours", k);
    if (A.ndim() != 4 || A.size(2) != A.size(3))
        fail("nearest_neighbour_mass: attention has shape {}; expected [B, H, T, T]", A.shape().str());
    if (v.ndim() != 3 || v.size(0) != A.size(0) || v.size(1) != A.size(2))
        fail("nearest_neighbour_mass: values have shape {} and attention {}; expected values [B, T, C] with the "
             "attention's B and T",
             v.shape().str(), A.shape().str());
    const int64_t B = A.size(0), H = A.size(1), T = A.size(2), C = v.size(2);
    if (H < 1 || C % H != 0)
        fail("nearest_neighbour_mass: C = {} value channels do not split into H = {} heads", C, H);
    const int64_t D = C / H;

    NeighbourMass out;
    std::vector<std::pair<double, int64_t>> dist;  // [n] (||v_i - v_j||^2, j) over the keys j != i
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                const int64_t keys = causal ? i + 1 : T;  // j < keys may be attended to by the mask
                if (keys - 1 < k) continue;               // fewer than k candidates j != i
                const int64_t n = self_excluded ? keys - 1 : keys;
                const real* vi = v.data() + (b * T + i) * C + h * D;
                dist.clear();
                for (int64_t j = 0; j < keys; j++) {
                    if (j == i) continue;
                    const real* vj = v.data() + (b * T + j) * C + h * D;
                    double r = 0;
                    for (int64_t d = 0; d < D; d++) {
                        double diff = double(vi[d]) - double(vj[d]);
                        r += diff * diff;
                    }
                    dist.push_back({r, j});
                }
                // The k smallest distances; pairs compare by distance, then by j (ties: smaller j).
                std::partial_sort(dist.begin(), dist.begin() + k, dist.end());
                const real* row = A.data() + ((b * H + h) * T + i) * T;  // A[b, h, i, :]
                double mass = 0;
                for (int m = 0; m < k; m++) mass += double(row[dist[m].second]);
                out.mass_sum += mass;
                out.uniform_sum += double(k) / double(n);
                out.queries++;
            }
    return out;
}

// ---- attention on a ground-truth group ----------------------------------------------------------

void ClusterMass::add(const ClusterMass& o) {
    mass_sum += o.mass_sum;
    uniform_sum += o.uniform_sum;
    queries += o.queries;
}

ClusterMass group_attention_mass(const Tensor& A, const std::vector<int>& key_group, const std::vector<int>& query_group,
                                 bool causal, bool self_excluded) {
    if (A.ndim() != 4 || A.size(2) != A.size(3))
        fail("group_attention_mass: attention has shape {}; expected [B, H, T, T]", A.shape().str());
    const int64_t B = A.size(0), H = A.size(1), T = A.size(2);
    if (int64_t(key_group.size()) != B * T || int64_t(query_group.size()) != B * T)
        fail("group_attention_mass: {} key groups and {} query groups for attention {}; expected B * T = {} of each",
             key_group.size(), query_group.size(), A.shape().str(), B * T);
    ClusterMass out;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                const int64_t keys = causal ? i + 1 : T;  // j < keys may be attended to by the mask
                const int64_t n = self_excluded ? keys - 1 : keys;
                const int want = query_group[b * T + i];
                const real* row = A.data() + ((b * H + h) * T + i) * T;  // A[b, h, i, :]
                double mass = 0;
                int64_t members = 0;
                for (int64_t j = 0; j < keys; j++) {
                    if (j == i || key_group[b * T + j] != want) continue;
                    mass += double(row[j]);
                    members++;
                }
                if (members == 0) continue;
                out.mass_sum += mass;
                out.uniform_sum += double(members) / double(n);
                out.queries++;
            }
    return out;
}

void cluster_groups(const ClusterTaskConfig& task, const Batch& batch, std::vector<int>& cluster,
                    std::vector<int>& answer) {
    cluster.resize(batch.tokens.size());
    answer.resize(batch.tokens.size());
    for (size_t k = 0; k < batch.tokens.size(); k++) {
        cluster[k] = task.cluster_of(batch.tokens[k]);
        answer[k] = task.answer_cluster(cluster[k]);
    }
}

// ---- over-smoothing ------------------------------------------------------------------------------

CosineSimilarity mean_pairwise_cosine(const Tensor& x) {
    if (x.ndim() != 3 || x.size(1) < 2 || x.size(2) < 1)
        fail("mean_pairwise_cosine: tokens have shape {}; expected [B, T, C] with T >= 2 (pairs i != j)",
             x.shape().str());
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
    CosineSimilarity out;
    std::vector<double> sum(C);  // [C] sum_i u_i
    for (int64_t b = 0; b < B; b++) {
        std::fill(sum.begin(), sum.end(), 0.0);
        double self = 0;  // sum_i ||u_i||^2: 1 per nonzero token
        for (int64_t i = 0; i < T; i++) {
            const real* xi = x.data() + (b * T + i) * C;
            double norm2 = 0;
            for (int64_t c = 0; c < C; c++) norm2 += double(xi[c]) * double(xi[c]);
            if (norm2 == 0) continue;  // u_i = 0: cosine 0 with every token
            const double inv = 1 / std::sqrt(norm2);
            double u2 = 0;
            for (int64_t c = 0; c < C; c++) {
                double u = double(xi[c]) * inv;
                sum[c] += u;
                u2 += u * u;
            }
            self += u2;
        }
        // sum_{i != j} u_i . u_j = ||sum_i u_i||^2 - sum_i ||u_i||^2, over T (T - 1) ordered pairs.
        double total = 0;
        for (int64_t c = 0; c < C; c++) total += sum[c] * sum[c];
        out.sum += (total - self) / (double(T) * double(T - 1));
        out.sequences++;
    }
    return out;
}

// ---- exponents -----------------------------------------------------------------------------------

std::vector<std::vector<double>> layer_exponents(Model& model) {
    const ModelConfig& c = model.config();
    std::vector<std::vector<double>> out;
    if (c.attn != AttnKind::plap) return out;
    std::vector<const SelfAttention*> attns;
    if (auto* gpt = dynamic_cast<GPT*>(&model))
        for (auto& block : gpt->h) attns.push_back(&block->attn);
    else if (auto* vit = dynamic_cast<VisionTransformer*>(&model))
        for (auto& block : vit->blocks) attns.push_back(&block->attn);
    else
        fail("layer_exponents: the model is neither a GPT nor a VisionTransformer");
    // SelfAttention::p holds the exponents in both cases: the parameter with learn_p (clamped
    // to [1, 4] after every step), else a constant filled with config.p_for_layer(l).
    for (const SelfAttention* a : attns) {
        const Tensor& p = a->p.value();
        std::vector<double> heads(static_cast<size_t>(p.numel()));
        for (int64_t h = 0; h < p.numel(); h++) heads[h] = double(p[h]);
        out.push_back(heads);
    }
    return out;
}

// ---- the probe -----------------------------------------------------------------------------------

std::vector<LayerProbe> probe_model(Model& model, const std::vector<Batch>& batches, int k,
                                    const ClusterTaskConfig* task) {
    if (batches.empty()) fail("probe: no batches to measure on");
    const ModelConfig& c = model.config();
    const bool causal = c.model == ModelKind::lm;
    const bool self_excluded = c.attn == AttnKind::plap && c.self == SelfTerm::exclude;
    std::vector<std::vector<double>> p = layer_exponents(model);
    std::vector<LayerProbe> rows(static_cast<size_t>(c.layers) + 1);
    for (size_t l = 0; l < rows.size(); l++) {
        rows[l].layer = int(l);
        if (l > 0 && !p.empty()) rows[l].p = p[l - 1];
    }
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    int64_t T = 0;  // tokens per sequence, for the message below
    std::vector<int> cluster, answer;  // [B * T] ground-truth groups of the synthetic task
    for (const Batch& batch : batches) {
        Trace trace;
        model.forward(batch, &trace);
        if (task) cluster_groups(*task, batch, cluster, answer);
        T = trace.embedded.size(1);
        rows[0].cosine.add(mean_pairwise_cosine(trace.embedded));
        for (size_t l = 0; l < trace.hidden.size(); l++) {
            rows[l + 1].neighbours.add(
                nearest_neighbour_mass(trace.attention[l], trace.values[l], causal, self_excluded, k));
            rows[l + 1].cosine.add(mean_pairwise_cosine(trace.hidden[l]));
            if (task) {
                rows[l + 1].cluster.add(group_attention_mass(trace.attention[l], cluster, cluster, causal, self_excluded));
                rows[l + 1].answer.add(group_attention_mass(trace.attention[l], cluster, answer, causal, self_excluded));
            }
        }
    }
    model.train(was_training);
    for (size_t l = 1; l < rows.size(); l++)
        if (rows[l].neighbours.queries == 0)
            fail("probe: no query has k = {} admissible keys other than itself (sequences of {} tokens{}); use a "
                 "smaller --k",
                 k, T, causal ? ", causal" : "");
    return rows;
}

std::vector<Batch> probe_batches(const TrainData& data, const ModelConfig& config, int64_t batches, int64_t batch,
                                 uint64_t seed) {
    if (batches < 1 || batch < 1) fail("probe: --batches {} and --batch {} must be >= 1", batches, batch);
    std::vector<Batch> out;
    const int64_t T = config.context;
    if (data.task == TaskKind::lm) {
        TextBatchSampler sampler(data.text.val, batch, T, seed, "validation");
        for (int64_t n = 0; n < batches; n++) {
            out.push_back(sampler.next());
        }
    } else if (data.task == TaskKind::synthetic) {
        Generator gen(seed ^ kProbeSeedMix);
        for (int64_t n = 0; n < batches; n++) {
            out.push_back(cluster_task_batch(data.cluster, batch, T, gen));
        }
    } else {
        const Tensor& images = data.images.test_images;
        if (images.empty() || images.size(0) < batch)
            fail("probe: the test set holds {} images, fewer than one --batch of {}", images.empty() ? 0 : images.size(0),
                 batch);
        ImageBatchIterator it(images, data.images.test_labels, batch, seed);
        for (int64_t n = 0; n < batches; n++) {
            out.push_back(it.next());
        }
    }
    return out;
}

namespace {

std::string number(double x) { return std::isfinite(x) ? fmt::format("{:.6g}", x) : std::string(); }

std::string joined(const std::vector<double>& p, const char* sep, const char* format) {
    std::string s;
    for (size_t h = 0; h < p.size(); h++) s += (h ? sep : "") + fmt::format(format, p[h]);
    return s;
}

double mean_of(const std::vector<double>& p) {
    return p.empty() ? kNaN : std::accumulate(p.begin(), p.end(), 0.0) / double(p.size());
}

}  // namespace

std::string probe_csv(const std::vector<LayerProbe>& rows) {
    std::string out = "layer,nn_mass,uniform_mass,ratio,queries,cosine,p_mean,p_heads,cluster_mass,cluster_uniform,"
                      "answer_mass,answer_uniform\n";
    for (const LayerProbe& r : rows) {
        const NeighbourMass& n = r.neighbours;
        out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}\n", r.layer, number(n.mass()), number(n.uniform()),
                           number(n.mass() / n.uniform()), n.queries, number(r.cosine.mean()), number(mean_of(r.p)),
                           joined(r.p, ";", "{:.6g}"), number(r.cluster.mass()), number(r.cluster.uniform()),
                           number(r.answer.mass()), number(r.answer.uniform()));
    }
    return out;
}

// ---- plat probe ----------------------------------------------------------------------------------

}  // namespace plat
