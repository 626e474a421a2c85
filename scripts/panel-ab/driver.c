/* Driver of scripts/panel-ab/run.sh: the same inputs through variants A and B of the panel
 * kernels (src/linalg/panel.c compiled twice, symbols renamed A_panel_* and B_panel_*), timed
 * back to back in each repetition with the order alternating, and the ratio B/A taken per
 * repetition: on a shared host whose speed drifts by 2x within seconds, only such paired
 * ratios resolve a few percent. Usage: ab [m n k reps]; env ONLY, HUGE (see run.sh). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DECLARE(v)                                                                                              \
    size_t v##_panel_work(size_t, size_t, size_t);                                                              \
    size_t v##_panel_update_work(size_t, size_t, size_t);                                                       \
    void v##_panel_xv(size_t, size_t, const float *, size_t, const float *, float *, float *);                  \
    double v##_panel_momentum_xv(size_t, size_t, float *, const float *, float, size_t, const float *, float *, \
                                 float *);                                                                      \
    void v##_panel_xtu(size_t, size_t, const float *, size_t, const float *, float *, float *);                 \
    void v##_panel_update(size_t, size_t, float *, const float *, float, float, size_t, const float *,          \
                          const float *, float *);
DECLARE(A)
DECLARE(B)

typedef struct variant {
    double (*momentum_xv)(size_t, size_t, float *, const float *, float, size_t, const float *, float *, float *);
    void (*xv)(size_t, size_t, const float *, size_t, const float *, float *, float *);
    void (*xtu)(size_t, size_t, const float *, size_t, const float *, float *, float *);
    void (*update)(size_t, size_t, float *, const float *, float, float, size_t, const float *, const float *, float *);
} variant;

enum { KERNELS = 4, MAX_REPS = 1024 };
static const char *const NAMES[KERNELS] = {"momxv", "xv", "xtu", "update"};
static const char KEYS[KERNELS] = {'m', 'x', 't', 'u'};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *matrix(size_t count) {
    int huge = getenv("HUGE") != NULL;
    size_t align = huge ? (size_t)2 << 20 : 64, bytes = (count * sizeof(float) + align - 1) / align * align;
    void *p = NULL;
    if (posix_memalign(&p, align, bytes)) return NULL;
    if (huge) madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0.0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

int main(int argc, char **argv) {
    size_t m = argc > 1 ? (size_t)atol(argv[1]) : 4096, n = argc > 2 ? (size_t)atol(argv[2]) : 14336;
    size_t k = argc > 3 ? (size_t)atol(argv[3]) : 61;
    int reps = argc > 4 ? atoi(argv[4]) : 9;
    if (!m || !n || !k || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: ab [m n k reps]  (reps 1..%d)\n", MAX_REPS);
        return 2;
    }
    const char *only = getenv("ONLY");
    const variant var[2] = {{A_panel_momentum_xv, A_panel_xv, A_panel_xtu, A_panel_update},
                            {B_panel_momentum_xv, B_panel_xv, B_panel_xtu, B_panel_update}};
    size_t wf = max_sz(max_sz(A_panel_work(m, n, k), A_panel_update_work(m, n, k)),
                       max_sz(B_panel_work(m, n, k), B_panel_update_work(m, n, k)));
    /* M has 64 floats of slack per row, for variants that read it at a padded row stride
     * (scripts/padded-xtu); the others use its first m * n floats */
    float *M = matrix(m * (n + 64)), *G = matrix(m * n), *W = matrix(m * n);
    float *V = malloc(n * k * sizeof *V), *P = malloc(m * k * sizeof *P), *P2 = malloc(m * k * sizeof *P2);
    /* Z2 also holds variant B's P = MV in the check below: sized for the larger of m and n */
    float *Z = malloc(n * k * sizeof *Z), *Z2 = malloc(max_sz(m, n) * k * sizeof *Z2), *work = calloc(wf, sizeof *work);
    if (!M || !G || !W || !V || !P || !P2 || !Z || !Z2 || !work) {
        fprintf(stderr, "ab: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < m * n; i++) {
        M[i] = (float)((i * 2654435761u) % 1000) / 1000.f - 0.5f;
        G[i] = 0.1f * M[i];
        W[i] = M[i];
    }
    for (size_t i = 0; i < n * k; i++) V[i] = (float)((i * 40503u) % 1000) / 1000.f - 0.5f;
    for (size_t i = 0; i < m * k; i++) P[i] = (float)((i * 40503u) % 997) / 1000.f - 0.5f;

    /* Same results from both variants (exactly, when only blocking or prefetching differs). */
    A_panel_xv(m, n, M, k, V, P2, work);
    B_panel_xv(m, n, M, k, V, Z2, work);
    double dxv = max_abs_diff(P2, Z2, m * k);
    A_panel_xtu(m, n, M, k, P, Z, work);
    B_panel_xtu(m, n, M, k, P, Z2, work);
    printf("max |A - B|: P = MV %g, Z = MtU %g\n", dxv, max_abs_diff(Z, Z2, n * k));

    static double t[2][KERNELS][MAX_REPS];
    for (int r = 0; r <= reps; r++) /* repetition 0 warms up */
        for (int slot = 0; slot < 2; slot++) {
            int v = (r & 1) ? 1 - slot : slot;
            const variant *x = &var[v];
            double s[KERNELS + 1];
            s[0] = omp_get_wtime();
            if (!only || strchr(only, 'm')) x->momentum_xv(m, n, M, G, 0.9f, k, V, P2, work);
            s[1] = omp_get_wtime();
            if (!only || strchr(only, 'x')) x->xv(m, n, M, k, V, P2, work);
            s[2] = omp_get_wtime();
            if (!only || strchr(only, 't')) x->xtu(m, n, M, k, P, Z, work);
            s[3] = omp_get_wtime();
            if (!only || strchr(only, 'u')) x->update(m, n, W, M, 0.999f, 1e-4f, k, P, V, work);
            s[4] = omp_get_wtime();
            if (r)
                for (int q = 0; q < KERNELS; q++) t[v][q][r - 1] = s[q + 1] - s[q];
        }
    for (int q = 0; q < KERNELS; q++) {
        if (only && !strchr(only, KEYS[q])) continue;
        double ratio[MAX_REPS];
        for (int r = 0; r < reps; r++) ratio[r] = t[1][q][r] / t[0][q][r];
        qsort(ratio, (size_t)reps, sizeof *ratio, cmp_double);
        for (int v = 0; v < 2; v++) qsort(t[v][q], (size_t)reps, sizeof(double), cmp_double);
        printf("%-7s A med %6.2f min %6.2f ms | B med %6.2f min %6.2f ms | B/A per pair: median %.3f [%.3f..%.3f]\n",
               NAMES[q], 1e3 * t[0][q][reps / 2], 1e3 * t[0][q][0], 1e3 * t[1][q][reps / 2], 1e3 * t[1][q][0],
               ratio[reps / 2], ratio[0], ratio[reps - 1]);
    }
    free(M), free(G), free(W), free(V), free(P), free(P2), free(Z), free(Z2), free(work);
    return 0;
}
