/* Interleaved timing of the two-sided pass (spectra_panel_momentum_xv_xtp: momentum, P = MV and
 * Z = MᵀP with one read of M) against the separate passes it replaces (momentum + P = MV, then
 * Z = MᵀP), each repetition timing both back to back with the order alternating; the verdict is
 * the median per-pair ratio. Also checks Z against a double-precision MᵀP on sampled rows.
 * Usage: twosided [m n k reps]. Built and run by run.sh. */
#include "linalg/panel.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t m = argc > 1 ? (size_t)atol(argv[1]) : 4096, n = argc > 2 ? (size_t)atol(argv[2]) : 14336;
    size_t k = argc > 3 ? (size_t)atol(argv[3]) : 61;
    int reps = argc > 4 ? atoi(argv[4]) : 9, nt = omp_get_max_threads();
    if (k > 64 || reps < 1 || reps > 1000) return 2;
    size_t w1 = spectra_panel_work(m, n, k), w2 = spectra_panel_xtp_work(m, n, nt);
    float *M = aligned_alloc(64, m * n * 4), *G = aligned_alloc(64, m * n * 4);
    float *V = malloc(n * k * 4), *P = malloc(m * k * 4), *Z = malloc(n * k * 4);
    float *work = calloc(w1 > w2 ? w1 : w2, 4);
    for (size_t i = 0; i < m * n; i++) {
        M[i] = (float)((i * 2654435761u) % 1000) / 1000.f - 0.5f;
        G[i] = 0.1f * M[i];
    }
    for (size_t i = 0; i < n * k; i++) V[i] = (float)((i * 40503u) % 1000) / 1000.f - 0.5f;
    spectra_panel_momentum_xv_xtp(m, n, M, G, 0.9f, k, V, P, Z, work, nt);
    double err = 0;
    for (size_t j = 0; j < n; j += 97)
        for (size_t c = 0; c < k; c++) {
            double s = 0, a = 0;
            for (size_t i = 0; i < m; i++) s += (double)M[i * n + j] * P[c * m + i], a += fabs((double)M[i * n + j] * P[c * m + i]);
            err = fmax(err, fabs(s - Z[c * n + j]) / a);
        }
    printf("Z vs double MtP: max error / sum|terms| = %.2e\n", err);
    double ta[1000], tb[1000], ratio[1000];
    for (int r = 0; r <= reps; r++)
        for (int slot = 0; slot < 2; slot++) {
            int v = (r & 1) ? 1 - slot : slot;
            double t0 = omp_get_wtime();
            if (v == 0) {
                spectra_panel_momentum_xv(m, n, M, G, 0.9f, k, V, P, work);
                spectra_panel_xtu(m, n, M, k, P, Z, work);
            } else {
                spectra_panel_momentum_xv_xtp(m, n, M, G, 0.9f, k, V, P, Z, work, nt);
            }
            double dt = omp_get_wtime() - t0;
            if (r) (v ? tb : ta)[r - 1] = dt;
        }
    for (int r = 0; r < reps; r++) ratio[r] = tb[r] / ta[r];
    qsort(ta, reps, 8, cmp_double), qsort(tb, reps, 8, cmp_double), qsort(ratio, reps, 8, cmp_double);
    printf("%zux%zu k=%zu threads %d: separate med %.2f min %.2f ms | two-sided med %.2f min %.2f ms | ratio med %.3f [%.3f..%.3f]\n",
           m, n, k, nt, 1e3 * ta[reps / 2], 1e3 * ta[0], 1e3 * tb[reps / 2], 1e3 * tb[0], ratio[reps / 2], ratio[0],
           ratio[reps - 1]);
    return 0;
}
