/* Test-matrix helpers in double precision (independent of the library's float code):
 * Gaussian fills, orthonormal factors by LAPACK dgeqrf/dorgqr, planted-spectrum matrices. */
#ifndef SPECTRA_TEST_MATS_H
#define SPECTRA_TEST_MATS_H

#include "core/rng.h"
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

/* Column-major m x c orthonormal matrix (c <= m) from the QR of a Gaussian matrix. */
static inline void tm_orthonormal(spectra_rng *rng, size_t m, size_t c, double *Q) {
    for (size_t i = 0; i < m * c; i++) Q[i] = spectra_rng_normal(rng);
    double *tau = malloc(c * sizeof *tau);
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)m, (int)c, Q, (int)m, tau);
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)m, (int)c, (int)c, Q, (int)m, tau);
    free(tau);
}

/* Row-major m x n matrix X = U diag(sigma) Vᵀ with random orthonormal U (m x r), V (n x r). */
static inline void tm_planted(spectra_rng *rng, size_t m, size_t n, const double *sigma, double *X) {
    size_t r = m < n ? m : n;
    double *U = malloc(m * r * sizeof *U), *V = malloc(n * r * sizeof *V);
    tm_orthonormal(rng, m, r, U);
    tm_orthonormal(rng, n, r, V);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t t = 0; t < r; t++) s += U[i + t * m] * sigma[t] * V[j + t * n];
            X[i * n + j] = s;
        }
    free(U);
    free(V);
}

static inline void tm_to_float(const double *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
}

static inline void tm_gauss_float(spectra_rng *rng, float *x, size_t n, double sd) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * spectra_rng_normal(rng));
}

#endif
