/* Fused elementwise passes of the optimizer steps. Each pass streams its arrays once, is
 * split into one contiguous chunk per OpenMP thread, and vectorizes its inner loop; sums are
 * accumulated in double per chunk and combined in chunk order (deterministic for a fixed
 * thread count). */
#ifndef SPECTRA_LINALG_KERNELS_H
#define SPECTRA_LINALG_KERNELS_H

#include <stddef.h>

/* M ← μM + G; returns ‖X‖² with X = M (nesterov = 0) or X = G + μM (nesterov = 1). */
double spectra_kernel_momentum_sumsq(float *M, const float *G, float mu, int nesterov, size_t n);

/* W ← decay·W − a·X with X = M or G + μM. */
void spectra_kernel_decay_axpy(float *W, const float *M, const float *G, float mu, int nesterov, float decay, float a,
                               size_t n);

/* Serial versions over one chunk, for callers that already run inside a parallel region.
 * momentum_sumsq_serial also writes X = G + μM into xout when nesterov (xout may be NULL
 * otherwise). */
double spectra_kernel_momentum_sumsq_serial(float *M, const float *G, float mu, int nesterov, float *xout, size_t n);
void spectra_kernel_decay_axpy_serial(float *W, const float *M, const float *G, float mu, int nesterov, float decay, float a,
                                      size_t n);

#endif
