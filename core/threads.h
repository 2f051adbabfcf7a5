// core/threads.h: one setting for all parallelism. PLAT_THREADS (default: the available cores)
// sets both OpenMP's and OpenBLAS's thread counts, so the two never oversubscribe the cores.
// plat links OpenBLAS's OpenMP build, which shares OpenMP's thread pool and runs on one thread
// when called inside an active parallel region (notes/01-tensors.md, "Threads").
#pragma once
#include <cstdint>

namespace plat {

// OpenMP pays only when a loop has enough work to amortize waking the threads (a few
// microseconds); the elementwise and row loops of core/kernels.cpp and autograd/ops.cpp run on one
// thread below this many elements.
constexpr int64_t kParallelMin = 1 << 14;

// Reads PLAT_THREADS; throws plat::Error when it is not a positive integer. Returns the count.
int init_threads_from_env();
void set_num_threads(int n);
int get_num_threads();

}  // namespace plat
