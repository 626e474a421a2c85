/* CholeskyQR2 of a tall m x k fp32 panel, in double: two rounds of G = XᵀX, R = chol(G),
 * X <- X R⁻¹, rounded to fp32 once at the end.
 *
 * Why hand-written kernels: with OpenBLAS the two BLAS calls of a round took 0.46 ms (dsyrk)
 * plus 0.38 ms (dtrsm) at 4096 x 61, about six times their FMA time, so CholeskyQR2 lost to
 * LAPACK Householder below 8192 rows (docs/BENCHMARKS.md). Here each round is two passes over
 * the panel at close to the FMA rate:
 *   - the Gram matrix by 6 x 4 tiles of column dot products (8 rows per vector, 10 loads
 *     feed 24 FMAs), only the tiles that touch the upper triangle;
 *   - X R⁻¹ as a product with the explicit inverse of the k x k triangle (LAPACK dtrtri,
 *     O(k³)), by 48-row x 4-column tiles; a row block's k outputs are staged in a small
 *     buffer so the product can run in place.
 * Round 1 reads the fp32 panel directly (converted on load), so no double copy is made.
 *
 * Determinism: every output element is computed by one thread in a fixed order (the Gram's
 * tiles and the product's row blocks are divided among threads whole), so the result does
 * not depend on the thread count. */
#include "core/error.h"
#include "linalg/linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Leading dimension of the double copy: whole 64-byte lines per column. */
static size_t ld_double(size_t m) { return (m + 7) & ~(size_t)7; }

#define GA 6 /* Gram tile: columns a0..a0+5 against b0..b0+3 */
#define GB 4

/* Tiles of the Gram matrix that touch its upper triangle (the others are mirrors). */
static size_t gram_tiles(size_t k) {
    /* Tile (ia, ib) touches it iff (ib + 1) GB > ia GA, i.e. ib >= floor(ia GA / GB): counted
     * per column of tiles, so that sizing the workspace of an absurd rank (add_param of a
     * 2^30 x 2^30 matrix) fails fast with NOMEM instead of looping k^2 times first. */
    size_t na = (k + GA - 1) / GA, nb = (k + GB - 1) / GB, u = 0;
    for (size_t ia = 0; ia < na; ia++) {
        size_t first = ia * GA / GB;
        u += first < nb ? nb - first : 0;
    }
    return u;
}

/* k x k, rounded to whole 64-byte lines. */
static size_t kk_lines(size_t k) { return (k * k + 7) & ~(size_t)7; }

size_t spectra_qr_cholesky2_work(size_t m, size_t k) {
    return ld_double(m) * k + 2 * kk_lines(k) + gram_tiles(k) * GA * GB * 8 + 8;
}

/* G = chol(G) in place (upper), then Ri = R⁻¹ with its strict lower triangle zeroed. */
static spectra_status factor_round(size_t k, double *G, double *Ri, int round) {
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)k, G, (lapack_int)k);
    if (info < 0) /* LAPACKE's NaN check of its input */
        return spectra_set_error(SPECTRA_ERR_NUMERIC, "CholeskyQR2: non-finite Gram matrix in round %d", round);
    if (info != 0)
        return spectra_set_error(SPECTRA_ERR_NUMERIC,
                                 "CholeskyQR2: Gram matrix not positive definite at column %d in round %d (rank-deficient panel)",
                                 (int)info, round);
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < k; i++) Ri[i + j * k] = i <= j ? G[i + j * k] : 0.0;
    info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)k, Ri, (lapack_int)k);
    if (info != 0)
        return spectra_set_error(SPECTRA_ERR_NUMERIC, "CholeskyQR2: singular triangle in round %d", round);
    return SPECTRA_OK;
}

#if defined(__AVX512F__)
#include <immintrin.h>
#include <omp.h>

int spectra_qr_cholesky2_kernels(void) { return 1; }

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static inline __mmask8 row_mask(size_t left) { return left >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << left) - 1u); }

/* 8 rows of a column as doubles, zero past the mask; `f32` selects the fp32 source. */
static inline __m512d load8(int f32, const void *x, size_t off, __mmask8 mk) {
    if (f32) return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mk, (const float *)x + off));
    return _mm512_maskz_loadu_pd(mk, (const double *)x + off);
}


