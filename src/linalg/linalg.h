/* Dense linear algebra used by the optimizers and the analysis tools.
 *
 * Conventions: a "matrix" X of the public API is row-major rows x cols; BLAS sees it as
 * the column-major cols x rows matrix Xᵀ with leading dimension cols. Thin panels
 * (rows x k with small k) are column-major with leading dimension rows, so each column is
 * contiguous, LAPACK works on them in place, and column norms are unit-stride. */
#ifndef SPECTRA_LINALG_H
#define SPECTRA_LINALG_H

#include "spectra/status.h"
#include <stddef.h>

/* 1 when the three products below run on the skinny kernels (linalg/skinny.h) for these
 * sizes rather than sgemm; spectra_internal_set_skinny(0) forces sgemm (tests, A/B bench). */
int spectra_use_skinny(size_t m, size_t n, size_t c);
void spectra_internal_set_skinny(int on);
/* Panel width sgemm runs a k-column panel product at: k rounded up to a multiple of 16, the
 * extra columns zero. OpenBLAS's kernels run whole 16-column tiles: at 4096 x 14336, k = 61
 * took 40 ms per product and k = 64 took 29 ms (docs/BENCHMARKS.md). */
size_t spectra_sgemm_panel_width(size_t k);
/* 1 when the Spectra step runs its products and update on the panel kernels
 * (linalg/panel.h) for these sizes rather than sgemm (the skinny kernels take precedence);
 * spectra_internal_set_panel(0) forces sgemm (tests, A/B bench). */
int spectra_use_panel(size_t m, size_t n, size_t c);
void spectra_internal_set_panel(int on);

/* out (m x c, col-major, ld m) = alpha * X * B + beta * out, X row-major m x n, B n x c
 * col-major (ld n). */
void spectra_mat_times_panel(size_t m, size_t n, const float *X, size_t c, const float *B, float alpha,
                             float beta, float *out);
/* out (n x c, col-major, ld n) = alpha * Xᵀ * C + beta * out, C m x c col-major (ld m). */
void spectra_matT_times_panel(size_t m, size_t n, const float *X, size_t c, const float *C, float alpha,
                              float beta, float *out);
/* X (row-major m x n) += alpha * L * Rᵀ with L m x c (col-major, ld m), R n x c (col-major, ld n). */
void spectra_mat_add_lowrank(size_t m, size_t n, float *X, size_t c, float alpha, const float *L, const float *R);

/* Sum of squares in double, OpenMP-parallel with a fixed (deterministic) split. */
double spectra_sumsq(const float *x, size_t n);
/* Euclidean norm of a contiguous vector, accumulated in double. */
double spectra_norm2(const float *x, size_t n);
/* 1 if every element is finite and below limit in magnitude (limit > 0, finite; +INFINITY:
 * finite only); otherwise 0 and *first_bad = index of the first one that is not. */
int spectra_all_below(const float *x, size_t n, float limit, size_t *first_bad);

/* Thin QR workspace query: floats needed by spectra_qr_householder for an m x k panel. */
size_t spectra_qr_householder_work(size_t m, size_t k);
/* Replaces the m x k column-major panel A (ld m, k <= m) by an orthonormal basis Q of its
 * column space (Householder: sgeqrf + sorgqr). Works for rank-deficient panels (the
 * columns stay orthonormal). `work` holds spectra_qr_householder_work(m,k) floats.
 * If R is non-NULL the k x k upper triangle (col-major) is stored there. */
spectra_status spectra_qr_householder(size_t m, size_t k, float *A, float *R, float *work);

/* CholeskyQR2 in double: two rounds of G = AᵀA, R = chol(G), A <- A R⁻¹ on a double copy,
 * rounded to fp32 once at the end — more accurate than fp32 Householder (orthogonality
 * ~1e-8) for condition numbers up to ~1e7. Fails with SPECTRA_ERR_NUMERIC, leaving A
 * untouched, when the panel is numerically rank deficient (Cholesky breaks down), and with
 * SPECTRA_ERR_INVALID_ARG unless 0 < k <= m. `work` holds spectra_qr_cholesky2_work(m, k)
 * doubles. On the AVX-512 kernels the result does not depend on the thread count
 * (linalg/cholqr.c); on the OpenBLAS path it depends on OpenBLAS's partitioning, which
 * changes with its thread count (seen at 64 x 64: last-bit differences). */
size_t spectra_qr_cholesky2_work(size_t m, size_t k);
/* 1 if CholeskyQR2 runs on its own AVX-512 kernels, 0 if on OpenBLAS (slower below ~8192 rows). */
int spectra_qr_cholesky2_kernels(void);
spectra_status spectra_qr_cholesky2(size_t m, size_t k, float *A, double *work);

/* SVD workspace query for spectra_svd_thin on an m x n (m >= n) col-major matrix. */
size_t spectra_svd_thin_work(size_t m, size_t n);
/* Thin SVD of the col-major m x n matrix A (ld m, m >= n) by LAPACK sgesdd: A = U S Vᵀ,
 * U m x n col-major (may alias nothing), s n values descending, VT n x n col-major.
 * A is destroyed. `work` has spectra_svd_thin_work floats, `iwork` 8n ints. */
spectra_status spectra_svd_thin(size_t m, size_t n, float *A, float *s, float *U, float *VT, float *work,
                                int *iwork);


/* Muon's Newton–Schulz coefficients (a, b, c of X ← aX + (bA + cA²)X, A = XXᵀ). */
extern const float SPECTRA_NS_A, SPECTRA_NS_B, SPECTRA_NS_C;
/* Core of the iteration on a wide row-major s x L matrix (s <= L) held in X: divides X by
 * max(‖X‖_F, eps), then `steps` quintic steps ping-ponging between X and Xn (both s*L
 * floats). Returns the buffer holding the result (X or Xn). AB holds 2 s² floats. */
float *spectra_newton_schulz_wide(float *X, float *Xn, size_t s, size_t L, int steps, float eps, float *AB);
/* Floats of workspace for spectra_newton_schulz on a rows x cols matrix. */
size_t spectra_newton_schulz_work(size_t rows, size_t cols);
/* out (row-major rows x cols) = NS_steps(G / max(‖G‖_F, eps)), computed on the wide
 * orientation exactly as Muon does. G is not modified; out must not alias G or work. */
spectra_status spectra_newton_schulz(const float *G, size_t rows, size_t cols, int steps, float eps, float *out,
                                     float *work);
#endif
