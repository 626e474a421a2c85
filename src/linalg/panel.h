/* Big-matrix x panel products for panels wider than the skinny kernels' (panel.c says why
 * they exist and how they are blocked). Layouts as in linalg.h: X, M, W row-major m x n;
 * panels column-major (P, U, Us: ld m; V, Z: ld n). Any k >= 1 (in blocks of 64 columns).
 * Call only when spectra_panel_available(). */
#ifndef SPECTRA_LINALG_PANEL_H
#define SPECTRA_LINALG_PANEL_H
#include <stddef.h>

/* 1 when built with AVX-512 (the kernels exist), else 0. */
int spectra_panel_available(void);
/* Floats of `work` for spectra_panel_xv and spectra_panel_xtu. */
size_t spectra_panel_work(size_t m, size_t n, size_t k);
/* P = X V. */
void spectra_panel_xv(size_t m, size_t n, const float *X, size_t k, const float *V, float *P, float *work);
/* M <- mu M + G fused with P = M V (the new M), one pass over G and M; returns ‖M‖² (new M). */
double spectra_panel_momentum_xv(size_t m, size_t n, float *M, const float *G, float mu, size_t k, const float *V,
                                 float *P, float *work);
/* Z = Xᵀ U. */
void spectra_panel_xtu(size_t m, size_t n, const float *X, size_t k, const float *U, float *Z, float *work);
/* Floats of `work` for spectra_panel_update. */
size_t spectra_panel_update_work(size_t m, size_t n, size_t k);
/* W ← decay·W − a·M + Us Vᵀ in one pass over W and M. */
void spectra_panel_update(size_t m, size_t n, float *W, const float *M, float decay, float a, size_t k,
                          const float *Us, const float *V, float *work);
#endif
