// tests/test_bench.cpp: the configuration table of `plat bench` (experiments/bench/bench.h): the
// context sweep keeps B T fixed (notes/07-performance.md, "Scaling with the context"), the groups
// name the cases they promise, and a name that is no configuration is refused listing the valid ones.
#include <doctest/doctest.h>

#include "core/error.h"
#include "experiments/bench/bench.h"

using namespace plat;

TEST_CASE("bench: every sweep configuration is C 128, L 4, H 4 with B T = 4096 tokens, T from 128 to 2048") {
    const std::vector<std::string> sweep = bench_config_names("sweep");
    REQUIRE(sweep == std::vector<std::string>{"lm-T128", "lm-T256", "lm-T512", "lm-T1024", "lm-T2048"});
    int64_t T = 128;
    for (const std::string& name : sweep) {
        for (const char* attn : {"softmax", "plap"}) {
            const BenchCase c = make_case(name, attn);
            INFO(name << " " << attn);
            CHECK(c.config.model == ModelKind::lm);
            CHECK(c.config.context == T);
            CHECK(c.batch * c.config.context == kSweepTokens);
            CHECK((c.config.dim == 128 && c.config.layers == 4 && c.config.heads == 4));
        }
        CHECK(bench_config_names(name) == std::vector<std::string>{name});
        T *= 2;
    }
}

TEST_CASE("bench: the group all is still lm-s, lm-m, vit-s; an unknown name lists the valid ones") {
    CHECK(bench_config_names("all") == std::vector<std::string>{"lm-s", "lm-m", "vit-s"});
    CHECK(make_case("lm-s", "softmax").batch == 32);
    for (const std::string& name : bench_config_choices())
        if (name != "all" && name != "sweep") CHECK(bench_config_names(name).size() == 1);
    CHECK_THROWS_WITH_AS(bench_config_names("lm-T100"), doctest::Contains("lm-T128, lm-T256"), Error);
    CHECK_THROWS_WITH_AS(make_case("xl", "plap"), doctest::Contains("expected one of lm-s, lm-m, vit-s"), Error);
}
