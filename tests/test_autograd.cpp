// tests/test_autograd.cpp: the graph engine in float (notes/02-autograd.md): accumulation in the
// diamond, why backward needs reverse topological order (a naive recursion that fails), the
// no-grad scope, repeated backward and zero_grad, and the errors at the API boundary.
// Expected values are closed forms derived in the comments; with small integers and powers of
// two every intermediate is exact in float, so the comparisons are exact (==).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "autograd/ops.h"
#include "core/error.h"
#include "core/kernels.h"
#include "core/random.h"
#include "core/threads.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;

TEST_CASE("autograd: the diamond accumulates both paths") {
    // a = 2 feeds b = 3a and c = a * a; d = b * c = 3 a^3, so dd/da = 9 a^2 = 36.
    // Along the paths: dd/db * db/da + dd/dc * dc/da = c * 3 + b * 2a = 4 * 3 + 6 * 4 = 12 + 24.
    Var a(Tensor::scalar(2), true);
    Var b = mul_scalar(a, 3), c = mul(a, a);
    Var d = mul(b, c);
    CHECK(d.item() == 24);
    b.retain_grad();  // intermediate gradients are freed after use unless retained
    c.retain_grad();
    d.backward();
    CHECK(a.grad().item() == 36);
    // The retained intermediate gradients: dd/db = c = 4, dd/dc = b = 6.
    CHECK(b.grad().item() == 4);
    CHECK(c.grad().item() == 6);
}

TEST_CASE("autograd: intermediate gradients are freed once used; leaves and retained ones stay") {
    // y = sum((2x)^2 + 3x): a = 2x and b = 3x are intermediate; only a is retained.
    Var x(Tensor::from_data({2}, {1, -2}), true);
    Var a = mul_scalar(x, 2), b = mul_scalar(x, 3);
    Var y = sum_all(add(mul(a, a), b));
    a.retain_grad();
    y.backward();
    CHECK(x.grad()[0] == 11);  // 8x + 3
    CHECK(x.grad()[1] == -13);
    CHECK(a.grad()[0] == 4);  // 2a
    CHECK(b.grad().empty());  // freed as soon as b's backward had passed it on to x
    CHECK(y.grad().empty());  // the root's seed too
}

TEST_CASE("autograd: x * x gets 2x") {
    Var x(Tensor::from_data({3}, {1, -2, 3}), true);
    sum_all(mul(x, x)).backward();
    CHECK(x.grad()[0] == 2);
    CHECK(x.grad()[1] == -4);
    CHECK(x.grad()[2] == 6);
}

namespace {

// The tempting way to write backward: each node, as soon as one consumer has passed it a
// gradient, calls its own backward and recurses into its inputs. It is only right on trees.
void naive_backward(Node* n) {
    if (!n->backward) return;  // a leaf: its grad just accumulates
    n->backward(*n);
    for (auto& input : n->inputs)
        if (input->requires_grad) naive_backward(input.get());
}

}  // namespace

