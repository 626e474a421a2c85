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
#ifndef XV_KC_MOM
#define XV_KC_MOM 512 /* the same with the momentum fused in (longer tiles, longer momentum pieces): 512
                       * against 256 measured 0.96-0.99 in six interleaved A/B runs at k = 61 on
                       * machine B (1.00 at 1024 x 3072, 1.02 at k = 20); P = XV alone 1.01, so 256 */
#endif
#ifndef XT_IB
#define XT_IB 64    /* rows of X per block of Z = XᵀU: the 64 x 64 slice of U (16 KiB) and the copied
                     * 64 x 96 block of X (24 KiB) that every tile of a strip re-reads stay in L1
                     * together; with 128 rows (80 KiB) they did not, and Z = XᵀU took 7-14% longer
                     * (machine B, docs/BENCHMARKS.md) */
#endif
#ifndef XT_AHEAD
#define XT_AHEAD 1 /* strips ahead the tiles prefetch for the next copy */
#endif
#ifndef XT_SJ
#define XT_SJ 1536  /* columns of X per super-strip of Z = XᵀU: 384 KiB of staged Z (L2) */
#endif
#ifndef XT_JW
#define XT_JW 96    /* columns of X per strip of Z = XᵀU (the copied block is 48 KiB) */
#endif
#ifndef UP_RB
#define UP_RB 96    /* rows per block of the update */
#endif
#ifndef UP_JC
#define UP_JC 1024  /* columns per chunk of the update (a multiple of 64) */
#endif
#ifndef PACK_PF
#define PACK_PF 64
#endif
#ifndef XV_RB
#define XV_RB 48    /* rows of X per block */
#endif

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static int threads_for(size_t work) { return work < 65536 ? 1 : omp_get_max_threads(); }


/* In-register transpose of a 16 x 16 block: in[i] row i -> out[j] row j = column j of in. */
static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* r[4g + q] now holds, in each 128-bit lane L, elements (rows 4g..4g+3) of column 4L + q.
     * Two rounds of 128-bit lane shuffles gather the four lanes of each column. */
    for (int g = 0; g < 2; g++)
        for (int q = 0; q < 4; q++) {
            int i = 8 * g + q;
            t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);     /* lanes 0,2 of a; 0,2 of b */
            t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD); /* lanes 1,3 of a; 1,3 of b */
        }
    for (int q = 0; q < 4; q++) {
        r[q] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0x88);
        r[q + 8] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0xDD);
        r[q + 4] = _mm512_shuffle_f32x4(t[q + 4], t[q + 12], 0x88);
        r[q + 12] = _mm512_shuffle_f32x4(t[q + 4], t[q + 12], 0xDD);
    }
}

/* Packs columns [c0, c0 + w) of the col-major panel A (ld lda), rows [lo, hi), row-major into
 * dst (rows of ldd floats, ldd a multiple of 16, zero from w to ldd), by 16 x 16 in-register
 * transposes. The scalar loop took 2.6 ms for a 14336 x 61 panel (its reads a stride of lda
 * apart, all in one cache set when lda is a multiple of 1024). */
static void pack_rows(size_t lda, const float *A, size_t c0, size_t w, float *dst, size_t ldd, size_t lo, size_t hi) {
    for (size_t p0 = lo; p0 < hi; p0 += 16) {
        size_t pb = min_sz(16, hi - p0);
        __mmask16 pm = (__mmask16)((1u << pb) - 1u);
        for (size_t cb = 0; cb < ldd; cb += 16) {
            __m512 r[16];
            for (size_t c = 0; c < 16; c++) {
                if (cb + c < w) _mm_prefetch((const char *)(A + (c0 + cb + c) * lda + p0 + PACK_PF), _MM_HINT_T0);
                r[c] = cb + c < w ? _mm512_maskz_loadu_ps(pm, A + (c0 + cb + c) * lda + p0) : _mm512_setzero_ps();
            }
            transpose16(r);
            for (size_t q = 0; q < pb; q++) _mm512_storeu_ps(dst + (p0 + q) * ldd + cb, r[q]);
        }
    }
}

