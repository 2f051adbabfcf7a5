# plat: one entry point.
#   make             build/libplat.a and the command line build/plat          (~1 min)
#   make test        install missing packages, build and run every test suite
#   make demo        install missing packages, build, run the end-to-end demo
#   make debug       the same programs with -O0 -g, AddressSanitizer, UBSan   (into build-debug/)
#   make test-debug  the test suites under the sanitizers
#   make data        install the data packages when missing, prepare data/ (KJV text, Fashion-MNIST)
#   make fuzz        libFuzzer targets (clang) for the safetensors, idx and config readers and the
#                    command line, FUZZ_SECONDS each (default 120: 8 min, plus the first build's 4)
#   make experiments everything behind notes/06 and 06b, tables and plots regenerated in the notes:
#                    the study (108 runs: 3 tasks x 12 attention variants x 3 seeds; resumable;
#                    STUDY_STEPS=20 for a ~5 min smoke run), the ViT quality runs (vit_quality.sh) and
#                    plat beside PyTorch at nanoGPT scale (compare_torch.sh)        (~70 min idle)
#   make bench       plat bench beside PyTorch (python3-torch, installed when missing): lm-s, lm-m,
#                    vit-s x softmax/plap x 1/2 threads, one table with the ratios      (~8 min)
#   make bench-scaling  the context sweep beside PyTorch (T 128 ... 2048 at B T = 4096), table,
#                    data file and plot into notes/07       (26 min idle, measured)
#   make figures     every figure of notes/00-05 (gnuplot, Graphviz, plat graph, three small models)
#   make exercise N  prepare workbook exercise N (notes/exercises) in tests/exercises/work/;
#   make grade [N]   grade it, or list every exercise's state; make exercises-check: CI's proof
#   make deps        install the Debian packages plat needs, when missing
#   make clean
# The library is compiled twice: in float (build/f32, the real thing) and with the scalar type
# switched to double (build/f64) for the gradient checks (notes/02-autograd.md).

CXX      ?= g++
BUILD    ?= build
OPT      ?= -O3 -march=native
SAN      ?=
# OpenBLAS's OpenMP build, named by path: it shares OpenMP's thread pool with plat's own loops
# (PLAT_THREADS sets both), whichever BLAS the system's alternatives point at.
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB := /usr/lib/x86_64-linux-gnu/openblas-openmp
# -fno-trapping-math: plat never turns on floating-point traps, so GCC may evaluate both sides of a
# select; without it the branch-free loops over core/fast_math.h's fast_log do not vectorize. It
# changes no result (IEEE arithmetic is kept; -ffast-math is not used).
CXXFLAGS := -std=c++17 $(OPT) $(SAN) -fopenmp -fno-trapping-math -Wall -Wextra -Wno-unused-parameter -I. -I$(BLAS_INC) -MMD -MP
LDFLAGS  := $(SAN) -fopenmp -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB)
LDLIBS   := -lopenblas -lfmt -lm

