/* Products of a big row-major matrix with a panel of up to 64 columns per block, for the
 * Spectra step at LLM shapes (k = 1.5% of the short side: 15 at 1024, 61 at 4096):
 * P = XV, Z = XᵀU, and the update W ← decay·W − a·M + Us Vᵀ fused with its rank-k product.
 *
 * Why not sgemm: at 4096 x 14336 with a 64-column panel, OpenBLAS reaches about 230
 * GFLOP/s (60% of its square-sgemm rate) because it repacks the big operand X for every call
 * and its tiles favour square problems (docs/BENCHMARKS.md). Here X is never packed: a
 * 6 x 64 register tile (24 zmm accumulators) takes each element of X as a broadcast exactly
 * once, and only the small panel is repacked into row-major order, into a caller workspace.
 * Per broadcast row step: 4 vector loads of the panel + 6 broadcasts feed 24 FMAs.
 *
 * Blocking: rows of X in blocks of PANEL_RB (TLB- and prefetch-friendly: a block's rows are
 * the only pages in flight), the reduction dimension in chunks whose panel slice stays in L1/L2.
 *
 * Determinism: each output element is owned by one thread and accumulated in a fixed order,
 * so results do not depend on the thread count. */
#include "linalg/panel.h"

#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#include <omp.h>

int spectra_panel_available(void) { return 1; }

#define PW 64       /* panel columns per block = 4 zmm */
#define MR 6        /* register-tile rows */
#ifndef XV_KC
#define XV_KC 256   /* reduction chunk of P = XV: a 256 x 64 panel slice is 64 KiB (L2) */
#endif
#ifndef XT_IB
#define XT_IB 128   /* rows of X per block of Z = XᵀU: a 128 x 64 slice of U is 32 KiB */
#endif
#ifndef XT_JW
#define XT_JW 96    /* columns of X per strip of Z = XᵀU */
#endif
#ifndef UP_RB
#define UP_RB 96    /* rows per block of the update */
#endif
#ifndef UP_JC
#define UP_JC 256   /* columns per chunk of the update: a k x 256 slice of V (64 KiB at k = 64) */
#endif
#ifndef XV_RB
#define XV_RB 96    /* rows of X per block */
#endif

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static int threads_for(size_t work) { return work < 65536 ? 1 : omp_get_max_threads(); }

/* Column blocks of a k-column panel: block b has width min(64, k - 64b), run with NV =
 * ceil(width/16) vectors. */
static inline size_t nblocks(size_t k) { return (k + PW - 1) / PW; }

/* Packs columns [c0, c0 + w) of the col-major panel A (ld lda) rows [lo, hi) row-major into
 * dst (rows of PW floats, zero past w). */
static void pack_rows(size_t lda, const float *A, size_t c0, size_t w, float *dst, size_t lo, size_t hi) {
    for (size_t p = lo; p < hi; p++) {
        float *d = dst + p * PW;
        size_t c = 0;
        for (; c < w; c++) d[c] = A[(c0 + c) * lda + p];
        for (; c < PW; c++) d[c] = 0.0f;
    }
}

static inline __mmask16 tail_mask(size_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u); }

/* The register tile: acc[r][v] += sum_{p < kc} a(r, p) * b[p * bs + 16v ..], R <= 6 rows, NV <= 4
 * vectors, the last vector loaded under `last` (zero lanes past the panel's width).
 * a(r, p) = x[r * xs + p] (XT = 0: rows of X, P = XV and the update) or x[p * xs + r] (XT = 1:
 * columns of X, Z = XᵀU). R, NV and XT are compile-time constants after inlining; the row
 * pointers are locals so they stay in registers (through an array GCC reloaded them every
 * iteration, which cost a third of the speed). */