/* The inverse: rows [lo, hi) of the row-major src (ld PW), columns [0, w), into columns
 * [c0, c0 + w) of the col-major panel A (ld lda). */
static void unpack_rows(const float *src, size_t w, float *A, size_t lda, size_t c0, size_t lo, size_t hi) {
    for (size_t p0 = lo; p0 < hi; p0 += 16) {
        size_t pb = min_sz(16, hi - p0);
        __mmask16 pm = (__mmask16)((1u << pb) - 1u);
        for (size_t cb = 0; cb < w; cb += 16) {
            __m512 r[16];
            for (size_t q = 0; q < 16; q++) r[q] = q < pb ? _mm512_loadu_ps(src + (p0 + q) * PW + cb) : _mm512_setzero_ps();
            transpose16(r);
            for (size_t c = 0; c < 16 && cb + c < w; c++) _mm512_mask_storeu_ps(A + (c0 + cb + c) * lda + p0, pm, r[c]);
        }
    }
}

static inline __mmask16 tail_mask(size_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u); }

/* The register tile: 24 named accumulators cRV (row R < 6, vector V < 4), not an array: with
 * an array GCC kept a memory copy and stored every accumulator each iteration. Each macro
 * touches only the accumulators a tile of R rows x NV vectors uses (R, NV compile-time after
 * inlining). */
#define FOR_ACC(X)                                                                                    \
    X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(1, 0) X(1, 1) X(1, 2) X(1, 3) X(2, 0) X(2, 1) X(2, 2) X(2, 3)    \
    X(3, 0) X(3, 1) X(3, 2) X(3, 3) X(4, 0) X(4, 1) X(4, 2) X(4, 3) X(5, 0) X(5, 1) X(5, 2) X(5, 3)
#define ACC_DECL(r, v) __m512 c##r##v = _mm512_setzero_ps();
#define ACC_USED(r, v) (R > (r) && NV > (v))

/* c[r][v] += sum_{p < kc} a(r, p) * b[p * bs + 16v ..], the last vector loaded under `last`
 * (zero lanes past the panel's width). a(r, p) = x[r * xs + p] (XT = 0: rows of X, P = XV
 * and the update) or x[p * xs + r] (XT = 1: packed columns of X, Z = XᵀU). The row pointers
 * are locals (through an array GCC reloaded them every iteration).
 *
 * Prefetches: the cache lines the next tile (or copy) will read, pf[0..npf), are issued one
 * per 2^sh reduction steps, spread over the tile. Issued all at once at the start of a tile
 * (as before), the 48 lines of the update's next W/M tile exhaust the core's outstanding-miss
 * slots, the prefetches stall the pipeline, and the tile's FMAs no longer overlap the memory
 * traffic: the update took 27-30 ms at 4096 x 14336 instead of 23-25 (docs/BENCHMARKS.md). */
#define TILE_ACC(XT, x, xs, b, bs, last, kc)                                                          \
    do {                                                                                              \
        const size_t rs_ = (XT) ? 1 : (xs), ps_ = (XT) ? (xs) : 1;                                    \
        const float *x0_ = (x), *x1_ = (x) + (R > 1 ? rs_ : 0), *x2_ = (x) + (R > 2 ? 2 * rs_ : 0);   \
        const float *x3_ = (x) + (R > 3 ? 3 * rs_ : 0), *x4_ = (x) + (R > 4 ? 4 * rs_ : 0);           \
        const float *x5_ = (x) + (R > 5 ? 5 * rs_ : 0);                                               \
        for (size_t p_ = 0; p_ < (kc); p_++) {                                                        \
            if ((p_ >> sh) < npf && !(p_ & ((1u << sh) - 1u))) _mm_prefetch(pf[p_ >> sh], _MM_HINT_T0); \
            const float *br_ = (b) + p_ * (bs);                                                       \
            __m512 b0_ = _mm512_setzero_ps(), b1_ = b0_, b2_ = b0_, b3_ = b0_;                        \
            if (NV == 1) b0_ = _mm512_maskz_loadu_ps((last), br_);                                    \
            if (NV > 1) b0_ = _mm512_loadu_ps(br_);                                                   \
            if (NV == 2) b1_ = _mm512_maskz_loadu_ps((last), br_ + 16);                               \
            if (NV > 2) b1_ = _mm512_loadu_ps(br_ + 16);                                              \
            if (NV == 3) b2_ = _mm512_maskz_loadu_ps((last), br_ + 32);                               \
            if (NV > 3) b2_ = _mm512_loadu_ps(br_ + 32);                                              \
            if (NV == 4) b3_ = _mm512_maskz_loadu_ps((last), br_ + 48);                               \
            size_t o_ = p_ * ps_;                                                                     \
            TILE_ROW(0, x0_) TILE_ROW(1, x1_) TILE_ROW(2, x2_) TILE_ROW(3, x3_) TILE_ROW(4, x4_) TILE_ROW(5, x5_) \
        }                                                                                             \
    } while (0)
