/* Products of a big row-major matrix with a skinny panel (k <= SPECTRA_SKINNY_MAX_K = 12 columns):
 * P = XV, Z = XᵀU and X += L Rᵀ, plus the Spectra update pass fused with its rank-k
 * correction. Why not sgemm: with k around 12 (1.5% of 768), OpenBLAS packs the panel
 * and runs its large-kernel tiles at 50–60 GFLOP/s on this machine; these loops keep every
 * accumulator in a register, read X exactly once per product, and run 2–3x faster
 * (docs/BENCHMARKS.md). AVX-512 only (the CI and benchmark machines have it); elsewhere
 * spectra_skinny_available() is 0 and callers use sgemm.
 *
 * Determinism: every output element is produced by one thread in a fixed order, so the
 * results do not depend on the thread count. */
#include "linalg/skinny.h"

#include <stdint.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#include <omp.h>

int spectra_skinny_available(void) { return 1; }

#define KC 12 /* panel columns per register block (2 rows/strips x 12 = 24 zmm accumulators) */

/* Column blocks of a k-column panel: ceil(k/KC) blocks of near-equal width (15 -> 8 + 7, not
 * 12 + 3, so no block runs with too few accumulators to cover FMA latency). */
#define FOR_COL_BLOCKS(k, c0, kc)                                                                      \
    for (size_t nb_ = ((k) + KC - 1) / KC, b_ = 0, c0 = 0, kc = 0;                                      \
         b_ < nb_ && (kc = (k) / nb_ + (b_ < (k) % nb_ ? 1 : 0), 1); b_++, c0 += kc)

static inline __mmask16 tail_mask(size_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u); }

/* Dot products of DR rows of X (ld n) with kc columns of V (ld n): out[r][c]. DR rows x kc
 * columns of accumulators (<= 24) share each load: DR + kc loads per DR·kc FMAs. */
#define DR 4
#define DKC 6
static inline __attribute__((always_inline)) void dotblk(const float *const *x, size_t n, const float *V, int kc,
                                                        float out[DR][DKC]) {
    __m512 acc[DR][DKC];
    for (int r = 0; r < DR; r++)
        for (int c = 0; c < kc; c++) acc[r][c] = _mm512_setzero_ps();
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 mk = tail_mask(n - j);
        __m512 xv[DR];
        for (int r = 0; r < DR; r++) xv[r] = _mm512_maskz_loadu_ps(mk, x[r] + j);
        for (int c = 0; c < kc; c++) {
            __m512 v = _mm512_maskz_loadu_ps(mk, V + (size_t)c * n + j);
            for (int r = 0; r < DR; r++) acc[r][c] = _mm512_fmadd_ps(xv[r], v, acc[r][c]);
        }
    }
    for (int r = 0; r < DR; r++)
        for (int c = 0; c < kc; c++) out[r][c] = _mm512_reduce_add_ps(acc[r][c]);
}

static void dotblk_any(const float *const *x, size_t n, const float *V, int kc, float out[DR][DKC]) {
    switch (kc) {
#define CASE(K) \
    case K: dotblk(x, n, V, K, out); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6)
#undef CASE
    default: break;
    }
}

/* Rows [i0, i0 + DR) of P = alpha X V + beta P; rows past m repeat the last row and are not
 * stored. The rows stay in L1 across V's column blocks. */
static void mv_rows(size_t m, size_t n, const float *X, size_t k, const float *V, float alpha, float beta, float *P,
                    size_t i0) {
    const float *x[DR];
    for (int r = 0; r < DR; r++) x[r] = X + (i0 + (size_t)r < m ? i0 + (size_t)r : m - 1) * n;
    float out[DR][DKC];
    for (size_t c0 = 0; c0 < k; c0 += DKC) {
        size_t kc = k - c0 < DKC ? k - c0 : DKC;
        dotblk_any(x, n, V + c0 * n, (int)kc, out);
        for (size_t c = 0; c < kc; c++) {
            float *pc = P + (c0 + c) * m;
            for (size_t r = 0; r < DR && i0 + r < m; r++)
                pc[i0 + r] = beta == 0.0f ? alpha * out[r][c] : alpha * out[r][c] + beta * pc[i0 + r];
        }
    }
}