static inline __attribute__((always_inline)) void tile_acc(int R, int NV, int XT, const float *x, size_t xs,
                                                           const float *b, size_t bs, __mmask16 last, size_t kc,
                                                           __m512 acc[MR][4]) {
    const size_t rs = XT ? 1 : xs, ps = XT ? xs : 1;
    const float *x0 = x, *x1 = x + (R > 1 ? rs : 0), *x2 = x + (R > 2 ? 2 * rs : 0);
    const float *x3 = x + (R > 3 ? 3 * rs : 0), *x4 = x + (R > 4 ? 4 * rs : 0), *x5 = x + (R > 5 ? 5 * rs : 0);
    for (size_t p = 0; p < kc; p++) {
        const float *br = b + p * bs;
        __m512 bv[4];
        for (int v = 0; v < NV; v++)
            bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, br + 16 * v) : _mm512_loadu_ps(br + 16 * v);
        size_t o = p * ps;
#define ROW(r, xr)                                                                                    \
        if (R > r) {                                                                                  \
            __m512 a = _mm512_set1_ps(xr[o]);                                                         \
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(a, bv[v], acc[r][v]);            \
        }
        ROW(0, x0) ROW(1, x1) ROW(2, x2) ROW(3, x3) ROW(4, x4) ROW(5, x5)
#undef ROW
    }
}

/* A staged tile (row-major, ld PW) of P = XV or Z = XᵀU: accumulate a chunk into it. */
static inline __attribute__((always_inline)) void staged_tile(int R, int NV, int XT, const float *x, size_t xs,
                                                              const float *b, size_t kc, float *out, int first) {
    __m512 acc[MR][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(out + r * PW + 16 * v);
    tile_acc(R, NV, XT, x, xs, b, PW, (__mmask16)0xFFFF, kc, acc);
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(out + r * PW + 16 * v, acc[r][v]);
}

#define DISPATCH_RV(R, NV, CALL)                                                                      \
    switch ((R) * 8 + (NV)) {                                                                         \
    DCASE(6, 4, CALL) DCASE(5, 4, CALL) DCASE(4, 4, CALL) DCASE(3, 4, CALL) DCASE(2, 4, CALL) DCASE(1, 4, CALL) \
    DCASE(6, 3, CALL) DCASE(5, 3, CALL) DCASE(4, 3, CALL) DCASE(3, 3, CALL) DCASE(2, 3, CALL) DCASE(1, 3, CALL) \
    DCASE(6, 2, CALL) DCASE(5, 2, CALL) DCASE(4, 2, CALL) DCASE(3, 2, CALL) DCASE(2, 2, CALL) DCASE(1, 2, CALL) \
    DCASE(6, 1, CALL) DCASE(5, 1, CALL) DCASE(4, 1, CALL) DCASE(3, 1, CALL) DCASE(2, 1, CALL) DCASE(1, 1, CALL) \
    default: break;                                                                                   \
    }
#define DCASE(RR, VV, CALL)                                                                           \
    case RR * 8 + VV: CALL(RR, VV); break;

static void staged_tile_any(int R, int NV, int XT, const float *x, size_t xs, const float *b, size_t kc, float *out,
                            int first) {
#define CALL_XV(RR, VV) staged_tile(RR, VV, 0, x, xs, b, kc, out, first)
#define CALL_XT(RR, VV) staged_tile(RR, VV, 1, x, xs, b, kc, out, first)
    if (XT) {
        DISPATCH_RV(R, NV, CALL_XT)
    } else {
        DISPATCH_RV(R, NV, CALL_XV)
    }
#undef CALL_XV
#undef CALL_XT
}

size_t spectra_panel_work(size_t m, size_t n, size_t k) {
    (void)k;
    size_t big = m > n ? m : n;
    return 2 * big * PW; /* packed panel + row-major staging of the output */
}

/* Whole blocks of b rows out of `total` for thread t of T: [lo, hi). */
static void thread_range(size_t total, size_t b, int t, int T, size_t *lo, size_t *hi) {
    size_t nb = (total + b - 1) / b;
    *lo = min_sz(total, nb * (size_t)t / (size_t)T * b);
    *hi = min_sz(total, nb * (size_t)(t + 1) / (size_t)T * b);
}

void spectra_panel_xv(size_t m, size_t n, const float *X, size_t k, const float *V, float *P, float *work) {
    float *vp = work, *pr = work + n * PW;
    int nt = threads_for(m * n * k);
    for (size_t c0 = 0; c0 < k; c0 += PW) {
        size_t w = min_sz(PW, k - c0);
        int NV = (int)((w + 15) / 16);
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            pack_rows(n, V, c0, w, vp, n * (size_t)t / (size_t)T, n * (size_t)(t + 1) / (size_t)T);
#pragma omp barrier
            size_t lo, hi;
            thread_range(m, XV_RB, t, T, &lo, &hi);
            for (size_t i0 = lo; i0 < hi; i0 += XV_RB) {
                size_t i1 = min_sz(hi, i0 + XV_RB);
                for (size_t p0 = 0; p0 < n; p0 += XV_KC) {
                    size_t kc = min_sz(XV_KC, n - p0);
                    for (size_t i = i0; i < i1; i += MR)
                        staged_tile_any((int)min_sz(MR, i1 - i), NV, 0, X + i * n + p0, n, vp + p0 * PW, kc,
                                        pr + i * PW, p0 == 0);
                }
                /* Rows done: transpose the block into the col-major P. */
                for (size_t c = 0; c < w; c++) {
                    float *pc = P + (c0 + c) * m;
                    for (size_t i = i0; i < i1; i++) pc[i] = pr[i * PW + c];
                }
            }
        }
    }
}