#define TILE_ROW(r, xr)                                                                               \
    if (R > (r)) {                                                                                    \
        __m512 a_ = _mm512_set1_ps(xr[o_]);                                                           \
        c##r##0 = _mm512_fmadd_ps(a_, b0_, c##r##0);                                                  \
        if (NV > 1) c##r##1 = _mm512_fmadd_ps(a_, b1_, c##r##1);                                      \
        if (NV > 2) c##r##2 = _mm512_fmadd_ps(a_, b2_, c##r##2);                                      \
        if (NV > 3) c##r##3 = _mm512_fmadd_ps(a_, b3_, c##r##3);                                      \
    }

/* A staged tile (row-major, ld PW) of P = XV or Z = XᵀU: accumulate a chunk into it. */
static inline __attribute__((always_inline)) void staged_tile(int R, int NV, int XT, const float *x, size_t xs,
                                                              const float *b, size_t kc, float *out, int first,
                                                              const char *const *pf, size_t npf, unsigned sh) {
    FOR_ACC(ACC_DECL)
#define ACC_LOAD(r, v) if (ACC_USED(r, v) && !first) c##r##v = _mm512_loadu_ps(out + (r) * PW + 16 * (v));
    FOR_ACC(ACC_LOAD)
#undef ACC_LOAD
    TILE_ACC(XT, x, xs, b, PW, (__mmask16)0xFFFF, kc);
#define ACC_STORE(r, v) if (ACC_USED(r, v)) _mm512_storeu_ps(out + (r) * PW + 16 * (v), c##r##v);
    FOR_ACC(ACC_STORE)
#undef ACC_STORE
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
                            int first, const char *const *pf, size_t npf, unsigned sh) {
#define CALL_XV(RR, VV) staged_tile(RR, VV, 0, x, xs, b, kc, out, first, pf, npf, sh)
#define CALL_XT(RR, VV) staged_tile(RR, VV, 1, x, xs, b, kc, out, first, pf, npf, sh)
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
    return 2 * big * PW + 16; /* packed panel + row-major staging of the output, + alignment */
}

/* Appends to pf[*n] the cache lines of `bytes` from each of `rows` rows of a row-major matrix
 * (ld floats), for a tile to prefetch: the loops below visit each row in short segments,
 * interleaved with dozens of other rows, more streams than the hardware prefetchers follow. */
static inline void add_lines(const char **pf, size_t *n, const float *a, size_t ld, size_t rows, size_t bytes) {
    for (size_t r = 0; r < rows; r++)
        for (size_t o = 0; o < bytes; o += 64) pf[(*n)++] = (const char *)(a + r * ld) + o;
}

/* A tile of `steps` reduction steps issues one prefetch per 2^sh steps; lines beyond that are
 * prefetched now. Returns how many the tile issues. */
static inline size_t fit_lines(const char *const *pf, size_t n, size_t steps, unsigned sh) {
    size_t cap = (steps + (1u << sh) - 1) >> sh;
    for (size_t q = cap; q < n; q++) _mm_prefetch(pf[q], _MM_HINT_T0);
    return n < cap ? n : cap;
}


