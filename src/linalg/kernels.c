#include "linalg/kernels.h"

#include <omp.h>

#define MAX_CHUNKS 256

static void chunk_range(size_t n, int t, int nt, size_t *lo, size_t *hi) {
    /* 16-float (64-byte) aligned chunk boundaries keep threads off each other's cache lines. */
    size_t per = ((n + (size_t)nt - 1) / (size_t)nt + 15) & ~(size_t)15;
    *lo = per * (size_t)t < n ? per * (size_t)t : n;
    *hi = *lo + per < n ? *lo + per : n;
}

static double sum_chunk_momentum(float *restrict M, const float *restrict G, float mu, int nesterov, size_t lo, size_t hi) {
    double acc = 0.0;
    if (nesterov) {
#pragma omp simd reduction(+ : acc)
        for (size_t i = lo; i < hi; i++) {
            float mi = mu * M[i] + G[i];
            M[i] = mi;
            float xi = G[i] + mu * mi;
            acc += (double)xi * xi;
        }
    } else {
#pragma omp simd reduction(+ : acc)
        for (size_t i = lo; i < hi; i++) {
            float mi = mu * M[i] + G[i];
            M[i] = mi;
            acc += (double)mi * mi;
        }
    }
    return acc;
}

double spectra_kernel_momentum_sumsq(float *M, const float *G, float mu, int nesterov, size_t n) {
    double partial[MAX_CHUNKS];
    int nt = omp_get_max_threads();
    if (nt > MAX_CHUNKS) nt = MAX_CHUNKS;
    if (n < 65536) nt = 1;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        size_t lo, hi;
        chunk_range(n, t, T, &lo, &hi);
        partial[t] = sum_chunk_momentum(M, G, mu, nesterov, lo, hi);
        if (t == 0)
            for (int u = T; u < nt; u++) partial[u] = 0.0; /* fewer threads than asked */
    }
    double total = 0.0;
    for (int t = 0; t < nt; t++) total += partial[t];
    return total;
}

static void chunk_decay_axpy(float *restrict W, const float *restrict M, const float *restrict G, float mu, int nesterov,
                             float decay, float a, size_t lo, size_t hi) {
    if (nesterov) {
#pragma omp simd
        for (size_t i = lo; i < hi; i++) W[i] = decay * W[i] - a * (G[i] + mu * M[i]);
    } else {
#pragma omp simd
        for (size_t i = lo; i < hi; i++) W[i] = decay * W[i] - a * M[i];
    }
}

void spectra_kernel_decay_axpy(float *W, const float *M, const float *G, float mu, int nesterov, float decay, float a,
                               size_t n) {
    int nt = n < 65536 ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
    {
        size_t lo, hi;
        chunk_range(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        chunk_decay_axpy(W, M, G, mu, nesterov, decay, a, lo, hi);
    }
}

double spectra_kernel_momentum_sumsq_serial(float *M, const float *G, float mu, int nesterov, float *xout, size_t n) {
    if (!nesterov || !xout) return sum_chunk_momentum(M, G, mu, nesterov, 0, n);
    float *restrict X = xout;
    float *restrict Mr = M;
    const float *restrict Gr = G;
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (size_t i = 0; i < n; i++) {
        float mi = mu * Mr[i] + Gr[i];
        Mr[i] = mi;
        float xi = Gr[i] + mu * mi;
        X[i] = xi;
        acc += (double)xi * xi;
    }
    return acc;
}

void spectra_kernel_decay_axpy_serial(float *W, const float *M, const float *G, float mu, int nesterov, float decay, float a,
                                      size_t n) {
    chunk_decay_axpy(W, M, G, mu, nesterov, decay, a, 0, n);
}