void spectra_panel_xtu(size_t m, size_t n, const float *X, size_t k, const float *U, float *Z, float *work) {
    float *up = work, *zr = work + (m > n ? m : n) * PW;
    int nt = threads_for(m * n * k);
    for (size_t c0 = 0; c0 < k; c0 += PW) {
        size_t w = min_sz(PW, k - c0);
        int NV = (int)((w + 15) / 16);
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            pack_rows(m, U, c0, w, up, m * (size_t)t / (size_t)T, m * (size_t)(t + 1) / (size_t)T);
#pragma omp barrier
            /* Each thread owns whole strips of Z's rows (columns of X). A block of X is first
             * copied so that each 6-column tile is i-major with its 6 values contiguous: read
             * in place, the rows of a column strip sit at a stride of n floats, which for
             * n = 14336 (a multiple of 4 KiB) maps them all to the same few cache sets and the
             * strip is evicted before the next tile reuses it. */
            float xpk[XT_IB * XT_JW] __attribute__((aligned(64)));
            size_t lo, hi;
            thread_range(n, XT_JW, t, T, &lo, &hi);
            for (size_t i0 = 0; i0 < m; i0 += XT_IB) {
                size_t ib = min_sz(XT_IB, m - i0);
                for (size_t j0 = lo; j0 < hi; j0 += XT_JW) {
                    size_t jw = min_sz(XT_JW, hi - j0);
                    for (size_t i = 0; i < ib; i++) {
                        const float *xr = X + (i0 + i) * n + j0;
                        for (size_t jt = 0; jt < jw; jt += MR) {
                            float *d = xpk + jt * ib + i * MR;
                            size_t r = 0;
                            for (; r < MR && jt + r < jw; r++) d[r] = xr[jt + r];
                            for (; r < MR; r++) d[r] = 0.0f;
                        }
                    }
                    for (size_t jt = 0; jt < jw; jt += MR)
                        staged_tile_any((int)min_sz(MR, jw - jt), NV, 1, xpk + jt * ib, MR, up + i0 * PW, ib,
                                        zr + (j0 + jt) * PW, i0 == 0);
                }
            }
            for (size_t c = 0; c < w; c++) {
                float *zc = Z + (c0 + c) * n;
                for (size_t j = lo; j < hi; j++) zc[j] = zr[j * PW + c];
            }
        }
    }
}

/* The update tile: acc = Us[rows] Vᵀ[:, cols], then W = decay·W − a·M + acc on R rows x NV
 * vectors (last one masked). */