/* Copies rows x w floats (w <= XT_JW) of a row-major matrix (ld floats) into dst (ld XT_JW).
 * Its source lines were prefetched by the previous strip's tiles: without that the copies
 * wait on memory (XᵀU at 4096 x 14336: 36 ms instead of 27). */
static inline void copy_block(const float *a, size_t ld, size_t rows, size_t w, float *dst) {
    for (size_t r = 0; r < rows; r++) {
        const float *ar = a + r * ld;
        float *d = dst + r * XT_JW;
        for (size_t o = 0; o < w; o += 16) {
            __mmask16 mk = tail_mask(w - o);
            _mm512_storeu_ps(d + o, _mm512_maskz_loadu_ps(mk, ar + o));
        }
    }
}

/* The workspace rounded up to a 64-byte boundary (its sizes include 16 floats of slack): the
 * packed panels are read with full-vector loads, which split across two cache lines when
 * misaligned. */
static inline float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* Whole blocks of b rows out of `total` for thread t of T: [lo, hi). */
static void thread_range(size_t total, size_t b, int t, int T, size_t *lo, size_t *hi) {
    size_t nb = (total + b - 1) / b;
    *lo = min_sz(total, nb * (size_t)t / (size_t)T * b);
    *hi = min_sz(total, nb * (size_t)(t + 1) / (size_t)T * b);
}

/* The upper 8 floats of a (AVX-512F only; the ps form needs DQ). */
static inline __m256 hi8(__m512 a) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)); }

/* One vector (lanes under mk) of M <- mu M + G at m, g; its squares summed in double, the lower
 * eight lanes into *lo and the upper eight into *hi. */
static inline __attribute__((always_inline)) void momentum_vec(float *m, const float *g, __m512 vmu, __mmask16 mk,
                                                               __m512d *lo, __m512d *hi) {
    __m512 a = _mm512_fmadd_ps(vmu, _mm512_maskz_loadu_ps(mk, m), _mm512_maskz_loadu_ps(mk, g));
    _mm512_mask_storeu_ps(m, mk, a);
    __m512d a0 = _mm512_cvtps_pd(_mm512_castps512_ps256(a)), a1 = _mm512_cvtps_pd(hi8(a));
    *lo = _mm512_fmadd_pd(a0, a0, *lo);
    *hi = _mm512_fmadd_pd(a1, a1, *hi);
}

/* M[lo, hi) <- mu M + G, returning the sum of the new M's squares into four double lanes
 * (independent accumulators: one chain of double adds would bound the pass by add latency). */
static inline void momentum_piece(float *restrict M, const float *restrict G, float mu, size_t lo, size_t hi,
                                  __m512d *acc) {
    const __m512 vmu = _mm512_set1_ps(mu);
    size_t i = lo;
    for (; i + 32 <= hi; i += 32) {
        momentum_vec(M + i, G + i, vmu, (__mmask16)0xFFFF, &acc[0], &acc[1]);
        momentum_vec(M + i + 16, G + i + 16, vmu, (__mmask16)0xFFFF, &acc[2], &acc[3]);
    }
    for (; i < hi; i += 16) momentum_vec(M + i, G + i, vmu, tail_mask(hi - i), &acc[0], &acc[1]);
}

#ifndef FM_PFD
#define FM_PFD 1024 /* floats ahead of the momentum's current vector whose G and M lines it prefetches */
#endif
/* A 6-row tile of P = XV (NV vectors wide) with a piece of the momentum interleaved into its
 * reduction: one vector of M <- mu M + G every second step (nv <= kc / 2 vectors), prefetching the G and
 * M lines FM_PFD floats ahead as it goes (not past lim), ‖M‖² into two double accumulators.
 * The same piece run as a burst between tiles, its lines prefetched by the tile before, left
 * more of the G/M stream exposed: 25-41% of it against 17-31% this way in scripts/overlap
 * (L1-resident tiles, 2 threads); in P = MV at 4096 x 14336 the fused pass went from 40.4 to
 * 35.9 ms (docs/BENCHMARKS.md). One vector every step measured 9% slower than every second;
 * spreading nv evenly over the steps, the same. */
