#include "linalg/linalg.h"
#include "core/error.h"
#include "linalg/panel.h"
#include "linalg/skinny.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* BLAS takes int dimensions; every caller validates sizes against INT_MAX at registration. */

/* The skinny kernels win while X is cache-sized and the panel fits one register block (k <=
 * 12); past that, sgemm at k padded to 16 wins (measured A/B with `spectra bench optim
 * --no-skinny`: Spectra step 768x2048 k=12 1.49 vs 1.87 ms; 1024x3072 k=15 4.33 vs 3.97 ms;
 * 4096x4096 k=16 XᵀU 1.5x slower than sgemm; docs/BENCHMARKS.md). */
#define SKINNY_MAX_ELEMS ((size_t)4 << 20)
static int g_skinny = 1;
void spectra_internal_set_skinny(int on) { g_skinny = on ? 1 : 0; }

int spectra_use_skinny(size_t m, size_t n, size_t c) {
    return g_skinny && spectra_skinny_available() && c >= 1 && c <= SPECTRA_SKINNY_MAX_K && m * n <= SKINNY_MAX_ELEMS;
}

size_t spectra_sgemm_panel_width(size_t k) { return (k + 15) & ~(size_t)15; }

static int g_panel = 1;
void spectra_internal_set_panel(int on) { g_panel = on ? 1 : 0; }

int spectra_use_panel(size_t m, size_t n, size_t c) {
    (void)m, (void)n;
    return g_panel && spectra_panel_available() && c >= 1;
}

void spectra_mat_times_panel(size_t m, size_t n, const float *X, size_t c, const float *B, float alpha,
                             float beta, float *out) {
    if (spectra_use_skinny(m, n, c)) {
        spectra_skinny_xv(m, n, X, c, B, alpha, beta, out);
        return;
    }
    /* Xᵀ is col-major n x m, so X * B = (Xᵀ)ᵀ * B. */
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)m, (int)c, (int)n, alpha, X, (int)n, B, (int)n,
                beta, out, (int)m);
}

void spectra_matT_times_panel(size_t m, size_t n, const float *X, size_t c, const float *C, float alpha,
                              float beta, float *out) {
    if (spectra_use_skinny(m, n, c)) {
        spectra_skinny_xtu(m, n, X, c, C, alpha, beta, out);
        return;
    }
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)c, (int)m, alpha, X, (int)n, C, (int)m,
                beta, out, (int)n);
}

void spectra_mat_add_lowrank(size_t m, size_t n, float *X, size_t c, float alpha, const float *L, const float *R) {
    if (spectra_use_skinny(m, n, c)) {
        spectra_skinny_add_lowrank(m, n, X, c, alpha, L, R);
        return;
    }
    /* Xᵀ (col-major n x m) += alpha * R * Lᵀ. */
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, (int)c, alpha, R, (int)n, L, (int)m, 1.0f,
                X, (int)n);
}

double spectra_sumsq(const float *x, size_t n) {
    double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > 65536)
    for (size_t i = 0; i < n; i++) total += (double)x[i] * x[i];
    return total;
}

double spectra_norm2(const float *x, size_t n) {
    /* Vectorized partial sums (a fixed order for a given build): one scalar chain ran at the
     * add latency, 1 ms for the 61 columns of a 14336-row panel. */
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

int spectra_all_below(const float *x, size_t n, float limit, size_t *first_bad) {
    /* Branch-free scan in blocks; only a block containing a bad value is rescanned. For
     * non-negative floats the order of the bit patterns is the order of the values, and NaN
     * and Inf lie above every finite one: one integer compare of |x|'s bits, which
     * vectorizes, unlike a float reduction. */
    uint32_t lim;
    memcpy(&lim, &limit, sizeof lim);
    lim &= 0x7fffffffu;
    const size_t block = 4096;
    int ok = 1;
    size_t bad_block = (size_t)-1;
#pragma omp parallel for schedule(static) reduction(& : ok) if (n > 65536)
    for (size_t b = 0; b < (n + block - 1) / block; b++) {
        size_t lo = b * block, hi = lo + block < n ? lo + block : n;
        const uint32_t *u = (const uint32_t *)(const void *)(x + lo);
        uint32_t bad = 0;
        for (size_t i = 0; i < hi - lo; i++) bad |= (uint32_t)((u[i] & 0x7fffffffu) >= lim);
        if (bad) {
            ok = 0;
#pragma omp critical(spectra_finite)
            if (b < bad_block) bad_block = b;
        }
    }
    if (ok) return 1;
    for (size_t i = bad_block * block; i < n; i++) {
        if (!(fabsf(x[i]) < limit)) {
            if (first_bad) *first_bad = i;
            return 0;
        }
    }
    return 0; /* unreachable: the block held a bad value */
}

size_t spectra_qr_householder_work(size_t m, size_t k) {
    float q1 = 0, q2 = 0;
    float dummy = 0;
    LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)k, &dummy, (lapack_int)m, &dummy, &q1, -1);
    LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)k, (lapack_int)k, &dummy, (lapack_int)m,
                        &dummy, &q2, -1);
    size_t lw = (size_t)(q1 > q2 ? q1 : q2);
    if (lw < k) lw = k;
    return lw + k; /* + tau */
}

spectra_status spectra_qr_householder(size_t m, size_t k, float *A, float *R, float *work) {
    float *tau = work;
    float *w = work + k;
    lapack_int lw = (lapack_int)(spectra_qr_householder_work(m, k) - k);
    lapack_int info = LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)k, A, (lapack_int)m, tau, w, lw);
    if (info != 0) return spectra_set_error(SPECTRA_ERR_NUMERIC, "sgeqrf failed (info %d)", (int)info);
    if (R) {
        for (size_t j = 0; j < k; j++)
            for (size_t i = 0; i < k; i++) R[i + j * k] = i <= j ? A[i + j * m] : 0.0f;
    }
    info = LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)k, (lapack_int)k, A, (lapack_int)m, tau, w,
                               lw);
    if (info != 0) return spectra_set_error(SPECTRA_ERR_NUMERIC, "sorgqr failed (info %d)", (int)info);
    return SPECTRA_OK;
}

size_t spectra_svd_thin_work(size_t m, size_t n) {
    float q = 0, dummy = 0;
    lapack_int idummy = 0;
    LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int)m, (lapack_int)n, &dummy, (lapack_int)m, &dummy, &dummy,
                        (lapack_int)m, &dummy, (lapack_int)n, &q, -1, &idummy);
    return (size_t)q + 1;
}

spectra_status spectra_svd_thin(size_t m, size_t n, float *A, float *s, float *U, float *VT, float *work,
                                int *iwork) {
    lapack_int lw = (lapack_int)spectra_svd_thin_work(m, n);
    lapack_int info = LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int)m, (lapack_int)n, A, (lapack_int)m, s, U,
                                          (lapack_int)m, VT, (lapack_int)n, work, lw, (lapack_int *)iwork);
    if (info != 0) return spectra_set_error(SPECTRA_ERR_NUMERIC, "sgesdd failed (info %d)", (int)info);
    return SPECTRA_OK;
}
