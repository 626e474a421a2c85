/* How well a memory stream hides under FMA work on this machine: the question behind the
 * fused momentum in src/linalg/panel.c (xv_pass, staged_tile_mom). Each thread runs L1-resident
 * 6 x 64 register tiles (kc = 128 reduction steps, the shape of the panel kernels) and streams
 * the momentum M <- mu*M + G over its own two 128 MiB arrays, one piece of `piece` floats per
 * tile. Modes, all timed back to back in each repetition (median over repetitions):
 *
 *   compute   the tiles alone
 *   stream    the momentum pieces alone
 *   burst     a piece between tiles, no software prefetch
 *   burst-pf  a piece between tiles, its G/M lines prefetched (T0) over the tile two pieces
 *             ahead (the kernel's scheme until 2026-11-30)
 *   inter     the piece inside the tile, one vector every second step, no prefetch
 *   inter-pf  the same, each vector prefetching the G/M lines `pfd` floats ahead (the kernel's
 *             scheme now)
 *
 * Perfect overlap would take max(compute, stream); no overlap compute + stream.
 * Usage: overlap [piece [pfd [reps]]]   (defaults 1024, 1024, 9; OMP_NUM_THREADS threads)
 * Build: scripts/overlap/run.sh, or gcc -O3 -march=native -fopenmp overlap.c */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KC = 128, MODES = 6, MAX_REPS = 64 };
static const char *const NAMES[MODES] = {"compute", "stream", "burst", "burst-pf", "inter", "inter-pf"};

#define ACC24                                                                                          \
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, \
           c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00,     \
           c33 = c00, c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00,     \
           c53 = c00;
#define ROW(r, x)                                                                                      \
    {                                                                                                  \
        __m512 a_ = _mm512_set1_ps(x);                                                                 \
        c##r##0 = _mm512_fmadd_ps(a_, b0, c##r##0);                                                    \
        c##r##1 = _mm512_fmadd_ps(a_, b1, c##r##1);                                                    \
        c##r##2 = _mm512_fmadd_ps(a_, b2, c##r##2);                                                    \
        c##r##3 = _mm512_fmadd_ps(a_, b3, c##r##3);                                                    \
    }
#define SUM24                                                                                          \
    (c00 + c01 + c02 + c03 + c10 + c11 + c12 + c13 + c20 + c21 + c22 + c23 + c30 + c31 + c32 + c33 +  \
     c40 + c41 + c42 + c43 + c50 + c51 + c52 + c53)

/* One tile; with M/G it also does nv vectors of the momentum, one every second step
 * (prefetching pfd floats ahead when pfd > 0); with pa/pb it prefetches npf lines of each, one
 * line per step, alternating. noinline + the asm barrier keep the compiler from hoisting the
 * loop-invariant tiles. */
static __attribute__((noinline)) __m512 tile(const float *x, const float *b, const char *pa, const char *pb,
                                             size_t npf, float *M, const float *G, size_t nv, size_t pfd,
                                             __m512 *acc) {
    ACC24
    __asm__ volatile("" : "+r"(x), "+r"(b));
    const float *x0 = x, *x1 = x + KC, *x2 = x + 2 * KC, *x3 = x + 3 * KC, *x4 = x + 4 * KC, *x5 = x + 5 * KC;
    const __m512 mu = _mm512_set1_ps(0.9f);
    __m512 s = *acc;
    for (size_t p = 0; p < KC; p++) {
        if ((p >> 1) < npf) _mm_prefetch((p & 1 ? pb : pa) + 64 * (p >> 1), _MM_HINT_T0);
        const float *br = b + p * 64;
        __m512 b0 = _mm512_loadu_ps(br), b1 = _mm512_loadu_ps(br + 16), b2 = _mm512_loadu_ps(br + 32);
        __m512 b3 = _mm512_loadu_ps(br + 48);
        ROW(0, x0[p]) ROW(1, x1[p]) ROW(2, x2[p])
        if (!(p & 1) && nv) {
            if (pfd) {
                _mm_prefetch((const char *)(M + pfd), _MM_HINT_T0);
                _mm_prefetch((const char *)(G + pfd), _MM_HINT_T0);
            }
            __m512 a = _mm512_fmadd_ps(mu, _mm512_load_ps(M), _mm512_load_ps(G));
            _mm512_store_ps(M, a);
            s = _mm512_fmadd_ps(a, a, s);
            M += 16, G += 16, nv--;
        }
        ROW(3, x3[p]) ROW(4, x4[p]) ROW(5, x5[p])
    }
    *acc = s;
    return SUM24;
}