static inline __attribute__((always_inline)) void staged_tile_mom(int NV, const float *x, size_t xs, const float *b,
                                                                  size_t kc, float *out, int first,
                                                                  const char *const *pf, size_t npf, float *Mp,
                                                                  const float *Gp, size_t nv, const float *lim,
                                                                  float mu, __m512d *acc) {
    enum { R = 6 };
    FOR_ACC(ACC_DECL)
#define ACC_LOAD(r, v) if (ACC_USED(r, v) && !first) c##r##v = _mm512_loadu_ps(out + (r) * PW + 16 * (v));
    FOR_ACC(ACC_LOAD)
#undef ACC_LOAD
    const __m512 vmu = _mm512_set1_ps(mu);
    __m512d s0 = acc[0], s1 = acc[1];
    const float *x0_ = x, *x1_ = x + xs, *x2_ = x + 2 * xs, *x3_ = x + 3 * xs, *x4_ = x + 4 * xs, *x5_ = x + 5 * xs;
    for (size_t p_ = 0; p_ < kc; p_++) {
        if (p_ < npf) _mm_prefetch(pf[p_], _MM_HINT_T0);
        const float *br_ = b + p_ * PW; /* the packed panel is zero past its width: no masks */
        __m512 b0_ = _mm512_loadu_ps(br_), b1_ = b0_, b2_ = b0_, b3_ = b0_;
        if (NV > 1) b1_ = _mm512_loadu_ps(br_ + 16);
        if (NV > 2) b2_ = _mm512_loadu_ps(br_ + 32);
        if (NV > 3) b3_ = _mm512_loadu_ps(br_ + 48);
        size_t o_ = p_;
        TILE_ROW(0, x0_) TILE_ROW(1, x1_) TILE_ROW(2, x2_)
        if (!(p_ & 1) && nv) {
            if (Mp + FM_PFD < lim) {
                _mm_prefetch((const char *)(Mp + FM_PFD), _MM_HINT_T0);
                _mm_prefetch((const char *)(Gp + FM_PFD), _MM_HINT_T0);
            }
            momentum_vec(Mp, Gp, vmu, (__mmask16)0xFFFF, &s0, &s1);
            Mp += 16, Gp += 16, nv--;
        }
        TILE_ROW(3, x3_) TILE_ROW(4, x4_) TILE_ROW(5, x5_)
    }
    acc[0] = s0, acc[1] = s1;
#define ACC_STORE(r, v) if (ACC_USED(r, v)) _mm512_storeu_ps(out + (r) * PW + 16 * (v), c##r##v);
    FOR_ACC(ACC_STORE)
#undef ACC_STORE
}

static void staged_tile_mom_any(int NV, const float *x, size_t xs, const float *b, size_t kc, float *out, int first,
                                const char *const *pf, size_t npf, float *Mp, const float *Gp, size_t nv,
                                const float *lim, float mu, __m512d *acc) {
    switch (NV) {
    case 4: staged_tile_mom(4, x, xs, b, kc, out, first, pf, npf, Mp, Gp, nv, lim, mu, acc); break;
    case 3: staged_tile_mom(3, x, xs, b, kc, out, first, pf, npf, Mp, Gp, nv, lim, mu, acc); break;
    case 2: staged_tile_mom(2, x, xs, b, kc, out, first, pf, npf, Mp, Gp, nv, lim, mu, acc); break;
    default: staged_tile_mom(1, x, xs, b, kc, out, first, pf, npf, Mp, Gp, nv, lim, mu, acc); break;
    }
}

/* P = M V, with G: first M <- mu M + G, fused (returns ‖M‖²); without G (NULL) M is only
 * read. Row blocks of XV_RB rows per thread; per block, reduction chunks of XV_KC (XV_KC_MOM
 * with the momentum); per chunk, 6-row tiles, each prefetching the next row group's lines.
 * The momentum runs one block ahead of the tiles, a piece per tile: inside the 6-row tiles
 * (staged_tile_mom), else (a block's last rows) as a burst before the tile. */
