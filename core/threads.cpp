// core/threads.cpp: the PLAT_THREADS setting (core/threads.h).
#include "core/threads.h"

#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <string>

#include "core/error.h"

namespace plat {

void set_num_threads(int n) {
    if (n < 1) fail("thread count must be >= 1, got {}", n);
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

int init_threads_from_env() {
    int n = omp_get_num_procs();
    if (const char* env = std::getenv("PLAT_THREADS"); env && *env) {
        char* end = nullptr;
        long v = std::strtol(env, &end, 10);
        if (*end != '\0' || v < 1 || v > 1024)
            fail("PLAT_THREADS='{}' is not a thread count; set it to a whole number from 1 to the number of cores, or unset it", env);
        n = int(v);
    }
    set_num_threads(n);
    return n;
}

}  // namespace plat