LIB_SRC  := $(sort $(wildcard core/*.cpp autograd/*.cpp nn/*.cpp datasets/*.cpp))
# experiments/training (the training library) and experiments/bench (the benchmark) sit above the
# library; experiments/cli is the `plat` program. All of it but main.cpp is linked into the float
# tests too, so commands can be tested in-process.
APP_SRC  := $(sort $(wildcard experiments/training/*.cpp experiments/bench/*.cpp)) \
            $(filter-out experiments/cli/main.cpp,$(sort $(wildcard experiments/cli/*.cpp)))
CLI_OBJ  := $(APP_SRC:%.cpp=$(BUILD)/f32/%.o)
# tests/test_*.cpp run in float; tests/gradcheck_*.cpp run against the double build.
TEST_F32 := $(sort $(wildcard tests/test_*.cpp))
TEST_F64 := $(sort $(wildcard tests/gradcheck_*.cpp))

F32_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/f32/%.o)
F64_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/f64/%.o)

DEPS_PKGS := g++ make libopenblas-openmp-dev doctest-dev libfmt-dev libcli11-dev nlohmann-json3-dev gdb graphviz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# $(call need,PKG...): install the Debian packages that are missing (the one way every target does it).
need = missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
       [ -z "$$missing" ] || { echo "installing$$missing"; $(SUDO) apt-get update -qq && \
       DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; }

# Build with every core unless the user chose -j themselves.
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc)
endif

.PHONY: all test demo experiments experiments-phases $(PHASES:%=experiments-%) experiments-smoke experiments-report bench bench-scaling figures debug test-debug deps data fuzz clean
all: $(BUILD)/plat $(BUILD)/libplat.a

$(BUILD)/f32/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@
$(BUILD)/f64/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -DPLAT_REAL=double -c $< -o $@

$(BUILD)/libplat.a: $(F32_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libplat64.a: $(F64_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/plat: $(BUILD)/f32/experiments/cli/main.o $(CLI_OBJ) $(BUILD)/libplat.a
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/tests_f32: $(BUILD)/f32/tests/main.o $(TEST_F32:%.cpp=$(BUILD)/f32/%.o) $(CLI_OBJ) $(BUILD)/libplat.a
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/tests_f64: $(BUILD)/f64/tests/main.o $(TEST_F64:%.cpp=$(BUILD)/f64/%.o) $(BUILD)/libplat64.a
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

deps:
	@$(call need,$(DEPS_PKGS))

data:
	@bash datasets/prepare_data.sh data

test: deps
	@$(MAKE) --no-print-directory $(BUILD)/tests_f32 $(BUILD)/tests_f64 $(BUILD)/plat
	@sh tests/run.sh $(BUILD)

# The main job (experiments/scripts/demo.sh): a softmax baseline and a p-LaT byte-level model trained on
# the KJV with the same budget, a side-by-side table, a loss plot and a sample from each.
# Steps in order (not as prerequisites, which -j would run at once: two apt-gets would collide).
demo: deps
	@bash datasets/prepare_data.sh data
	@$(call need,gnuplot-nox)
	@$(MAKE) --no-print-directory $(BUILD)/plat
	bash experiments/scripts/demo.sh $(BUILD)/plat

# The study (experiments/scripts/study/run.sh, notes/06-experiments.md): every run, evaluation, probe, table
# and plot. Interrupted (Ctrl-C), it continues where it stopped the next time. Same order as demo.
experiments: deps
	@bash datasets/prepare_data.sh data
	@$(call need,gnuplot-nox)
	@$(MAKE) --no-print-directory $(BUILD)/plat
	bash experiments/scripts/study/run.sh $(BUILD)/plat
	bash experiments/scripts/vit_quality.sh $(BUILD)/plat
	@$(call need,python3-torch)
	bash experiments/scripts/compare_torch.sh $(BUILD)/plat

# What p-LaT changes (notes/06c-what-p-lat-changes.md): the resumable phases decisive, continuity,
# learnp, cluster and depth, two single-threaded runs at a time, each finished run's row committed to
# experiments/results/<phase>/; `make experiments-decisive` (or -continuity, -learnp, -cluster,
# -depth) runs one phase; `make experiments-report` rewrites notes/06c's tables and notes/06's (the
# study's, experiments/results/study) from the committed results with no training; `make experiments-smoke` runs every phase for 4 steps (nothing committed).
PHASES = decisive continuity learnp cluster depth
experiments-phases $(PHASES:%=experiments-%) experiments-smoke: deps
	@bash datasets/prepare_data.sh data
	@$(call need,gnuplot-nox)
	@$(MAKE) --no-print-directory $(BUILD)/plat
	$(if $(filter experiments-smoke,$@),PHASES_STEPS=4 PHASES_SEEDS="0 1") bash experiments/scripts/phases/run.sh $(BUILD)/plat $(filter $(PHASES),$(@:experiments-%=%))
experiments-report:
	bash experiments/scripts/phases/report.sh
	bash experiments/scripts/study/report.sh $(BUILD)/plat
	bash experiments/scripts/vit_quality.sh --report

# The benchmark beside PyTorch (notes/07-performance.md). Debian's python3-torch runs under Debian's
# own /usr/bin/python3; `build/plat bench` alone needs nothing more.
bench: deps
	@$(call need,python3-torch)
	@$(MAKE) --no-print-directory $(BUILD)/plat
	sh experiments/bench/compare.sh $(BUILD)

# The context sweep beside PyTorch (experiments/bench/scaling.sh; notes/07, "Scaling with the context"):
# lm-T128 ... lm-T2048 (B T = 4096), softmax and p-LaT, 2 threads, each case under every threading
# preset (wait policies; PyTorch also Debian's OpenMP OpenBLAS by LD_LIBRARY_PATH), the fastest kept.
# Writes experiments/results/bench-scaling/HOST-DATE-HHMM.csv, notes/07's table and
# notes/figures/bench-scaling.png; QUICK=1 checks the pipeline into runs/bench-scaling only.
# 26 minutes on 2 nearly idle cores (measured 2026-12-06; not part of make bench, which
# stays ~8 min).
bench-scaling: deps
	@$(call need,python3-torch gnuplot-nox libopenblas0-openmp)
	@$(MAKE) --no-print-directory $(BUILD)/plat
	sh experiments/bench/scaling.sh $(BUILD)

# Every figure of notes chapters 00-05 (experiments/scripts/figures/make_figures.sh): gnuplot and
# Graphviz drawings, plat graph's pictures, and the attention maps of three small trained models.
figures: deps
	@bash datasets/prepare_data.sh data
	@$(call need,gnuplot-nox graphviz)
	@$(MAKE) --no-print-directory $(BUILD)/plat
	sh experiments/scripts/figures/make_figures.sh $(BUILD)/plat

debug:
	@$(MAKE) --no-print-directory BUILD=build-debug OPT="-O0 -g" SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" all

test-debug: deps
	@$(MAKE) --no-print-directory BUILD=build-debug OPT="-O0 -g" SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" test

FUZZ_SECONDS ?= 120
fuzz:
	@$(call need,clang)
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-debug build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- exercises (tests/exercises) ----
# The workbook of notes/exercises/: `make exercise N` copies one source file into
# tests/exercises/work/NN-name/ with the part to write stubbed; `make grade N` builds that copy and
# runs the checks that judge it; `make grade` lists every exercise's state; `make exercises-check`
# (CI) proves each stub builds and fails and the real code passes. N may also be given as N=3.
# Only the exercise's file is compiled; the rest comes from $(BUILD) (built on demand).
EX_PY  := $(or $(shell command -v /usr/bin/python3 || command -v python3),/usr/bin/python3)
EX_RUN  = CXX="$(CXX)" EX_CXXFLAGS="$(CXXFLAGS)" EX_LDFLAGS="$(LDFLAGS)" EX_LDLIBS="$(LDLIBS)" \
          EX_SHARED="$(BUILD)" $(EX_PY) tests/exercises/exercises.py
# `make exercise 3` makes "3" a goal too: the words after exercise/grade are its arguments, and
# a rule that does nothing keeps make from looking for a file named 3.
ifneq ($(filter exercise grade,$(firstword $(MAKECMDGOALS))),)
EX_ARGS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
.PHONY: $(EX_ARGS)
$(EX_ARGS): ; @:
endif
EX_N = $(or $(N),$(firstword $(EX_ARGS)))
.PHONY: exercise grade exercises-check exercises-deps
exercises-deps: deps
	@test -x "$(EX_PY)" || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3; }
exercise: exercises-deps
	@$(EX_RUN) prepare $(EX_N)
grade: exercises-deps
	@$(EX_RUN) grade $(EX_N)
exercises-check: exercises-deps
	@$(EX_RUN) check
# ---- end exercises ----