static int threads_for(size_t work) { return work < 32768 ? 1 : omp_get_max_threads(); }

void spectra_skinny_xv(size_t m, size_t n, const float *X, size_t k, const float *V, float alpha, float beta, float *P) {
    long blocks = (long)((m + DR - 1) / DR);
#pragma omp parallel for schedule(static) num_threads(threads_for(m * n))
    for (long q = 0; q < blocks; q++) mv_rows(m, n, X, k, V, alpha, beta, P, DR * (size_t)q);
}

#define XTU_PREFETCH 8 /* rows ahead */

/* One 32-column strip [j0, j0+32) of Z = alpha XᵀU + beta Z for kc panel columns over m rows
 * (U's columns have leading dimension ldu). */
static inline __attribute__((always_inline)) void xtu_strip(size_t m, size_t n, const float *X, const float *U,
                                                           size_t ldu, int kc, size_t j0, __mmask16 mk0, __mmask16 mk1,
                                                           float alpha, float beta, float *Z) {
    __m512 a0[KC], a1[KC];
    for (int c = 0; c < kc; c++) a0[c] = a1[c] = _mm512_setzero_ps();
    const float *xr = X + j0;
    for (size_t i = 0; i < m; i++, xr += n) {
        /* Every row is on another page, where hardware prefetchers stop: fetch ahead by hand. */
        if (i + XTU_PREFETCH < m) {
            _mm_prefetch((const char *)(xr + XTU_PREFETCH * n), _MM_HINT_T0);
            _mm_prefetch((const char *)(xr + XTU_PREFETCH * n + 16), _MM_HINT_T0);
        }
        __m512 x0 = _mm512_maskz_loadu_ps(mk0, xr), x1 = _mm512_maskz_loadu_ps(mk1, xr + 16);
        for (int c = 0; c < kc; c++) {
            __m512 u = _mm512_set1_ps(U[(size_t)c * ldu + i]);
            a0[c] = _mm512_fmadd_ps(x0, u, a0[c]);
            a1[c] = _mm512_fmadd_ps(x1, u, a1[c]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int c = 0; c < kc; c++) {
        float *zc = Z + (size_t)c * n + j0;
        __m512 r0 = _mm512_mul_ps(va, a0[c]), r1 = _mm512_mul_ps(va, a1[c]);
        if (beta != 0.0f) {
            r0 = _mm512_add_ps(r0, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mk0, zc)));
            r1 = _mm512_add_ps(r1, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mk1, zc + 16)));
        }
        _mm512_mask_storeu_ps(zc, mk0, r0);
        _mm512_mask_storeu_ps(zc + 16, mk1, r1);
    }
}

static void xtu_strip_any(size_t m, size_t n, const float *X, const float *U, size_t ldu, int kc, size_t j0, __mmask16 mk0,
                          __mmask16 mk1, float alpha, float beta, float *Z) {
    switch (kc) {
#define CASE(K) \
    case K: xtu_strip(m, n, X, U, ldu, K, j0, mk0, mk1, alpha, beta, Z); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8) CASE(9) CASE(10) CASE(11) CASE(12)
#undef CASE
    default: break;
    }
}

/* Rows are taken in blocks of XTU_ROW_BLOCK so the pages of one block stay in the TLB while
 * every strip sweeps them (a strip touches one line per row: on a 4096-row matrix the
 * unblocked loop missed the TLB on every row and ran 3x slower than sgemm). Each thread owns
 * the same strips in every block (static schedule, same trip count), so Z needs no locks and
 * the sum order is fixed. */
