// experiments/training/evaluate.h: the data of each task in memory, and the measurement of a model
// on its held-out part: mean loss in nats, bits per byte, accuracy (notes/06a-data.md).
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "datasets/fashion_mnist.h"
#include "datasets/synthetic.h"
#include "datasets/text.h"
#include "experiments/training/options.h"
#include "nn/models.h"

namespace plat {

// The data of one task, in memory. load_train_data reads the files; the tests build it directly.
struct TrainData {
    TaskKind task = TaskKind::lm;
    std::string source;        // where it came from, for messages and config.json
    TextSplit text;            // lm: the 90/5/5 split of the bytes (train, validation, test)
    FashionMNIST images;       // vit: train / validation / test, normalized
    ClusterTaskConfig cluster;  // synthetic: the task (batches are drawn, nothing is stored)

    // Text bytes split 90/5/5 (datasets/text.h); each split must hold one window of context + 1
    // bytes, else a plat::Error says how long the text is and what to change.
    static TrainData from_text(const std::vector<uint8_t>& bytes, int64_t context, const std::string& source);
    static TrainData from_images(FashionMNIST images, const std::string& source);
    static TrainData synthetic(const ClusterTaskConfig& cluster);
};

// The task's files under options.data (or data_dir()): lm reads kjv.txt, vit fashion-mnist/.
// A missing file is a plat::Error naming it and `make data` (datasets/files.h).
TrainData load_train_data(const TrainOptions& options, const ModelConfig& config);

// Validation (or test) results. Fields a task does not measure stay NaN.
struct EvalResult {
    double loss = std::numeric_limits<double>::quiet_NaN();      // mean cross-entropy per target, nats
    double accuracy = std::numeric_limits<double>::quiet_NaN();  // argmax == target, over all targets
    double bayes_accuracy = std::numeric_limits<double>::quiet_NaN();  // synthetic: the Bayes predictor on the same batches
    int64_t targets = 0;  // predictions averaged over (tokens or images)
    int64_t batches = 0;
    double bits() const { return loss / 0.6931471805599453; }  // loss / ln 2: bits per byte (lm)
};

// Mean loss and accuracy of `model` over the first `max_batches` batches of `batch` rows of a
// split, in order (0 = the whole split). lm: "val" is the text's bytes 90-95%, "test" the last
// 5%, windows of `context` bytes in order (TextSequentialBatches). vit: "val" is the
// validation images, "test" the official test set. synthetic: fixed batches drawn from fixed
// seeds, one for "val" and one for "test", so every model sees the same ones (and
// max_batches = 0 means 50). Runs in eval mode without recording a graph; restores the mode.
EvalResult evaluate(Model& model, const TrainData& data, const std::string& split, int64_t batch,
                    int64_t max_batches);

}  // namespace plat
