// experiments/training/evaluate.cpp: the three tasks' data and the evaluation of a model on a
// held-out split (experiments/training/evaluate.h).
#include "experiments/training/evaluate.h"

#include <algorithm>

#include <fmt/core.h>

#include "autograd/var.h"
#include "core/error.h"
#include "datasets/files.h"

namespace plat {

namespace {

// The synthetic task's validation and test batches come from fixed seeds, so that every model
// (whatever its --seed) is measured on the same sequences.
constexpr uint64_t kSyntheticValSeed = 0xbb67ae8584caa73bULL;
constexpr uint64_t kSyntheticTestSeed = 0x3c6ef372fe94f82bULL;
// When a synthetic evaluation is asked for "all" batches (0), this many.
constexpr int64_t kSyntheticAllBatches = 50;

}  // namespace

// ---- data ----------------------------------------------------------------------------------------

TrainData TrainData::from_text(const std::vector<uint8_t>& bytes, int64_t context, const std::string& source) {
    TrainData d;
    d.task = TaskKind::lm;
    d.source = source;
    d.text = split_text(bytes);
    // Training draws windows of context + 1 bytes anywhere in its part (they may overlap), and
    // validation and test cut theirs into such windows: each part needs at least one.
    int64_t need = context + 1;
    if (int64_t(d.text.train.size()) < need || int64_t(d.text.val.size()) < need || int64_t(d.text.test.size()) < need)
        fail("text '{}' has {} bytes: its training part ({} bytes, the first 90%), validation part ({} bytes, the "
             "next 5%) and test part ({} bytes, the last 5%) must each hold one window of --context + 1 = {} bytes; "
             "use a longer text (at least {} bytes) or a smaller --context",
             source, bytes.size(), d.text.train.size(), d.text.val.size(), d.text.test.size(), need, 20 * need);
    return d;
}

TrainData TrainData::from_images(FashionMNIST images, const std::string& source) {
    TrainData d;
    d.task = TaskKind::vit;
    d.source = source;
    d.images = std::move(images);
    return d;
}

TrainData TrainData::synthetic(const ClusterTaskConfig& cluster) {
    cluster.validate();
    TrainData d;
    d.task = TaskKind::synthetic;
    d.cluster = cluster;
    d.source = fmt::format("synthetic cluster task{}: {} clusters of {} members, keep {}",
                           cluster.control ? " (control: the answer is the next cluster's)" : "", cluster.clusters,
                           cluster.members, cluster.keep);
    return d;
}

TrainData load_train_data(const TrainOptions& o, const ModelConfig& config) {
    std::string dir = o.data.empty() ? data_dir() : o.data;
    if (o.task == TaskKind::lm) {
        std::string path = dir + "/kjv.txt";
        return TrainData::from_text(load_text_bytes(path), config.context, path);
    }
    if (o.task == TaskKind::vit) {
        std::string path = dir + "/fashion-mnist";
        return TrainData::from_images(load_fashion_mnist(path), path);
    }
    return TrainData::synthetic(o.synthetic);
}

// ---- evaluation ----------------------------------------------------------------------------------

EvalResult evaluate(Model& model, const TrainData& data, const std::string& split, int64_t batch,
                    int64_t max_batches) {
    if (split != "val" && split != "test") fail("evaluate: split '{}' is not val or test", split);
    if (batch < 1 || max_batches < 0) fail("evaluate: batch {} must be >= 1 and batches {} >= 0", batch, max_batches);
    if (model.config().model != model_for_task(data.task))
        fail("evaluate: the {} task needs an {} model, but the model is {}", data.task, model_for_task(data.task),
             model.config().model);
    const bool was_training = model.is_training();
    model.eval();  // no dropout
    NoGradGuard no_grad;
    EvalResult r;
    double loss_sum = 0;
    int64_t correct = 0, bayes_correct = 0;
    auto more = [&] { return max_batches == 0 || r.batches < max_batches; };
    // One batch: the mean loss weighted by its number of targets (the last batch may be short),
    // and the argmax of each row of logits [rows, classes] against its target.
    auto add = [&](const Batch& b) {
        Var logits = model.forward(b);  // lm [B, T, V], vit [B, 10]
        Var loss = model.loss(logits, b);
        const int64_t rows = int64_t(b.targets.size());
        const int64_t classes = logits.shape()[logits.shape().ndim() - 1];
        const real* z = logits.value().data();
        for (int64_t i = 0; i < rows; i++) {
            int64_t best = 0;
            for (int64_t c = 1; c < classes; c++)
                if (z[i * classes + c] > z[i * classes + best]) best = c;
            correct += best == b.targets[i];
        }
        loss_sum += double(loss.item()) * double(rows);
        r.targets += rows;
        r.batches++;
    };
    const int64_t T = model.config().context;
    if (data.task == TaskKind::lm) {
        // The whole split in order: validation is the text's bytes 90-95%, test 95-100% (datasets/text.h).
        const bool test = split == "test";
        TextSequentialBatches batches(test ? data.text.test : data.text.val, batch, T, test ? "test" : "validation");
        Batch b;
        while (more() && batches.next(b)) add(b);
    } else if (data.task == TaskKind::synthetic) {
        Generator gen(split == "val" ? kSyntheticValSeed : kSyntheticTestSeed);
        int64_t n = max_batches == 0 ? kSyntheticAllBatches : max_batches;
        for (int64_t i = 0; i < n; i++) {
            Batch b = cluster_task_batch(data.cluster, batch, T, gen);
            std::vector<int64_t> bayes = cluster_task_bayes_predict(data.cluster, b);
            for (size_t k = 0; k < bayes.size(); k++) bayes_correct += bayes[k] == b.targets[k];
            add(b);
        }
    } else {
        const Tensor& images = split == "val" ? data.images.val_images : data.images.test_images;
        const std::vector<int64_t>& labels = split == "val" ? data.images.val_labels : data.images.test_labels;
        int64_t N = int64_t(labels.size());
        for (int64_t start = 0; start < N && more(); start += batch) {
            add(image_batch(images, labels, start, std::min(batch, N - start)));
        }
    }
    model.train(was_training);
    if (r.targets == 0) fail("evaluate: the {} split of {} is empty", split, data.source);
    r.loss = loss_sum / double(r.targets);
    r.accuracy = double(correct) / double(r.targets);
    if (data.task == TaskKind::synthetic) r.bayes_accuracy = double(bayes_correct) / double(r.targets);
    return r;
}

}  // namespace plat
