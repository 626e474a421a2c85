/* Measurement helpers for `spectra bench`: wall-clock timer, order statistics, and the
 * machine's own reference rates (STREAM triad bandwidth, sgemm throughput at given shapes),
 * so every figure can be reported as a ratio against this machine measured in the same run. */
#ifndef SPECTRA_TOOLS_BENCH_UTIL_H
#define SPECTRA_TOOLS_BENCH_UTIL_H

#include <stddef.h>

typedef struct bench_stats {
    double median, min, max;
    int n;
} bench_stats;

double bench_now(void);
bench_stats bench_summarize(double *samples, int n); /* sorts samples in place */

/* STREAM triad a = b + s·c over arrays of n floats with the current OpenMP threads; returns
 * the best bandwidth in GB/s over `reps` runs (STREAM's convention), counting 12 bytes per
 * element (STREAM's rule). */
double bench_stream_triad(size_t n, int reps);

/* Median GFLOP/s of cblas_sgemm computing (m x kk) · (kk x n), row-major. */
double bench_sgemm_rate(int m, int n, int kk, int reps);
/* Median GFLOP/s of the two products of one Spectra power-iteration step on a rows x cols
 * matrix with a rank-k panel: P = M·V and Z = Mᵀ·U, at the panel width the optimizer uses
 * (k, or k padded to 16 for sgemm); the GFLOP count is that of the k useful columns. */
double bench_panel_gemm_rate(size_t rows, size_t cols, size_t k, int reps);

/* The OpenBLAS kernel family in use, e.g. "Zen" or "Haswell", and its build config. */
const char *bench_openblas_core(void);
const char *bench_openblas_config(void);
const char *bench_cpu_model(void);

#endif
