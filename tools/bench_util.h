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
/* "4096x14336,1024x3072" into shapes[i] = {rows, cols}: up to max shapes, each side in [2, 65536]
 * and at most 2^32 elements, digits only (no sign, space or overflow). 0, or -1 if malformed. */
int bench_parse_shapes(const char *s, size_t shapes[][2], int max, int *n);
bench_stats bench_summarize(double *samples, int n); /* sorts samples in place */

/* The machine's reference rates, measured once at the start of a run and again just before
 * each of bench optim's paired steps: on a shared virtual machine the same FMA loop runs at 87 to 168
 * GFLOP/s per core from one second to the next (a neighbour on the sibling hyperthread), so
 * a floor measured minutes before a step says little about the step's own minute.
 * bench_probe_create returns NULL when out of memory. */
typedef struct bench_probe bench_probe;
bench_probe *bench_probe_create(size_t triad_n, int gemm_n);
void bench_probe_destroy(bench_probe *p);
/* One STREAM triad a = b + s·c over triad_n floats with the current OpenMP threads: GB/s,
 * counting 12 bytes per element (STREAM's rule). */
double bench_probe_triad(bench_probe *p);
/* One cblas_sgemm of order gemm_n, row-major: GFLOP/s. */
double bench_probe_sgemm(bench_probe *p);

/* The best triad bandwidth of `reps` runs (STREAM's convention). */
double bench_stream_triad(bench_probe *p, int reps);
/* The best sgemm rate of `reps` runs (the peak, as for the triad). */
double bench_sgemm_rate(bench_probe *p, int reps);
/* Median GFLOP/s of the two products of one Spectra power-iteration step on a rows x cols
 * matrix with a rank-k panel: P = M·V and Z = Mᵀ·U, at the panel width the optimizer uses
 * (k, or k padded to 16 for sgemm); the GFLOP count is that of the k useful columns. */
double bench_panel_gemm_rate(size_t rows, size_t cols, size_t k, int reps);
/* OpenBLAS's own rate at the step's shapes, the independent reference for "sgemm throughput
 * at the step's shapes" (issue 5): the three products of a Spectra T=1 step as plain
 * cblas_sgemm calls at exactly k columns, P = M·V, Z = Mᵀ·P and M += a·P·Zᵀ (the rank-k
 * correction), 6·rows·cols·k FLOPs; GFLOP/s of the best of `reps` rounds, the peak
 * convention of the other references. 0 when out of memory. */
double bench_step_sgemm_rate(size_t rows, size_t cols, size_t k, int reps);

/* The OpenBLAS kernel family in use, e.g. "Zen" or "Haswell", and its build config. */
const char *bench_openblas_core(void);
const char *bench_openblas_config(void);
const char *bench_cpu_model(void);

#endif
