/* Launchers of the CUDA kernels (src/cuda/kernels.cu), callable from C. Every launcher
 * enqueues on `stream` and returns the launch status. Element counts are size_t; matrix
 * arguments are column-major with the given leading dimensions unless noted.
 * Arithmetic mirrors the CPU kernels: kernels.cu is compiled with --fmad=false and uses
 * fmaf exactly where the CPU code (torch) does. */
#ifndef SPECTRA_CUDA_KERNELS_H
#define SPECTRA_CUDA_KERNELS_H

#include <cuda_runtime_api.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks of every reduction kernel; each writes one double partial per block. */
#define SC_RED_BLOCKS 1024

/* AdamW, torch arithmetic (src/optim/adamw.c). g is fp32 or bf16 (gbf16). */
cudaError_t sc_adamw(cudaStream_t s, float *w, float *m, float *v, const void *g, int gbf16, size_t n, float decay,
                     float b1, float one_m_b1, float b2, float one_m_b2, float neg_step_size, float bc2_sqrt, float eps);

/* M ← μM + G; X = G + μM (Nesterov) written to xout when xout != NULL; partials[b] (b <
 * SC_RED_BLOCKS) = Σ over block b of X² (X = M without Nesterov), in double. */
cudaError_t sc_momentum_sumsq(cudaStream_t s, float *M, const void *G, int gbf16, float mu, int nesterov, float *xout,
                              size_t n, double *partials);
/* out[0] = Σ partials[0..count) in a fixed order (Kahan), one block. */
cudaError_t sc_sum_partials(cudaStream_t s, const double *partials, size_t count, double *out);
/* X = G + μM. */
cudaError_t sc_make_x(cudaStream_t s, const float *M, const void *G, int gbf16, float mu, float *X, size_t n);
/* W ← decay·W − a·X with X = M or G + μM. */
cudaError_t sc_decay_axpy(cudaStream_t s, float *W, const float *M, const void *G, int gbf16, float mu, int nesterov,
                          float decay, float a, size_t n);
/* Conversions float <-> double, float <-> bf16 (round to nearest even). */
cudaError_t sc_f2d(cudaStream_t s, const float *x, double *y, size_t n);
cudaError_t sc_d2f(cudaStream_t s, const double *x, float *y, size_t n);
cudaError_t sc_f2bf(cudaStream_t s, const float *x, void *y, size_t n);
cudaError_t sc_bf2f(cudaStream_t s, const void *x, float *y, size_t n);
/* Per column i of Z (n x k, ld n): s = ‖Z[:,i]‖ (double); if s > 1e-30, V[:,i] = Z[:,i]·(float)(1/s)
 * and spike[i] = (float)s, else V[:,i] is kept and spike[i] = 0 (the zero-column guard). */
cudaError_t sc_colnorm_normalize(cudaStream_t s, const float *Z, size_t n, size_t k, float *V, float *spike);
/* U[:, i] *= (float)(lr_eff·((double)spike[i] − sigma)), U m x k (ld m). */
cudaError_t sc_scale_cols(cudaStream_t s, float *U, size_t m, size_t k, const float *spike, double lr_eff, double sigma);
/* Muon momentum: b ← b + (1−β)(g − b); u = g + β(b − g) (Nesterov) or b. */
cudaError_t sc_muon_momentum(cudaStream_t s, float *buf, const void *g, int gbf16, float beta, float one_m_beta,
                             int nesterov, float *u, size_t n);
/* partials as sc_momentum_sumsq, of x (fp32 or bf16). */
cudaError_t sc_sumsq(cudaStream_t s, const void *x, int xbf16, size_t n, double *partials);
/* x ← x·scale (fp32 or bf16 in place). */
cudaError_t sc_scale(cudaStream_t s, void *x, int xbf16, float scale, size_t n);
/* dst (cols x rows, row-major) = transpose of src (rows x cols, row-major). */
cudaError_t sc_transpose(cudaStream_t s, const float *src, float *dst, size_t rows, size_t cols);
/* W ← decay·W − a·X (X fp32). */
cudaError_t sc_decay_sub(cudaStream_t s, float *W, const float *X, float decay, float a, size_t n);

#ifdef __cplusplus
}
#endif
#endif