static double xv_pass(size_t m, size_t n, float *M, const float *G, float mu, size_t k, const float *V, float *P,
                      float *work) {
    work = align64(work);
    float *vp = work, *pr = work + n * PW;
    int nt = threads_for(m * n * k);
    double partial[256] = {0};
    if (nt > 256) nt = 256;
    for (size_t c0 = 0; c0 < k; c0 += PW) {
        size_t w = min_sz(PW, k - c0);
        int NV = (int)((w + 15) / 16), mom = G && c0 == 0;
        const size_t KC = mom ? XV_KC_MOM : XV_KC;
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            pack_rows(n, V, c0, w, vp, PW, n * (size_t)t / (size_t)T, n * (size_t)(t + 1) / (size_t)T);
            size_t lo, hi;
            thread_range(m, XV_RB, t, T, &lo, &hi);
            __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
            /* the thread's first block before any tile; each later block one block ahead, in
             * one sequential piece per tile of the block before it */
            if (mom && lo < hi) momentum_piece(M, G, mu, lo * n, min_sz(hi, lo + XV_RB) * n, acc);
#pragma omp barrier
            for (size_t i0 = lo; i0 < hi; i0 += XV_RB) {
                size_t i1 = min_sz(hi, i0 + XV_RB);
                size_t a0 = i1 * n, a1 = min_sz(hi, i1 + XV_RB) * n; /* next block's momentum */
                size_t tiles = ((i1 - i0 + MR - 1) / MR) * ((n + KC - 1) / KC);
                size_t piece = ((a1 > a0 ? a1 - a0 : 0) / tiles + 31) & ~(size_t)31, at = a0;
                for (size_t p0 = 0; p0 < n; p0 += KC) {
                    size_t kc = min_sz(KC, n - p0);
                    for (size_t i = i0; i < i1; i += MR) {
                        const char *pf[MR * (XV_KC > XV_KC_MOM ? XV_KC : XV_KC_MOM) * sizeof(float) / 64];
                        size_t npf = 0;
                        if (i + MR < i1) add_lines(pf, &npf, M + (i + MR) * n + p0, n, min_sz(MR, i1 - i - MR), kc * sizeof(float));
                        npf = fit_lines(pf, npf, kc, 0);
                        if (mom && at < a1 && i + MR <= i1) {
                            size_t e = min_sz(a1, at + piece), nv = min_sz((e - at) / 16, kc / 2);
                            staged_tile_mom_any(NV, M + i * n + p0, n, vp + p0 * PW, kc, pr + i * PW, p0 == 0, pf, npf,
                                                M + at, G + at, nv, M + hi * n, mu, acc);
                            at += 16 * nv;
                            if (at < e) momentum_piece(M, G, mu, at, e, acc);
                            at = e;
                            continue;
                        }
                        if (mom && at < a1) {
                            size_t e = min_sz(a1, at + piece);
                            momentum_piece(M, G, mu, at, e, acc);
                            at = e;
                        }
                        staged_tile_any((int)min_sz(MR, i1 - i), NV, 0, M + i * n + p0, n, vp + p0 * PW, kc,
                                        pr + i * PW, p0 == 0, pf, npf, 0);
                    }
                }
                if (mom && at < a1) momentum_piece(M, G, mu, at, a1, acc);
                unpack_rows(pr, w, P, m, c0, i0, i1); /* rows done: into the col-major P */
            }
            if (mom) partial[t] = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3])));
        }
    }
    double total = 0.0;
    for (int t = 0; t < nt; t++) total += partial[t];
    return total;
}

void spectra_panel_xv(size_t m, size_t n, const float *X, size_t k, const float *V, float *P, float *work) {
    (void)xv_pass(m, n, (float *)X, NULL, 0.0f, k, V, P, work); /* without G, X is never written */
}

double spectra_panel_momentum_xv(size_t m, size_t n, float *M, const float *G, float mu, size_t k, const float *V,
                                 float *P, float *work) {
    return xv_pass(m, n, M, G, mu, k, V, P, work);
}

