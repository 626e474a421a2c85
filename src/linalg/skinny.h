/* Big-matrix x skinny-panel products for k <= SPECTRA_SKINNY_MAX_K, and the Spectra update
 * fused with its rank-k correction (skinny.c says why they exist). Layouts as in linalg.h: X, M, G, W
 * row-major m x n; panels column-major (P, U, L: ld m; V, Z, R: ld n). Call only when
 * spectra_skinny_available(); the kernels take any k >= 1 (in register blocks), while
 * SPECTRA_SKINNY_MAX_K is where linalg.c's dispatch stops choosing them over sgemm. */
#ifndef SPECTRA_LINALG_SKINNY_H
#define SPECTRA_LINALG_SKINNY_H
#include <stddef.h>

#define SPECTRA_SKINNY_MAX_K 12

/* 1 when built with AVX-512 (the kernels exist), else 0. */
int spectra_skinny_available(void);
/* P = alpha X V + beta P. */
void spectra_skinny_xv(size_t m, size_t n, const float *X, size_t k, const float *V, float alpha, float beta, float *P);
/* Z = alpha Xᵀ U + beta Z. */
void spectra_skinny_xtu(size_t m, size_t n, const float *X, size_t k, const float *U, float alpha, float beta, float *Z);
/* X += alpha L Rᵀ. */
void spectra_skinny_add_lowrank(size_t m, size_t n, float *X, size_t k, float alpha, const float *L, const float *R);
/* W ← decay·W − a·M + Us Vᵀ in one pass over W and M. */
void spectra_skinny_update(size_t m, size_t n, float *W, const float *M, float decay, float a, size_t k,
                           const float *Us, const float *V);
#endif
