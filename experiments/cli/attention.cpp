// experiments/cli/attention.cpp: `plat attention`, the attention maps of a model on one input,
// as PNG heat maps: one image per layer and head, row i = query token i, column j = key token j,
// darker = more weight. For lm the input is a string of bytes; for vit one test image.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/core.h>

#include "core/error.h"
#include "datasets/fashion_mnist.h"
#include "datasets/files.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/options.h"
#include "core/files.h"
#include "experiments/training/png.h"
#include "nn/checkpoint.h"

namespace plat {

namespace {

struct AttentionOptions {
    ModelOptions model;
    std::string checkpoint;
    std::string text = "In the beginning God created the heaven and the earth.";
    std::string data;  // vit: default data_dir()/fashion-mnist
    int index = 0;     // vit: which test image
    std::string out = "attention";
    int size = 512;    // approximate side of each picture in pixels
    bool weights = false;  // also the weights themselves, as text beside each picture
};

void run_attention(AttentionOptions& o) {
    std::unique_ptr<Model> model = model_from_options_or_checkpoint(o.model, o.checkpoint);
    const ModelConfig& config = model->config();
    Batch batch;
    std::string what;
    if (config.model == ModelKind::lm) {
        if (o.text.empty()) throw CLI::ValidationError("--text", "the input text is empty; give at least one byte");
        std::string text = o.text;
        if (int64_t(text.size()) > config.context) {
            fmt::print("note: the text has {} bytes; using its first {} (the model's context)\n", text.size(),
                       config.context);
            text.resize(size_t(config.context));
        }
        std::vector<int64_t> ids(text.begin(), text.end());
        for (int64_t& id : ids) id &= 0xff;  // bytes, not chars (char may be signed)
        batch = Batch::lm(1, int64_t(ids.size()), ids);
        what = fmt::format("text \"{}\"", text);
    } else {
        FashionMNIST data = load_fashion_mnist(o.data.empty() ? data_dir() + "/fashion-mnist" : o.data);
        if (o.index < 0 || o.index >= data.test_images.size(0))
            throw CLI::ValidationError("--index", fmt::format("test image {} does not exist; give 0 to {}", o.index,
                                                              data.test_images.size(0) - 1));
        batch = image_batch(data.test_images, data.test_labels, o.index, 1);
        what = fmt::format("test image {} ({}); token 0 is the class token, then the patches row by row", o.index,
                           fashion_mnist_class_name(batch.targets[0]));
    }

    model->eval();
    NoGradGuard no_grad;
    Trace trace;
    model->forward(batch, &trace);

    if (::mkdir(o.out.c_str(), 0777) != 0 && errno != EEXIST)
        fail("attention: cannot create the output directory '{}': {}", o.out, std::strerror(errno));
    int64_t written = 0;
    for (size_t l = 0; l < trace.attention.size(); l++) {
        const Tensor& A = trace.attention[l];  // [1, H, T, T]
        int64_t H = A.size(1), T = A.size(2);
        int64_t cell = std::max<int64_t>(1, o.size / T);
        for (int64_t h = 0; h < H; h++) {
            // Each row divided by its own largest weight: a causal row i spreads over i + 1 keys,
            // so on one common scale the later rows would fade to white.
            Tensor map(Shape{T, T});
            for (int64_t i = 0; i < T; i++) {
                const real* row = A.data() + (h * T + i) * T;
                real row_max = *std::max_element(row, row + T);
                for (int64_t j = 0; j < T; j++) map[i * T + j] = row_max > 0 ? row[j] / row_max : 0;
            }
            std::string path = fmt::format("{}/layer{}_head{}.png", o.out, l, h);
            write_png(path, T * cell, T * cell, heatmap_rgb(map, 1, cell));
            if (o.weights) {  // A itself, unscaled: row i = query i, T numbers per row (gnuplot's "matrix" layout)
                std::string text;
                for (int64_t i = 0; i < T; i++) {
                    const real* row = A.data() + (h * T + i) * T;
                    for (int64_t j = 0; j < T; j++) text += fmt::format(j ? " {:.6g}" : "{:.6g}", double(row[j]));
                    text += '\n';
                }
                write_file_atomic(fmt::format("{}/layer{}_head{}.txt", o.out, l, h), text, "attention");
            }
            written++;
        }
    }
    fmt::print("wrote {} attention maps ({} layers x {} heads) to {}/layerL_headH.png for {}\n", written,
               config.layers, config.heads, o.out, what);
    fmt::print("row i = query token i, column j = key token j; each row is scaled to its own largest weight\n");
    if (o.weights) fmt::print("the weights themselves, unscaled: {}/layerL_headH.txt (T rows of T numbers)\n", o.out);
}

}  // namespace

void register_attention(CLI::App& app) {
    auto o = std::make_shared<AttentionOptions>();
    CLI::App* cmd = app.add_subcommand("attention", "Draw a model's attention maps on one input as PNG images");
    add_model_options(cmd, o->model);
    cmd->add_option("--checkpoint", o->checkpoint, "take the model (and its configuration) from this checkpoint");
    cmd->add_option("--text", o->text, "lm: the input text (cropped to the model's context)")->capture_default_str();
    cmd->add_option("--data", o->data, "vit: the Fashion-MNIST directory (default: DATA/fashion-mnist)");
    cmd->add_option("--index", o->index, "vit: which test image")->capture_default_str()->check(CLI::Range(0, 1 << 30));
    cmd->add_option("--out", o->out, "directory for the PNG files")->capture_default_str();
    cmd->add_flag("--weights", o->weights,
                  "also write each map's weights, unscaled, as text: layerL_headH.txt, T rows of T numbers");
    cmd->add_option("--size", o->size, "approximate side of each picture, in pixels")
        ->capture_default_str()
        ->check(CLI::Range(16, 4096));
    cmd->callback([o] { run_attention(*o); });
}

}  // namespace plat
