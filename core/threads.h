// core/threads.h: one setting for all parallelism. PLAT_THREADS (default: the available cores)
// sets both OpenMP's and OpenBLAS's thread counts, so the two never oversubscribe the cores.
// plat links OpenBLAS's OpenMP build, which shares OpenMP's thread pool and runs on one thread
// when called inside an active parallel region (notes/01-tensors.md, "Threads").
#pragma once

namespace plat {

// Reads PLAT_THREADS; throws plat::Error when it is not a positive integer. Returns the count.
int init_threads_from_env();
void set_num_threads(int n);
int get_num_threads();

}  // namespace plat