static void momentum(float *M, const float *G, size_t lo, size_t hi, __m512 *acc) {
    const __m512 mu = _mm512_set1_ps(0.9f);
    for (size_t i = lo; i < hi; i += 16) {
        __m512 a = _mm512_fmadd_ps(mu, _mm512_load_ps(M + i), _mm512_load_ps(G + i));
        _mm512_store_ps(M + i, a);
        *acc = _mm512_fmadd_ps(a, a, *acc);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    size_t piece = argc > 1 ? (size_t)atol(argv[1]) : 1024, pfd = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    int reps = argc > 3 ? atoi(argv[3]) : 9;
    const size_t N = (size_t)32 << 20; /* floats per array per thread: 128 MiB */
    if (piece < 32 || piece % 32 || piece / 16 > KC / 2 || N % piece || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: overlap [piece [pfd [reps]]]: piece a multiple of 32, at most %d; reps 1..%d\n",
                KC * 8, MAX_REPS);
        return 2;
    }
    static double t[MODES][MAX_REPS];
    int threads = 1, failed = 0;
#pragma omp parallel
    {
#pragma omp single
        threads = omp_get_num_threads();
        float *G = aligned_alloc(64, N * 4), *M = aligned_alloc(64, N * 4);
        float *b = aligned_alloc(64, KC * 64 * 4), *x = aligned_alloc(64, 6 * KC * 4);
        if (!G || !M || !b || !x) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        if (!failed) {
            memset(G, 0, N * 4), memset(M, 0, N * 4);
            for (size_t i = 0; i < KC * 64; i++) b[i] = 1e-3f * (float)(i % 7);
            for (size_t i = 0; i < 6 * KC; i++) x[i] = 1e-3f * (float)(i % 5);
            __m512 acc = _mm512_setzero_ps(), s = acc;
            size_t tiles = N / piece;
            for (int r = 0; r <= reps; r++) /* repetition 0 warms up */
                for (int mode = 0; mode < MODES; mode++) {
#pragma omp barrier
                    double t0 = omp_get_wtime();
                    for (size_t q = 0; q < tiles; q++) {
                        size_t at = q * piece, nx = (q + 2) * piece;
                        switch (mode) {
                        case 0: s += tile(x, b, NULL, NULL, 0, NULL, NULL, 0, 0, &acc); break;
                        case 1: momentum(M, G, at, at + piece, &acc); break;
                        case 2:
                            momentum(M, G, at, at + piece, &acc);
                            s += tile(x, b, NULL, NULL, 0, NULL, NULL, 0, 0, &acc);
                            break;
                        case 3:
                            momentum(M, G, at, at + piece, &acc);
                            s += tile(x, b, (const char *)(G + nx), (const char *)(M + nx), nx + piece <= N ? piece / 16 : 0,
                                      NULL, NULL, 0, 0, &acc);
                            break;
                        case 4: s += tile(x, b, NULL, NULL, 0, M + at, G + at, piece / 16, 0, &acc); break;
                        default:
                            s += tile(x, b, NULL, NULL, 0, M + at, G + at, piece / 16, at + pfd < N ? pfd : 0, &acc);
                            break;
                        }
                    }
                    double dt = omp_get_wtime() - t0;
#pragma omp barrier
#pragma omp master
                    if (r) t[mode][r - 1] = dt;
                }
            volatile float sink = _mm512_reduce_add_ps(_mm512_add_ps(s, acc));
            (void)sink;
        }
        free(G), free(M), free(b), free(x);
    }
    if (failed) {
        fprintf(stderr, "overlap: out of memory\n");
        return 1;
    }
    double med[MODES];
    for (int mode = 0; mode < MODES; mode++) {
        qsort(t[mode], (size_t)reps, sizeof(double), cmp_double);
        med[mode] = t[mode][reps / 2];
    }
    printf("%d threads, piece %zu floats per tile, prefetch distance %zu floats, median of %d\n", threads, piece, pfd,
           reps);
    for (int mode = 0; mode < MODES; mode++) {
        printf("  %-9s %8.2f ms", NAMES[mode], 1e3 * med[mode]);
        if (mode >= 2)
            printf("   stream exposed %6.2f ms (%3.0f%% of it)", 1e3 * (med[mode] - med[0]),
                   100.0 * (med[mode] - med[0]) / med[1]);
        printf("\n");
    }
    return 0;
}
