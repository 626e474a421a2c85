#include "core/threads.h"

#include <omp.h>

int spectra_max_threads(void) {
    int t = omp_get_max_threads();
    if (t < 1) t = 1;
    if (t > SPECTRA_MAX_THREADS) t = SPECTRA_MAX_THREADS;
    return t;
}
