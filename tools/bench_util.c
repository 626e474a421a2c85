#include "bench_util.h"

#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "linalg/linalg.h"
#include "linalg/panel.h"

char *openblas_get_corename(void);
char *openblas_get_config(void);

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bench_stats bench_summarize(double *s, int n) {
    bench_stats st = {0, 0, 0, n};
    if (n <= 0) return st;
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    st.min = s[0];
    st.max = s[n - 1];
    st.median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    return st;
}

struct bench_probe {
    size_t n;          /* triad length (floats) */
    int g;             /* sgemm order */
    float *a, *b, *c;  /* triad arrays */
    float *A, *B, *C;  /* sgemm operands, g x g */
};

bench_probe *bench_probe_create(size_t triad_n, int gemm_n) {
    bench_probe *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = triad_n;
    p->g = gemm_n;
    size_t gg = (size_t)gemm_n * (size_t)gemm_n;
    p->a = malloc(triad_n * sizeof(float));
    p->b = malloc(triad_n * sizeof(float));
    p->c = malloc(triad_n * sizeof(float));
    p->A = malloc(gg * sizeof(float));
    p->B = malloc(gg * sizeof(float));
    p->C = malloc(gg * sizeof(float));
    if (!p->a || !p->b || !p->c || !p->A || !p->B || !p->C) {
        bench_probe_destroy(p);
        return NULL;
    }
    float *a = p->a, *b = p->b, *c = p->c;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < triad_n; i++) {
        a[i] = 0.0f;
        b[i] = 1.0f;
        c[i] = 2.0f;
    }
    spectra_rng rng;
    spectra_rng_seed(&rng, 7);
    spectra_rng_fill_normal(&rng, p->A, gg, 1.0f);
    spectra_rng_fill_normal(&rng, p->B, gg, 1.0f);
    memset(p->C, 0, gg * sizeof(float));
    (void)bench_probe_sgemm(p); /* OpenBLAS's first call sets up its buffers */
    return p;
}

void bench_probe_destroy(bench_probe *p) {
    if (!p) return;
    free(p->a);
    free(p->b);
    free(p->c);
    free(p->A);
    free(p->B);
    free(p->C);
    free(p);
}

double bench_probe_triad(bench_probe *p) {
    float *a = p->a;
    const float *b = p->b, *c = p->c, s = 3.0f;
    size_t n = p->n;
    double t0 = bench_now();
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
    double t = bench_now() - t0;
    volatile float sink = a[n / 2];
    (void)sink;
    return 12.0 * (double)n / t / 1e9;
}

double bench_probe_sgemm(bench_probe *p) {
    int g = p->g;
    double t0 = bench_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g, g, g, 1.0f, p->A, g, p->B, g, 0.0f, p->C, g);
    double t = bench_now() - t0;
    return 2.0 * (double)g * (double)g * (double)g / t / 1e9;
}

/* The best of `reps` runs of a probe. */
static double best_of(double (*probe)(bench_probe *), bench_probe *p, int reps) {
    double best = 0.0;
    for (int r = 0; r < reps; r++) {
        double rate = probe(p);
        if (rate > best) best = rate;
    }
    return best;
}

double bench_stream_triad(bench_probe *p, int reps) {
    /* STREAM's convention: the best rate. On this (virtualized) machine single repetitions
     * dip by up to 40% when a neighbour runs; the median of 10 moved from 41 to 69 GB/s
     * between runs, while the best of 20 is stable. */
    return best_of(bench_probe_triad, p, reps);
}

double bench_sgemm_rate(bench_probe *p, int reps) {
    /* The best rate, as for the triad: it is the floor's compute reference, and on a shared
     * host a median of a few can land in a slow minute and make the floor lenient (a median of
     * 3 read 236 GFLOP/s where the steps' own probes read 229-320, and the step looked 1.15x
     * of its floor against 1.40x paired; docs/BENCHMARKS.md). */
    return best_of(bench_probe_sgemm, p, reps);
}