#define XTU_ROW_BLOCK 256
void spectra_skinny_xtu(size_t m, size_t n, const float *X, size_t k, const float *U, float alpha, float beta,
                        float *Z) {
    long strips = (long)((n + 31) / 32);
#pragma omp parallel num_threads(threads_for(m * n))
    for (size_t r0 = 0; r0 < m; r0 += XTU_ROW_BLOCK) {
        size_t rb = m - r0 < XTU_ROW_BLOCK ? m - r0 : XTU_ROW_BLOCK;
        float b = r0 == 0 ? beta : 1.0f;
#pragma omp for schedule(static) nowait
        for (long s = 0; s < strips; s++) {
            size_t j0 = 32 * (size_t)s, left = n - j0;
            __mmask16 mk0 = tail_mask(left), mk1 = left > 16 ? tail_mask(left - 16) : 0;
            /* Further column blocks re-read this strip of X from L1/L2. */
            FOR_COL_BLOCKS(k, c0, kc) {
                xtu_strip_any(rb, n, X + r0 * n, U + c0 * m + r0, m, (int)kc, j0, mk0, mk1, alpha, b, Z + c0 * n);
            }
        }
    }
}

/* Rows i0, i1: x = decay·W − a·M (if M) or x = W, then x += Σ_c L[i,c] R[:,c]. Two rows
 * share every load of R; 2 rows x 4 vectors keep eight FMA chains in flight (two FMA pipes
 * with 4-cycle latency). */
#define LKC 8 /* panel columns per block: 2 x 8 broadcast + 8 accumulators fit the 32 zmm */
static inline __attribute__((always_inline)) void lowrank_rows(size_t n, float *W0, float *W1, const float *M0,
                                                              const float *M1, __m512 decay, __m512 a,
                                                              const __m512 *l0, const __m512 *l1, int kc,
                                                              const float *R, size_t ldr) {
    for (size_t j = 0; j < n; j += 64) {
        __mmask16 mk[4];
        __m512 x0[4], x1[4];
        for (int v = 0; v < 4; v++) {
            size_t o = j + 16 * (size_t)v;
            mk[v] = o < n ? tail_mask(n - o) : 0;
            x0[v] = _mm512_maskz_loadu_ps(mk[v], W0 + o);
            x1[v] = _mm512_maskz_loadu_ps(mk[v], W1 + o);
            if (M0) {
                x0[v] = _mm512_sub_ps(_mm512_mul_ps(decay, x0[v]), _mm512_mul_ps(a, _mm512_maskz_loadu_ps(mk[v], M0 + o)));
                x1[v] = _mm512_sub_ps(_mm512_mul_ps(decay, x1[v]), _mm512_mul_ps(a, _mm512_maskz_loadu_ps(mk[v], M1 + o)));
            }
        }
        for (int c = 0; c < kc; c++)
            for (int v = 0; v < 4; v++) {
                __m512 r = _mm512_maskz_loadu_ps(mk[v], R + (size_t)c * ldr + j + 16 * (size_t)v);
                x0[v] = _mm512_fmadd_ps(l0[c], r, x0[v]);
                x1[v] = _mm512_fmadd_ps(l1[c], r, x1[v]);
            }
        for (int v = 0; v < 4; v++) {
            size_t o = j + 16 * (size_t)v;
            _mm512_mask_storeu_ps(W0 + o, mk[v], x0[v]);
            if (W1 != W0) _mm512_mask_storeu_ps(W1 + o, mk[v], x1[v]);
        }
    }
}

static void lowrank_rows_any(size_t n, float *W0, float *W1, const float *M0, const float *M1, __m512 decay, __m512 a,
                             const __m512 *l0, const __m512 *l1, int kc, const float *R, size_t ldr) {
    switch (kc) {
#define CASE(K) \
    case K: lowrank_rows(n, W0, W1, M0, M1, decay, a, l0, l1, K, R, ldr); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
#undef CASE
    default: break;
    }
}