TEST_CASE("autograd: naive recursion double-counts, reverse topological order does not") {
    // x = 1 -> a = 2x -> b = 3a, c = 5a -> d = b + c = 16x, so dd/dx = 16.
    // Naive: d passes 1 to b and c. b runs: a.grad = 3, and a runs at once: x.grad += 2*3 = 6.
    // Then c runs: a.grad = 3 + 5 = 8, and a runs again: x.grad += 2*8 = 16. Total 22: b's path
    // is counted twice, because a passed its gradient on before it was complete.
    // (notes/02-autograd.md, "Why topological order", works these numbers.)
    auto build = [](Var& x) {
        Var a = mul_scalar(x, 2);
        Var b = mul_scalar(a, 3), c = mul_scalar(a, 5);
        return add(b, c);
    };
    {
        Var x(Tensor::scalar(1), true);
        Var d = build(x);
        d.node()->grad_buffer().fill(1);
        naive_backward(d.node().get());
        CHECK(x.grad().item() == 22);  // wrong, as derived above
    }
    {
        Var x(Tensor::scalar(1), true);
        Var d = build(x);
        d.backward();
        CHECK(x.grad().item() == 16);  // right
    }
    {
        // The order itself: every node comes before the nodes it was computed from.
        Var x(Tensor::scalar(1), true);
        Var d = build(x);
        std::vector<Node*> order = reverse_topological_order(d.node().get());
        REQUIRE(order.size() == 5);  // d, b, c, a, x in some valid order
        auto pos = [&](Node* n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
        for (Node* n : order)
            for (auto& input : n->inputs) CHECK(pos(n) < pos(input.get()));
        CHECK(order.front() == d.node().get());
        CHECK(order.back() == x.node().get());
    }
}

TEST_CASE("autograd: NoGradGuard records nothing") {
    Var x(Tensor::from_data({2}, {1, 2}), true);
    {
        NoGradGuard no_grad;
        CHECK_FALSE(grad_enabled());
        Var y = mul(x, x);
        CHECK_FALSE(y.requires_grad());
        CHECK(y.node()->inputs.empty());
        CHECK_FALSE(y.node()->backward);
        CHECK(y.value()[1] == 4);  // the value is still computed
        {
            NoGradGuard nested;
        }
        CHECK_FALSE(grad_enabled());  // the nested guard restored "off", not "on"
        CHECK_THROWS_AS(sum_all(y).backward(), Error);
    }
    CHECK(grad_enabled());
    Var z = mul(x, x);
    CHECK(z.requires_grad());
    CHECK(z.node()->inputs.size() == 2);
    // Constants (no input requires a gradient) are not recorded either.
    Var c(Tensor::scalar(3));
    CHECK_FALSE(mul(c, c).requires_grad());
}

TEST_CASE("autograd: backward twice accumulates leaf gradients exactly twice") {
    // loss = sum((3x)^2) through a shared intermediate a = 3x: dloss/dx = 18x. Two backward
    // passes through the same graph give 36x: leaf grads accumulate, while a's grad is reset
    // at the start of each pass (else the second pass would also pass on the first's and give 54x).
    Var x(Tensor::from_data({2}, {1, -2}), true);
    Var a = mul_scalar(x, 3);
    Var loss = sum_all(mul(a, a));
    a.retain_grad();
    loss.backward();
    CHECK(x.grad()[0] == 18);
    CHECK(x.grad()[1] == -36);
    loss.backward();
    CHECK(x.grad()[0] == 36);
    CHECK(x.grad()[1] == -72);
    CHECK(a.grad()[0] == 6);  // 2a, this pass only
    // zero_grad forgets the gradient; the next pass starts from nothing.
    x.zero_grad();
    CHECK(x.grad().empty());
    loss.backward();
    CHECK(x.grad()[0] == 18);
    CHECK(x.grad()[1] == -36);
}

TEST_CASE("autograd: an input that does not require a gradient gets none") {
    Var w(Tensor::from_data({2}, {1, 2}), true);
    Var x(Tensor::from_data({2}, {3, 4}), false);
    sum_all(mul(w, x)).backward();
    CHECK(w.grad()[0] == 3);
    CHECK(w.grad()[1] == 4);
    CHECK(x.grad().empty());
}

TEST_CASE("autograd: broadcast gradients are summed back to the input's shape") {
    // out[i, j] = a[i, j] * b[j] with a [2, 3], b [3]: dout/db[j] = sum_i a[i, j].
    Var a(Tensor::from_data({2, 3}, {1, 2, 3, 4, 5, 6}), true);
    Var b(Tensor::from_data({3}, {1, 10, 100}), true);
    sum_all(mul(a, b)).backward();
    REQUIRE(b.grad().shape() == Shape{3});
    CHECK(b.grad()[0] == 5);
    CHECK(b.grad()[1] == 7);
    CHECK(b.grad()[2] == 9);
    CHECK(a.grad()[4] == 10);  // dout/da[i, j] = b[j]
}

TEST_CASE("autograd: errors name the operation and the shapes") {
    Var a(Tensor::zeros({3, 4}), true), b(Tensor::zeros({5}), true), m(Tensor::zeros({5, 6}), true);
    std::string e = error_of([&] { add(a, b); });
    CHECK(contains(e, "add"));
    CHECK(contains(e, "[3, 4]"));
    CHECK(contains(e, "[5]"));
    e = error_of([&] { matmul(a, m); });
    CHECK(contains(e, "matmul"));
    CHECK(contains(e, "[3, 4]"));
    CHECK(contains(e, "[5, 6]"));
    // backward() without a seed needs a one-element value.
    e = error_of([&] { mul(a, a).backward(); });
    CHECK(contains(e, "backward"));
    CHECK(contains(e, "[3, 4]"));
    // ... with a seed of the right shape it works.
    mul_scalar(a, 2).backward(Tensor::ones({3, 4}));
    CHECK(a.grad()[0] == 2);
}

TEST_CASE("autograd: embedding and cross_entropy reject out-of-range ids") {
    Var weight(Tensor::zeros({5, 2}), true);
    std::string e = error_of([&] { embedding(weight, {0, 5}, {2}); });
    CHECK(contains(e, "embedding"));
    CHECK(contains(e, "5"));
    CHECK(contains(error_of([&] { embedding(weight, {-1}, {1}); }), "embedding"));
    CHECK(contains(error_of([&] { embedding(weight, {0, 1, 2}, {2}); }), "embedding"));  // count vs shape
    CHECK(embedding(weight, {4, 0}, {2}).shape() == Shape{2, 2});

    Var logits(Tensor::zeros({2, 3, 4}), true);  // 6 rows of 4 classes
    e = error_of([&] { cross_entropy(logits, {0, 1, 2, 3, 4, 0}); });
    CHECK(contains(e, "cross_entropy"));
    CHECK(contains(e, "4"));
    CHECK(contains(error_of([&] { cross_entropy(logits, {0, 1, -1, 0, 0, 0}); }), "cross_entropy"));
    e = error_of([&] { cross_entropy(logits, {0, 1}); });  // 2 targets for 6 rows
    CHECK(contains(e, "6 rows"));
    // All logits equal: the loss is log 4 and the gradient (1/4 - onehot) / 6.
    Var loss = cross_entropy(logits, {0, 1, 2, 3, 0, 1});
    CHECK(loss.item() == doctest::Approx(std::log(4.0)).epsilon(1e-6));
    loss.backward();
    CHECK(logits.grad()[0] == doctest::Approx((0.25 - 1) / 6).epsilon(1e-6));
    CHECK(logits.grad()[1] == doctest::Approx(0.25 / 6).epsilon(1e-6));
}

TEST_CASE("autograd: linear checks the shapes of input, weight and bias") {
    Var x(Tensor({2, 3})), w(Tensor({4, 3})), b(Tensor({4})), w_bad(Tensor({4, 5})), b_bad(Tensor({3}));
    CHECK(linear(x, w, b).shape() == Shape{2, 4});
    CHECK(contains(error_of([&] { linear(x, w_bad, b); }), "expected [..., 5]"));
    CHECK(contains(error_of([&] { linear(x, w, b_bad); }), "expected [out, in] and [out]"));
    CHECK(contains(error_of([&] { linear(x, b, b); }), "expected [out, in] and [out]"));
}

TEST_CASE("autograd: layer_norm checks weight and bias shapes") {
    Var x(Tensor::zeros({2, 8}), true), w(Tensor::ones({8})), b(Tensor::zeros({7}));
    std::string e = error_of([&] { layer_norm(x, w, b); });
    CHECK(contains(e, "layer_norm"));
    CHECK(contains(e, "[7]"));
}

namespace {
// Runs `run(threads)` on 1 and on 2 threads and checks that every tensor it returns is bitwise the same.
void check_same_on_1_and_2_threads(const std::function<std::vector<Tensor>(int)>& run) {
    int before = get_num_threads();
    std::vector<Tensor> one = run(1), two = run(2);
    set_num_threads(before);
    REQUIRE(one.size() == two.size());
    for (size_t k = 0; k < one.size(); k++) {
        CAPTURE(k);
        bool same = true;
        for (int64_t i = 0; i < one[k].numel(); i++) same = same && one[k][i] == two[k][i];
        CHECK(same);
    }
}
}  // namespace

TEST_CASE("autograd: gradients do not depend on the thread count") {
    // Large enough (64 x 256) for the parallel loops of autograd/ops.cpp; each thread owns the
    // memory it writes, so 1 and 2 threads must give bitwise the same gradients.
    auto run = [](int threads) {
        set_num_threads(threads);
        Generator gen(5);
        Var x(Tensor::randn({64, 256}, gen), true), w(Tensor::randn({256}, gen), true), b(Tensor::randn({256}, gen), true);
        Var table(Tensor::randn({16, 256}, gen), true);
        std::vector<int64_t> ids(64), targets(64);
        for (int64_t i = 0; i < 64; i++) ids[i] = gen.randint(16), targets[i] = gen.randint(256);
        Var h = add(layer_norm(x, w, b), embedding(table, ids, {64}));
        Var loss = cross_entropy(gelu(h), targets);
        loss.backward();
        return std::vector<Tensor>{x.grad(), w.grad(), b.grad(), table.grad()};
    };
    check_same_on_1_and_2_threads(run);
}

TEST_CASE("autograd: layer_norm's row blocks give the same gradients on 1 and 2 threads") {
    // 150 rows x 256 are three of layer_norm's backward blocks (64, 64, 22), which two threads split
    // between them; dweight and dbias are added block after block, so the split must not matter.
    auto run = [](int threads) {
        set_num_threads(threads);
        Generator gen(15);
        Var x(Tensor::randn({150, 256}, gen), true), w(Tensor::randn({256}, gen), true), b(Tensor::randn({256}, gen), true);
        layer_norm(x, w, b).backward(Tensor::randn({150, 256}, gen));
        return std::vector<Tensor>{x.grad(), w.grad(), b.grad()};
    };
    check_same_on_1_and_2_threads(run);
}

TEST_CASE("autograd: an undefined Var is an error, not a crash") {
    Var undefined;
    Var x(Tensor::ones(Shape{2}), true);
    CHECK_THROWS_WITH_AS(add(undefined, x), doctest::Contains("undefined"), Error);
    CHECK_THROWS_WITH_AS(undefined.shape(), doctest::Contains("undefined"), Error);
}
