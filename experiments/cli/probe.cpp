// experiments/cli/probe.cpp: `plat probe`: open a run, measure it (experiments/training/probe.h),
// print the table and optionally write it as CSV.
#include <fmt/format.h>

#include "core/files.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/options.h"
#include "experiments/training/probe.h"
#include "experiments/training/run.h"

namespace plat {

namespace {

struct ProbeCommand {
    std::string checkpoint;
    int64_t batches = 8;
    int64_t batch = 16;
    uint64_t seed = 0;
    int k = 4;
    std::string data;
    std::string csv;
};

void run_probe(const ProbeCommand& o) {
    OpenedRun run = open_run(o.checkpoint, o.data);
    const TrainOptions& options = run.options;
    const ModelConfig& c = run.checkpoint.config;
    const std::string& path = run.path;
    const int64_t step = run.step;
    TrainData data = load_train_data(options, c);
    std::vector<Batch> batches = probe_batches(data, c, o.batches, o.batch, o.seed);
    const bool synthetic = data.task == TaskKind::synthetic;
    std::vector<LayerProbe> rows = probe_model(*run.model, batches, o.k, synthetic ? &data.cluster : nullptr);

    std::string attn = attn_kind_name(c.attn);
    if (c.attn == AttnKind::plap)
        attn += fmt::format(" (p {}{}, self {})", fmt::format("{}", fmt::join(c.p, ",")), c.learn_p ? " learned from" : "",
                            self_term_name(c.self));
    fmt::print("checkpoint {}: {} model, {} attention, {} task{}\n", path, c.model, attn, options.task,
               step >= 0 ? fmt::format(", step {}", step) : "");
    std::string what = options.task == TaskKind::lm          ? fmt::format("windows of {} bytes of the validation text", c.context)
                       : options.task == TaskKind::synthetic ? fmt::format("fresh cluster-task sequences of {} tokens", c.context)
                                                     : "test images";
    fmt::print("held-out data: {} batches of {} {} (seed {}); k = {} nearest neighbours in value space{}\n", o.batches,
               o.batch, what, o.seed, o.k, c.model == ModelKind::lm ? ", causal" : "");
    fmt::print("{:>5}  {:>8}  {:>8}  {:>6}  {:>7}  {}\n", "layer", "nn_mass", "uniform", "ratio", "cosine",
               c.attn == AttnKind::plap ? "p per head" : "");
    for (const LayerProbe& r : rows) {
        if (r.layer == 0) {
            fmt::print("{:>5}  {:>8}  {:>8}  {:>6}  {:>7.4f}  (embedding)\n", 0, "-", "-", "-", r.cosine.mean());
            continue;
        }
        const NeighbourMass& n = r.neighbours;
        fmt::print("{:>5}  {:>8.4f}  {:>8.4f}  {:>6.2f}  {:>7.4f}  {}\n", r.layer, n.mass(), n.uniform(),
                   n.mass() / n.uniform(), r.cosine.mean(), fmt::format("{:.3f}", fmt::join(r.p, " ")));
    }
    fmt::print("nn_mass: mean attention on the k keys nearest in value space (same head); uniform: what equal "
               "weights over the admissible keys would put there; cosine: mean pairwise cosine similarity of the "
               "tokens after the layer (layer 0: the embedding)\n");
    if (synthetic)  // the ground truth of the synthetic task (notes/06c-what-p-lat-changes.md, section 7)
        for (const LayerProbe& r : rows)
            if (r.layer > 0)
                fmt::print("layer {}: attention on keys of the query's own cluster {:.4f} (uniform {:.4f}), of its answer "
                           "cluster {:.4f} (uniform {:.4f})\n",
                           r.layer, r.cluster.mass(), r.cluster.uniform(), r.answer.mass(), r.answer.uniform());
    if (!o.csv.empty()) {
        write_file_atomic(o.csv, probe_csv(rows), "probe");
        fmt::print("wrote {}\n", o.csv);
    }
}

}  // namespace

void register_probe(CLI::App& app) {
    auto o = std::make_shared<ProbeCommand>();
    CLI::App* cmd = app.add_subcommand(
        "probe", "Measure a trained model on held-out data: attention mass on value-space nearest neighbours (vs "
                 "uniform), mean pairwise cosine similarity after each layer, the exponents p");
    cmd->add_option("--checkpoint", o->checkpoint, "a .safetensors checkpoint, or a run directory (its best.safetensors)")
        ->required();
    cmd->add_option("--batches", o->batches, "held-out batches to average over")
        ->capture_default_str()
        ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
    cmd->add_option("--batch", o->batch, "sequences or images per batch")
        ->capture_default_str()
        ->check(CLI::Range(int64_t(1), int64_t(1) << 16));
    cmd->add_option("--seed", o->seed, "which held-out windows, test images or synthetic sequences are drawn")
        ->capture_default_str()->check(unsigned_integer());
    cmd->add_option("--k", o->k, "nearest neighbours per query (keys j != i, closest value vectors)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 16));
    cmd->add_option("--data", o->data, "data directory (default: the run's, else $PLAT_DATA_DIR, else ./data)");
    cmd->add_option("--csv", o->csv, "also write the table as CSV to this file (written atomically; default: none)");
    cmd->callback([o] { run_probe(*o); });
}

}  // namespace plat