/* Rows [i0, i1) of the tile G[a][b], a in [a0, a0+6), b in [b0, b0+4), accumulated
 * lane-wise into the 24 vectors at acc (zeroed first if `first`). Columns past k are clamped
 * to k - 1 (computed, never stored). */
static inline __attribute__((always_inline)) void gram_tile(int f32, size_t k, const void *X, size_t ldx, size_t a0,
                                                            size_t b0, size_t i0, size_t i1, double *acc, int first) {
    size_t ca[GA], cb[GB];
    for (int r = 0; r < GA; r++) ca[r] = min_sz(a0 + (size_t)r, k - 1) * ldx;
    for (int v = 0; v < GB; v++) cb[v] = min_sz(b0 + (size_t)v, k - 1) * ldx;
    __m512d c00 = _mm512_setzero_pd(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m512d c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    __m512d c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
#define GACC(X_)                                                                                      \
    X_(0, 0) X_(0, 1) X_(0, 2) X_(0, 3) X_(1, 0) X_(1, 1) X_(1, 2) X_(1, 3) X_(2, 0) X_(2, 1) X_(2, 2) \
    X_(2, 3) X_(3, 0) X_(3, 1) X_(3, 2) X_(3, 3) X_(4, 0) X_(4, 1) X_(4, 2) X_(4, 3) X_(5, 0) X_(5, 1) \
    X_(5, 2) X_(5, 3)
#define GLOAD(r, v) c##r##v = _mm512_load_pd(acc + 8 * (4 * (r) + (v)));
#define GSTORE(r, v) _mm512_store_pd(acc + 8 * (4 * (r) + (v)), c##r##v);
    if (!first) { GACC(GLOAD) }
    for (size_t i = i0; i < i1; i += 8) {
        __mmask8 mk = row_mask(i1 - i);
        __m512d b0v = load8(f32, X, cb[0] + i, mk), b1v = load8(f32, X, cb[1] + i, mk);
        __m512d b2v = load8(f32, X, cb[2] + i, mk), b3v = load8(f32, X, cb[3] + i, mk);
        __m512d a;
#define GROW(r)                                                                                       \
    a = load8(f32, X, ca[r] + i, mk);                                                                 \
    c##r##0 = _mm512_fmadd_pd(a, b0v, c##r##0);                                                       \
    c##r##1 = _mm512_fmadd_pd(a, b1v, c##r##1);                                                       \
    c##r##2 = _mm512_fmadd_pd(a, b2v, c##r##2);                                                       \
    c##r##3 = _mm512_fmadd_pd(a, b3v, c##r##3);
        GROW(0) GROW(1) GROW(2) GROW(3) GROW(4) GROW(5)
#undef GROW
    }
    GACC(GSTORE)
#undef GLOAD
#undef GSTORE
#undef GACC
}

/* G = XᵀX (k x k, col-major, full symmetric). The rows go by panels that stay in L2 while
 * every tile reads them (a tile reads 10 columns; over all tiles each column is read about
 * k/3 times), each tile's 24 lane-wise sums parked in `stash` between panels. */
static void gram(int f32, size_t m, size_t k, const void *X, size_t ldx, double *G, double *stash, int nt) {
    const size_t na = (k + GA - 1) / GA, nb = (k + GB - 1) / GB;
    size_t rp = ((size_t)256 * 1024 / (k * (f32 ? 4 : 8))) & ~(size_t)7;
    if (rp < 64) rp = 64;
#pragma omp parallel num_threads(nt)
    {
        const size_t t = (size_t)omp_get_thread_num(), T = (size_t)omp_get_num_threads();
        for (size_t i0 = 0; i0 < m; i0 += rp) {
            size_t i1 = min_sz(m, i0 + rp), u = 0;
            for (size_t ia = 0; ia < na; ia++)
                for (size_t ib = 0; ib < nb; ib++) {
                    if (ib * GB + GB <= ia * GA) continue;
                    if (u % T == t) {
                        if (f32) gram_tile(1, k, X, ldx, ia * GA, ib * GB, i0, i1, stash + u * GA * GB * 8, i0 == 0);
                        else gram_tile(0, k, X, ldx, ia * GA, ib * GB, i0, i1, stash + u * GA * GB * 8, i0 == 0);
                    }
                    u++;
                }
        }
        size_t u = 0;
        for (size_t ia = 0; ia < na; ia++)
            for (size_t ib = 0; ib < nb; ib++) {
                if (ib * GB + GB <= ia * GA) continue;
                if (u % T == t)
                    for (size_t r = 0; r < GA && ia * GA + r < k; r++)
                        for (size_t v = 0; v < GB && ib * GB + v < k; v++) {
                            double s = _mm512_reduce_add_pd(_mm512_load_pd(stash + (u * GA * GB + 4 * r + v) * 8));
                            G[(ia * GA + r) + (ib * GB + v) * k] = s;
                            G[(ib * GB + v) + (ia * GA + r) * k] = s;
                        }
                u++;
            }
    }
}

#define MB 6  /* product tile: 6 vectors = 48 rows */
#define MJ 4  /* x 4 output columns */
#define MROWS (8 * MB)

/* Rows [i0, i0 + 48) of Y = X Ri (Y may be X). Ri is upper triangular, so output column j
 * needs X's columns up to j only: the 4-column blocks run from the last to the first, and a
 * block's stores overwrite columns no later (lower) block reads. Returns a vector whose sum
 * is NaN if any result is Inf or NaN (0·y for every y). */
static inline __attribute__((always_inline)) __m512d mul_block(int f32, size_t m, size_t k, const void *X, size_t ldx,
                                                               const double *Ri, size_t i0, double *Y, size_t ldy) {
    __mmask8 mk[MB];
    for (int v = 0; v < MB; v++) mk[v] = i0 + 8 * (size_t)v < m ? row_mask(m - i0 - 8 * (size_t)v) : 0;
    const __m512d zero = _mm512_setzero_pd();
    __m512d bad = zero;
    for (size_t jb = (k + MJ - 1) / MJ; jb-- > 0;) {
        const size_t j0 = jb * MJ;
        size_t cj[MJ];
        for (int c = 0; c < MJ; c++) cj[c] = min_sz(j0 + (size_t)c, k - 1) * k;
        __m512d c00 = zero, c01 = zero, c02 = zero, c03 = zero, c04 = zero, c05 = zero;
        __m512d c10 = zero, c11 = zero, c12 = zero, c13 = zero, c14 = zero, c15 = zero;
        __m512d c20 = zero, c21 = zero, c22 = zero, c23 = zero, c24 = zero, c25 = zero;
        __m512d c30 = zero, c31 = zero, c32 = zero, c33 = zero, c34 = zero, c35 = zero;
        size_t iend = min_sz(k, j0 + MJ);
        for (size_t i = 0; i < iend; i++) {
            const size_t xo = i * ldx + i0;
            __m512d x0 = load8(f32, X, xo, mk[0]), x1 = load8(f32, X, xo + 8, mk[1]), x2 = load8(f32, X, xo + 16, mk[2]);
            __m512d x3 = load8(f32, X, xo + 24, mk[3]), x4 = load8(f32, X, xo + 32, mk[4]), x5 = load8(f32, X, xo + 40, mk[5]);
            __m512d r;
#define MCOL(q)                                                                                       \
    r = _mm512_set1_pd(Ri[i + cj[q]]);                                                                \
    c##q##0 = _mm512_fmadd_pd(x0, r, c##q##0);                                                       \
    c##q##1 = _mm512_fmadd_pd(x1, r, c##q##1);                                                       \
    c##q##2 = _mm512_fmadd_pd(x2, r, c##q##2);                                                       \
    c##q##3 = _mm512_fmadd_pd(x3, r, c##q##3);                                                       \
    c##q##4 = _mm512_fmadd_pd(x4, r, c##q##4);                                                       \
    c##q##5 = _mm512_fmadd_pd(x5, r, c##q##5);
            MCOL(0) MCOL(1) MCOL(2) MCOL(3)
#undef MCOL
        }
#define MSTORE(q)                                                                                     \
    if (j0 + (q) < k) {                                                                               \
        double *d_ = Y + (j0 + (q)) * ldy + i0;                                                       \
        _mm512_mask_storeu_pd(d_, mk[0], c##q##0);                                                    \
        _mm512_mask_storeu_pd(d_ + 8, mk[1], c##q##1);                                                \
        _mm512_mask_storeu_pd(d_ + 16, mk[2], c##q##2);                                               \
        _mm512_mask_storeu_pd(d_ + 24, mk[3], c##q##3);                                               \
        _mm512_mask_storeu_pd(d_ + 32, mk[4], c##q##4);                                               \
        _mm512_mask_storeu_pd(d_ + 40, mk[5], c##q##5);                                               \
        bad = _mm512_add_pd(bad, _mm512_mul_pd(zero, _mm512_add_pd(_mm512_add_pd(c##q##0, c##q##1),  \
              _mm512_add_pd(_mm512_add_pd(c##q##2, c##q##3), _mm512_add_pd(c##q##4, c##q##5)))));      \
    }
        MSTORE(0) MSTORE(1) MSTORE(2) MSTORE(3)
#undef MSTORE
    }
    return bad;
}

/* Y = X Ri over all rows, 48-row blocks divided among the threads. Returns 0 if any result
 * is not finite. */
static int mul_upper(int f32, size_t m, size_t k, const void *X, size_t ldx, const double *Ri, double *Y, size_t ldy,
                     int nt) {
    size_t nblk = (m + MROWS - 1) / MROWS;
    int finite = 1;
#pragma omp parallel num_threads(nt) reduction(&& : finite)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        size_t lo = nblk * (size_t)t / (size_t)T, hi = nblk * (size_t)(t + 1) / (size_t)T;
        __m512d bad = _mm512_setzero_pd();
        for (size_t b = lo; b < hi; b++) {
            if (f32) bad = _mm512_add_pd(bad, mul_block(1, m, k, X, ldx, Ri, b * MROWS, Y, ldy));
            else bad = _mm512_add_pd(bad, mul_block(0, m, k, X, ldx, Ri, b * MROWS, Y, ldy));
        }
        finite = _mm512_reduce_add_pd(bad) == 0.0;
    }
    return finite;
}

spectra_status spectra_qr_cholesky2(size_t m, size_t k, float *A, double *work) {
    if (k == 0 || k > m) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "CholeskyQR2: need 0 < k <= m (m %zu, k %zu)", m, k);
    double *base = (double *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    const size_t ld = ld_double(m);
    double *D = base, *G = D + ld * k, *Ri = G + kk_lines(k), *stash = Ri + kk_lines(k); /* each 64-byte aligned */
    int nt = m * k * k < ((size_t)1 << 20) ? 1 : omp_get_max_threads();
    gram(1, m, k, A, m, G, stash, nt);
    spectra_status st = factor_round(k, G, Ri, 1);
    if (st != SPECTRA_OK) return st; /* A untouched */
    if (!mul_upper(1, m, k, A, m, Ri, D, ld, nt))
        return spectra_set_error(SPECTRA_ERR_NUMERIC, "CholeskyQR2: non-finite result in round 1");
    gram(0, m, k, D, ld, G, stash, nt);
    st = factor_round(k, G, Ri, 2);
    if (st != SPECTRA_OK) return st;
    if (!mul_upper(0, m, k, D, ld, Ri, D, ld, nt))
        return spectra_set_error(SPECTRA_ERR_NUMERIC, "CholeskyQR2: non-finite result in round 2");
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < m; i++) A[i + j * m] = (float)D[i + j * ld];
    return SPECTRA_OK;
}

#else /* portable: the same two rounds on OpenBLAS */

int spectra_qr_cholesky2_kernels(void) { return 0; }

spectra_status spectra_qr_cholesky2(size_t m, size_t k, float *A, double *work) {
    if (k == 0 || k > m) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "CholeskyQR2: need 0 < k <= m (m %zu, k %zu)", m, k);
    const size_t ld = ld_double(m);
    double *D = work, *G = D + ld * k, *Ri = G + kk_lines(k);
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < m; i++) D[i + j * ld] = A[i + j * m];
    for (int round = 1; round <= 2; round++) {
        cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int)k, (int)m, 1.0, D, (int)ld, 0.0, G, (int)k);
        spectra_status st = factor_round(k, G, Ri, round);
        if (st != SPECTRA_OK) return st; /* A untouched */
        cblas_dtrmm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, (int)m, (int)k, 1.0, Ri, (int)k,
                    D, (int)ld);
    }
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < m; i++)
            if (!isfinite(D[i + j * ld])) return spectra_set_error(SPECTRA_ERR_NUMERIC, "CholeskyQR2: non-finite result");
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < m; i++) A[i + j * m] = (float)D[i + j * ld];
    return SPECTRA_OK;
}
#endif