void spectra_panel_xtu(size_t m, size_t n, const float *X, size_t k, const float *U, float *Z, float *work) {
    work = align64(work);
    float *up = work, *zr = work + (m > n ? m : n) * PW;
    int nt = threads_for(m * n * k);
    for (size_t c0 = 0; c0 < k; c0 += PW) {
        size_t w = min_sz(PW, k - c0);
        int NV = (int)((w + 15) / 16);
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            pack_rows(m, U, c0, w, up, PW, m * (size_t)t / (size_t)T, m * (size_t)(t + 1) / (size_t)T);
#pragma omp barrier
            /* Each thread owns whole strips of Z's rows (columns of X). A block of X is first
             * copied into a contiguous buffer: in place, the rows of a column strip sit at a
             * stride of n floats, which for n a multiple of 1024 (4 KiB) maps them all to the
             * same few cache sets, and the strip is evicted before the next tile reuses it. */
            float xpk[XT_IB * XT_JW] __attribute__((aligned(64)));
            size_t lo, hi;
            thread_range(n, XT_JW, t, T, &lo, &hi);
            /* Super-strips of XT_SJ columns keep their staged rows of Z in L2 across all
             * row blocks. */
            for (size_t s0 = lo; s0 < hi; s0 += XT_SJ) {
                size_t s1 = min_sz(hi, s0 + XT_SJ);
                for (size_t i0 = 0; i0 < m; i0 += XT_IB) {
                    size_t ib = min_sz(XT_IB, m - i0);
                    for (size_t j0 = s0; j0 < s1; j0 += XT_JW) {
                        size_t jw = min_sz(XT_JW, s1 - j0);
                        copy_block(X + i0 * n + j0, n, ib, jw, xpk);
                        /* The tiles share out the rows of the strip XT_AHEAD strips on, and
                         * each prefetches its share one line per two reduction steps. */
                        size_t ahead = j0 + XT_AHEAD * XT_JW < s1 ? j0 + XT_AHEAD * XT_JW : 0;
                        size_t ntl = (jw + MR - 1) / MR, rpt = (ib + ntl - 1) / ntl;
                        for (size_t jt = 0, tl = 0; jt < jw; jt += MR, tl++) {
                            const char *pf[XT_IB * XT_JW * sizeof(float) / 64];
                            size_t npf = 0, r0 = min_sz(ib, tl * rpt);
                            if (ahead)
                                add_lines(pf, &npf, X + (i0 + r0) * n + ahead, n, min_sz(ib, r0 + rpt) - r0,
                                          min_sz(XT_JW, s1 - ahead) * sizeof(float));
                            npf = fit_lines(pf, npf, ib, 1);
                            staged_tile_any((int)min_sz(MR, jw - jt), NV, 1, xpk + jt, XT_JW, up + i0 * PW, ib,
                                            zr + (j0 + jt) * PW, i0 == 0, pf, npf, 1);
                        }
                    }
                }
            }
            unpack_rows(zr, w, Z, n, c0, lo, hi);
        }
    }
}

/* The update tile: acc = Us[rows] Vᵀ[:, cols], then W = decay·W − a·M + acc on R rows x NV
 * vectors (last one masked). */