static inline __attribute__((always_inline)) void update_tile(int R, int NV, float *W, const float *M, size_t n,
                                                              const float *us, size_t ku, const float *vc, size_t k,
                                                              __mmask16 last, __m512 decay, __m512 na) {
    __m512 acc[MR][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    tile_acc(R, NV, 0, us, ku, vc, UP_JC, last, k, acc);
    for (int r = 0; r < R; r++) {
        float *wr = W + (size_t)r * n;
        const float *mr = M + (size_t)r * n;
        for (int v = 0; v < NV; v++) {
            __mmask16 mk = v == NV - 1 ? last : (__mmask16)0xFFFF;
            __m512 wv = _mm512_maskz_loadu_ps(mk, wr + 16 * v), mv = _mm512_maskz_loadu_ps(mk, mr + 16 * v);
            __m512 r_ = _mm512_fmadd_ps(na, mv, _mm512_fmadd_ps(decay, wv, acc[r][v]));
            _mm512_mask_storeu_ps(wr + 16 * v, mk, r_);
        }
    }
}

static void update_tile_any(int R, int NV, float *W, const float *M, size_t n, const float *us, size_t ku,
                            const float *vc, size_t k, __mmask16 last, __m512 decay, __m512 na) {
#define CALL_UP(RR, VV) update_tile(RR, VV, W, M, n, us, ku, vc, k, last, decay, na)
    DISPATCH_RV(R, NV, CALL_UP)
#undef CALL_UP
}

size_t spectra_panel_update_work(size_t m, size_t n, size_t k) {
    return m * ((k + 15) & ~(size_t)15) + k * ((n + UP_JC - 1) / UP_JC) * UP_JC;
}

void spectra_panel_update(size_t m, size_t n, float *W, const float *M, float decay, float a, size_t k,
                          const float *Us, const float *V, float *work) {
    const size_t ku = (k + 15) & ~(size_t)15;
    float *us = work; /* Us row-major m x ku: the broadcasts of a tile's rows are contiguous */
    /* V in chunks of UP_JC columns, each k x UP_JC row-major: in place, V's k rows sit at a
     * stride of n floats, all in the same cache sets when n is a multiple of 4 KiB. */
    float *vc = work + m * ku;
    int nt = threads_for(m * n * (k + 1));
    const __m512 dv = _mm512_set1_ps(decay), na = _mm512_set1_ps(-a);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        size_t lo, hi;
        thread_range(m, UP_RB, t, T, &lo, &hi);
        for (size_t i = lo; i < hi; i++) {
            size_t q = 0;
            for (; q < k; q++) us[i * ku + q] = Us[q * m + i];
            for (; q < ku; q++) us[i * ku + q] = 0.0f;
        }
        size_t nch = (n + UP_JC - 1) / UP_JC;
        for (size_t c = nch * (size_t)t / (size_t)T; c < nch * (size_t)(t + 1) / (size_t)T; c++) {
            size_t j0 = c * UP_JC, jw = min_sz(UP_JC, n - j0);
            for (size_t q = 0; q < k; q++) memcpy(vc + (c * k + q) * UP_JC, V + q * n + j0, jw * sizeof(float));
        }
#pragma omp barrier
        for (size_t i0 = lo; i0 < hi; i0 += UP_RB) {
            size_t i1 = min_sz(hi, i0 + UP_RB);
            for (size_t j0 = 0; j0 < n; j0 += UP_JC) {
                size_t j1 = min_sz(n, j0 + UP_JC);
                for (size_t i = i0; i < i1; i += MR) {
                    int R = (int)min_sz(MR, i1 - i);
                    for (size_t j = j0; j < j1; j += PW) {
                        size_t wv = min_sz(PW, j1 - j);
                        int NV = (int)((wv + 15) / 16);
                        update_tile_any(R, NV, W + i * n + j, M + i * n + j, n, us + i * ku, ku,
                                        vc + (j0 / UP_JC) * k * UP_JC + (j - j0), k,
                                        tail_mask(wv - 16 * (size_t)(NV - 1)), dv, na);
                    }
                }
            }
        }
    }
}

#else
int spectra_panel_available(void) { return 0; }
size_t spectra_panel_work(size_t m, size_t n, size_t k) {
    (void)m, (void)n, (void)k;
    return 0;
}
size_t spectra_panel_update_work(size_t m, size_t n, size_t k) {
    (void)m, (void)n, (void)k;
    return 0;
}
/* Never called: spectra_panel_available() is 0 and callers use sgemm. */
void spectra_panel_xv(size_t m, size_t n, const float *X, size_t k, const float *V, float *P, float *work) {
    (void)m, (void)n, (void)X, (void)k, (void)V, (void)P, (void)work;
}
void spectra_panel_xtu(size_t m, size_t n, const float *X, size_t k, const float *U, float *Z, float *work) {
    (void)m, (void)n, (void)X, (void)k, (void)U, (void)Z, (void)work;
}
void spectra_panel_update(size_t m, size_t n, float *W, const float *M, float decay, float a, size_t k,
                          const float *Us, const float *V, float *work) {
    (void)m, (void)n, (void)W, (void)M, (void)decay, (void)a, (void)k, (void)Us, (void)V, (void)work;
}
#endif