double bench_panel_gemm_rate(size_t rows, size_t cols, size_t k, int reps) {
    /* The products as the Spectra step runs them: the skinny or panel kernels where the
     * dispatch picks them, else sgemm at the padded width (spectra_sgemm_panel_width); the
     * rate counts the k useful columns only. */
    int skinny = spectra_use_skinny(rows, cols, k), panel = !skinny && spectra_use_panel(rows, cols, k);
    size_t kp = skinny || panel ? k : spectra_sgemm_panel_width(k);
    /* M 64-byte aligned as the optimizer's momentum is: with malloc's 16-byte alignment every
     * vector load of M would split two cache lines, which the step's own M never does */
    float *M = aligned_alloc(64, (rows * cols * sizeof *M + 63) & ~(size_t)63), *V = calloc(cols * kp, sizeof *V), *P = malloc(rows * kp * sizeof *P),
          *Z = malloc(cols * kp * sizeof *Z);
    float *work = panel ? malloc(spectra_panel_work(rows, cols, k) * sizeof *work) : NULL;
    spectra_rng rng;
    spectra_rng_seed(&rng, 8);
    spectra_rng_fill_normal(&rng, M, rows * cols, 1.0f);
    spectra_rng_fill_normal(&rng, V, cols * k, 1.0f);
    double *t = malloc((size_t)(reps + 1) * sizeof *t);
    for (int r = 0; r <= reps; r++) {
        double t0 = bench_now();
        if (panel) {
            spectra_panel_xv(rows, cols, M, k, V, P, work);
            spectra_panel_xtu(rows, cols, M, k, P, Z, work);
        } else {
            spectra_mat_times_panel(rows, cols, M, kp, V, 1.0f, 0.0f, P);
            spectra_matT_times_panel(rows, cols, M, kp, P, 1.0f, 0.0f, Z);
        }
        t[r] = bench_now() - t0;
    }
    bench_stats st = bench_summarize(t + 1, reps);
    free(t);
    free(M);
    free(V);
    free(P);
    free(Z);
    free(work);
    return 4.0 * (double)rows * (double)cols * (double)k / st.median / 1e9;
}

double bench_step_sgemm_rate(size_t rows, size_t cols, size_t k, int reps) {
    float *M = aligned_alloc(64, (rows * cols * sizeof(float) + 63) & ~(size_t)63), *V = malloc(cols * k * sizeof *V),
          *P = malloc(rows * k * sizeof *P), *Z = malloc(cols * k * sizeof *Z);
    double best = 0.0;
    if (M && V && P && Z) {
        spectra_rng rng;
        spectra_rng_seed(&rng, 9);
        spectra_rng_fill_normal(&rng, M, rows * cols, 1.0f);
        spectra_rng_fill_normal(&rng, V, cols * k, 1.0f);
        int m = (int)rows, n = (int)cols, c = (int)k;
        for (int r = 0; r <= reps; r++) { /* round 0 warms OpenBLAS's buffers and the pages */
            double t0 = bench_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, c, n, 1.0f, M, n, V, c, 0.0f, P, c);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, c, m, 1.0f, M, n, P, c, 0.0f, Z, c);
            /* a tiny alpha keeps M's values (and the next round's products) where they were */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, c, 1e-12f, P, c, Z, c, 1.0f, M, n);
            double rate = 6.0 * (double)rows * (double)cols * (double)k / (bench_now() - t0) / 1e9;
            if (r > 0 && rate > best) best = rate;
        }
    }
    free(M);
    free(V);
    free(P);
    free(Z);
    return best;
}

const char *bench_openblas_core(void) { return openblas_get_corename(); }
const char *bench_openblas_config(void) { return openblas_get_config(); }

/* The model name, with the family and model numbers when /proc/cpuinfo gives them: VMs often
 * name only the vendor's line ("AMD EPYC"), and the numbers tell one generation from another. */
const char *bench_cpu_model(void) {
    static char model[384] = "unknown"; /* room for the name, both numbers and the words */
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return model;
    char line[512], name[256] = "", family[32] = "", number[32] = "";
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (!c) continue;
        char *value = c[1] == ' ' ? c + 2 : c + 1;
        value[strcspn(value, "\n")] = '\0';
        if (!strncmp(line, "cpu family", 10)) snprintf(family, sizeof family, "%s", value);
        else if (!strncmp(line, "model name", 10)) snprintf(name, sizeof name, "%s", value);
        else if (!strncmp(line, "model", 5) && (line[5] == '\t' || line[5] == ' ')) snprintf(number, sizeof number, "%s", value);
        if (!strncmp(line, "processor", 9) && name[0]) break; /* the first CPU's block is enough */
    }
    fclose(f);
    if (name[0] && family[0] && number[0])
        snprintf(model, sizeof model, "%s (family %s, model %s)", name, family, number);
    else if (name[0])
        snprintf(model, sizeof model, "%s", name);
    return model;
}

int bench_parse_shapes(const char *s, size_t shapes[][2], int max, int *n) {
    *n = 0;
    for (const char *p = s; *p;) {
        unsigned long d[2];
        for (int j = 0; j < 2; j++) {
            if (*p < '0' || *p > '9') return -1; /* strtoul would take " 8" and "-2" */
            char *end;
            errno = 0;
            d[j] = strtoul(p, &end, 10);
            if (errno || d[j] < 2 || d[j] > 65536) return -1;
            p = end;
            if (j == 0 && *p != 'x' && *p != 'X') return -1;
            if (j == 0) p++;
        }
        if (*n == max || (unsigned long long)d[0] * d[1] > (1ull << 32)) return -1;
        shapes[*n][0] = d[0];
        shapes[*n][1] = d[1];
        (*n)++;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return *n ? 0 : -1;
}