static inline __attribute__((always_inline)) void update_tile(int R, int NV, float *W, const float *M, size_t n,
                                                              const float *us, size_t ku, const float *vc, size_t k,
                                                              __mmask16 last, __m512 decay, __m512 na,
                                                              const char *const *pf, size_t npf) {
    const unsigned sh = 0;
    FOR_ACC(ACC_DECL)
    TILE_ACC(0, us, ku, vc, PW, last, k);
#define ACC_UPDATE(r, v)                                                                              \
    if (ACC_USED(r, v)) {                                                                             \
        __mmask16 mk_ = (v) == NV - 1 ? last : (__mmask16)0xFFFF;                                     \
        float *w_ = W + (size_t)(r) * n + 16 * (v);                                                   \
        __m512 wv_ = _mm512_maskz_loadu_ps(mk_, w_);                                                  \
        __m512 mv_ = _mm512_maskz_loadu_ps(mk_, M + (size_t)(r) * n + 16 * (v));                      \
        _mm512_mask_storeu_ps(w_, mk_, _mm512_fmadd_ps(na, mv_, _mm512_fmadd_ps(decay, wv_, c##r##v))); \
    }
    FOR_ACC(ACC_UPDATE)
#undef ACC_UPDATE
}

static void update_tile_any(int R, int NV, float *W, const float *M, size_t n, const float *us, size_t ku,
                            const float *vc, size_t k, __mmask16 last, __m512 decay, __m512 na,
                            const char *const *pf, size_t npf) {
#define CALL_UP(RR, VV) update_tile(RR, VV, W, M, n, us, ku, vc, k, last, decay, na, pf, npf)
    DISPATCH_RV(R, NV, CALL_UP)
#undef CALL_UP
}

size_t spectra_panel_update_work(size_t m, size_t n, size_t k) {
    return m * ((k + 15) & ~(size_t)15) + k * ((n + PW - 1) / PW) * PW + 16; /* + alignment */
}

void spectra_panel_update(size_t m, size_t n, float *W, const float *M, float decay, float a, size_t k,
                          const float *Us, const float *V, float *work) {
    const size_t ku = (k + 15) & ~(size_t)15;
    work = align64(work);
    float *us = work; /* Us row-major m x ku: the broadcasts of a tile's rows are contiguous */
    /* Vᵀ in panels of 64 columns, each k x 64 row-major (zero past n): a tile reads its panel
     * as one contiguous stream. In place, V's k rows sit a stride of n floats apart, all in
     * the same cache sets when n is a multiple of 1024; in chunks of 256 columns (1 KiB rows)
     * the update's products ran at 160 GFLOP/s per core instead of 200. */
    float *vc = work + m * ku;
    int nt = threads_for(m * n * (k + 1));
    const __m512 dv = _mm512_set1_ps(decay), na = _mm512_set1_ps(-a);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        size_t lo, hi;
        thread_range(m, UP_RB, t, T, &lo, &hi);
        pack_rows(m, Us, 0, k, us, ku, lo, hi);
        size_t ng = (n + PW - 1) / PW;
        for (size_t g = ng * (size_t)t / (size_t)T; g < ng * (size_t)(t + 1) / (size_t)T; g++) {
            size_t j0 = g * PW, jw = min_sz(PW, n - j0);
            for (size_t q = 0; q < k; q++) {
                float *d = vc + (g * k + q) * PW;
                for (size_t o = 0; o < PW; o += 16) {
                    __mmask16 mk = o < jw ? tail_mask(jw - o) : 0;
                    _mm512_storeu_ps(d + o, _mm512_maskz_loadu_ps(mk, V + q * n + j0 + o));
                }
            }
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
                        /* The next tile's W and M: along the row, else the next row group's
                         * first (measured faster than the next row group's same tile). */
                        size_t jn = j + PW, in = i;
                        if (jn >= j1) jn = j0, in = i + MR;
                        const char *pf[2 * MR * PW * sizeof(float) / 64];
                        size_t npf = 0;
                        if (in < i1) {
                            size_t rn = min_sz(MR, i1 - in), wn = min_sz(PW, j1 - jn);
                            add_lines(pf, &npf, W + in * n + jn, n, rn, wn * sizeof(float));
                            add_lines(pf, &npf, M + in * n + jn, n, rn, wn * sizeof(float));
                        }
                        npf = fit_lines(pf, npf, k, 0);
                        int NV = (int)((wv + 15) / 16);
                        update_tile_any(R, NV, W + i * n + j, M + i * n + j, n, us + i * ku, ku,
                                        vc + (j / PW) * k * PW, k,
                                        tail_mask(wv - 16 * (size_t)(NV - 1)), dv, na, pf, npf);
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
double spectra_panel_momentum_xv(size_t m, size_t n, float *M, const float *G, float mu, size_t k, const float *V,
                                 float *P, float *work) {
    (void)m, (void)n, (void)M, (void)G, (void)mu, (void)k, (void)V, (void)P, (void)work;
    return 0.0;
}
void spectra_panel_update(size_t m, size_t n, float *W, const float *M, float decay, float a, size_t k,
                          const float *Us, const float *V, float *work) {
    (void)m, (void)n, (void)W, (void)M, (void)decay, (void)a, (void)k, (void)Us, (void)V, (void)work;
}
#endif