/* W ← decay·W − a·M + alpha L Rᵀ (M may be NULL: W ← W + alpha L Rᵀ). Columns are taken in
 * chunks of LR_COL_CHUNK so the chunk of R (LR_COL_CHUNK x k floats) stays in L1 while every
 * row pair of the thread passes over it; unchunked, R streamed from L2 once per row pair and
 * capped the FMA rate. Each thread owns the same row pairs in every chunk (static schedule),
 * so no two threads touch one row. An odd last row is paired with itself, its copy not stored. */
#define LR_COL_CHUNK 512
static void update_lowrank(size_t m, size_t n, float *W, const float *M, float decay, float a, size_t k, float alpha,
                           const float *L, const float *R) {
    __m512 vd = _mm512_set1_ps(decay), va = _mm512_set1_ps(a);
    long pairs = (long)((m + 1) / 2);
#pragma omp parallel num_threads(threads_for(m * n))
    for (size_t j0 = 0; j0 < n; j0 += LR_COL_CHUNK) {
        size_t jn = n - j0 < LR_COL_CHUNK ? n - j0 : LR_COL_CHUNK;
#pragma omp for schedule(static) nowait
        for (long q = 0; q < pairs; q++) {
            size_t i0 = 2 * (size_t)q, i1 = i0 + 1 < m ? i0 + 1 : i0;
            __m512 l0[LKC], l1[LKC];
            for (size_t c0 = 0, kc; c0 < k; c0 += kc) {
                kc = k - c0 < LKC ? k - c0 : LKC;
                for (size_t c = 0; c < kc; c++) {
                    l0[c] = _mm512_set1_ps(alpha * L[(c0 + c) * m + i0]);
                    l1[c] = _mm512_set1_ps(alpha * L[(c0 + c) * m + i1]);
                }
                /* The decay/axpy part belongs to the first column block only. */
                int first = M && c0 == 0;
                lowrank_rows_any(jn, W + i0 * n + j0, W + i1 * n + j0, first ? M + i0 * n + j0 : NULL,
                                 first ? M + i1 * n + j0 : NULL, vd, va, l0, l1, (int)kc, R + c0 * n + j0, n);
            }
        }
    }
}

void spectra_skinny_add_lowrank(size_t m, size_t n, float *X, size_t k, float alpha, const float *L, const float *R) {
    update_lowrank(m, n, X, NULL, 1.0f, 0.0f, k, alpha, L, R);
}

void spectra_skinny_update(size_t m, size_t n, float *W, const float *M, float decay, float a, size_t k,
                           const float *Us, const float *V) {
    update_lowrank(m, n, W, M, decay, a, k, 1.0f, Us, V);
}

#else /* no AVX-512: callers use sgemm */

int spectra_skinny_available(void) { return 0; }
void spectra_skinny_xv(size_t m, size_t n, const float *X, size_t k, const float *V, float alpha, float beta,
                       float *P) {
    (void)m, (void)n, (void)X, (void)k, (void)V, (void)alpha, (void)beta, (void)P;
}
void spectra_skinny_xtu(size_t m, size_t n, const float *X, size_t k, const float *U, float alpha, float beta,
                        float *Z) {
    (void)m, (void)n, (void)X, (void)k, (void)U, (void)alpha, (void)beta, (void)Z;
}
void spectra_skinny_add_lowrank(size_t m, size_t n, float *X, size_t k, float alpha, const float *L, const float *R) {
    (void)m, (void)n, (void)X, (void)k, (void)alpha, (void)L, (void)R;
}
void spectra_skinny_update(size_t m, size_t n, float *W, const float *M, float decay, float a, size_t k,
                           const float *Us, const float *V) {
    (void)m, (void)n, (void)W, (void)M, (void)decay, (void)a, (void)k, (void)Us, (void)V;
}
#endif
