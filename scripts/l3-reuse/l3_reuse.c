/* Does this VM's L3 keep a pass's data for the next pass? Two threads read a buffer (halves,
 * 64 KiB pieces, AVX-512 loads) cold (after reading another buffer of the same size) and right
 * after a full forward read, forward or in reverse order: if the L3 kept the tail of the first
 * read, the reverse read would start from L3 and finish sooner. docs/BENCHMARKS.md, "fifth
 * session". Usage: l3_reuse [MiB] (default 224, the size of M at 4096 x 14336). */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
/* sum a buffer in pieces of `piece` bytes, forward or backward over the pieces, 2 threads split halves */
static float rd(const float *a, size_t n, int rev, size_t lo, size_t hi) {
    __m512 s = _mm512_setzero_ps();
    const size_t P = 16384; /* floats per piece (64 KiB) */
    size_t np = (hi - lo) / P;
    for (size_t q = 0; q < np; q++) {
        size_t b = lo + (rev ? np - 1 - q : q) * P;
        for (size_t i = b; i < b + P; i += 16) s = _mm512_add_ps(s, _mm512_load_ps(a + i));
    }
    (void)n;
    return _mm512_reduce_add_ps(s);
}
int main(int argc, char **argv) {
    size_t mb = argc > 1 ? atol(argv[1]) : 224;
    size_t n = mb << 18; /* floats */
    float *a = aligned_alloc(64, n * 4), *b = aligned_alloc(64, n * 4);
    memset(a, 0, n * 4); memset(b, 0, n * 4);
    float sink = 0;
    for (int rep = 0; rep < 7; rep++) {
        double t[4];
        for (int mode = 0; mode < 4; mode++) {
            /* flush: read b fully; then read a forward; then time reading a forward (mode 0/2) or backward (1/3) */
            #pragma omp parallel num_threads(2) reduction(+:sink)
            { int th = omp_get_thread_num(); sink += rd(b, n, 0, n / 2 * th, n / 2 * (th + 1)); }
            if (mode >= 2) {
                #pragma omp parallel num_threads(2) reduction(+:sink)
                { int th = omp_get_thread_num(); sink += rd(a, n, 0, n / 2 * th, n / 2 * (th + 1)); }
            }
            double t0 = now();
            #pragma omp parallel num_threads(2) reduction(+:sink)
            { int th = omp_get_thread_num(); sink += rd(a, n, mode & 1, n / 2 * th, n / 2 * (th + 1)); }
            t[mode] = now() - t0;
        }
        printf("%zu MiB: cold fwd %.1f rev %.1f ms | after a fwd read: fwd %.1f rev %.1f ms (GB/s %.1f %.1f %.1f %.1f)\n", mb,
               1e3 * t[0], 1e3 * t[1], 1e3 * t[2], 1e3 * t[3], n * 4 / t[0] / 1e9, n * 4 / t[1] / 1e9, n * 4 / t[2] / 1e9, n * 4 / t[3] / 1e9);
    }
    return sink == 12345;
}
