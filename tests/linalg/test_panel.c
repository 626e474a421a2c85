/* The wide-panel kernels (P = XV, Z = XᵀU, and the Spectra update W ← dW − aM + Us Vᵀ) against
 * the same quantities computed naively in double. Shapes cover fewer rows than a register
 * tile, ragged tails (n not a multiple of 16, 64 or the column chunk), every register-tile
 * width (k = 1..64 in 16-column steps and in between), several 64-column blocks (k = 70, 130),
 * a row stride that is a multiple of 4 KiB (the case the packing exists for), and the
 * threaded sizes. The momentum pass fused with P = MV likewise: its 6-row tiles carry the
 * momentum of the next row block at every width, the blocks' ragged last rows do it before
 * the tile, the first block before any tile. Also:
 * the results are bitwise independent of the thread count, and the kernels write nothing past
 * their declared workspace. */
#include "linalg/panel.h"
#include "test_util.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

static uint64_t rs = 0x2545f4914f6cdd1dull;
static float *rmat(size_t n) { return test_rand_floats(&rs, n); }

#define CANARY 1234.5f
#define NCANARY 64
/* A workspace of `need` floats followed by canaries. */
static float *guarded(size_t need) {
    float *w = malloc((need + NCANARY) * sizeof *w);
    for (size_t i = 0; i < need + NCANARY; i++) w[i] = i < need ? NAN : CANARY; /* stale garbage must not matter */
    return w;
}
static int canaries_intact(const float *w, size_t need) {
    for (size_t i = need; i < need + NCANARY; i++)
        if (w[i] != CANARY) return 0;
    return 1;
}

static void check_shape(size_t m, size_t n, size_t k) {
    const float decay = 0.999f, a = 0.01f;
    float *X = rmat(m * n), *V = rmat(n * k), *U = rmat(m * k), *W = rmat(m * n), *W0 = malloc(m * n * sizeof *W0);
    float *P = rmat(m * k), *Z = rmat(n * k); /* garbage in the outputs must be overwritten */
    memcpy(W0, W, m * n * sizeof *W);
    double *Pr = malloc(m * k * sizeof *Pr), *Zr = malloc(n * k * sizeof *Zr), *Wr = malloc(m * n * sizeof *Wr);
    for (size_t c = 0; c < k; c++) {
        for (size_t i = 0; i < m; i++) {
            double d = 0;
            for (size_t j = 0; j < n; j++) d += (double)X[i * n + j] * V[c * n + j];
            Pr[c * m + i] = d;
        }
        for (size_t j = 0; j < n; j++) {
            double d = 0;
            for (size_t i = 0; i < m; i++) d += (double)X[i * n + j] * U[c * m + i];
            Zr[c * n + j] = d;
        }
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double d = (double)decay * W[i * n + j] - (double)a * X[i * n + j];
            for (size_t c = 0; c < k; c++) d += (double)U[c * m + i] * V[c * n + j];
            Wr[i * n + j] = d;
        }
    size_t need = spectra_panel_work(m, n, k), needu = spectra_panel_update_work(m, n, k);
    float *w = guarded(need), *wu = guarded(needu);
    spectra_panel_xv(m, n, X, k, V, P, w);
    spectra_panel_xtu(m, n, X, k, U, Z, w);
    spectra_panel_update(m, n, W, X, decay, a, k, U, V, wu);
    CHECK_MSG(canaries_intact(w, need) && canaries_intact(wu, needu), "%zux%zu k=%zu: workspace overrun", m, n, k);
    /* fp32 dot products of length n (or m): error grows like sqrt(len)·eps relative. */
    double tol = 2e-5 * sqrt((double)(m > n ? m : n) / 256.0 + 1.0);
    double ep = test_max_relerr(P, Pr, m * k), ez = test_max_relerr(Z, Zr, n * k), ew = test_max_relerr(W, Wr, m * n);
    CHECK_MSG(ep < tol && ez < tol && ew < tol, "%zux%zu k=%zu: XV %.2e XtU %.2e update %.2e (tol %.1e)", m, n, k, ep,
              ez, ew, tol);

    /* One thread must give the same bits (each output has one owner and a fixed order). */
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    float *P1 = malloc(m * k * sizeof *P1), *Z1 = malloc(n * k * sizeof *Z1), *W1 = malloc(m * n * sizeof *W1);
    memcpy(W1, W0, m * n * sizeof *W1);
    spectra_panel_xv(m, n, X, k, V, P1, w);
    spectra_panel_xtu(m, n, X, k, U, Z1, w);
    spectra_panel_update(m, n, W1, X, decay, a, k, U, V, wu);
    omp_set_num_threads(nt);
    CHECK_MSG(!memcmp(P, P1, m * k * sizeof *P) && !memcmp(Z, Z1, n * k * sizeof *Z) &&
                  !memcmp(W, W1, m * n * sizeof *W),
              "%zux%zu k=%zu: results depend on the thread count", m, n, k);

    /* The momentum fused with P = MV: M <- mu M + G in place, ‖M‖² returned, P = (new M) V. */
    const float mu = 0.9f;
    float *G = rmat(m * n), *M = malloc(m * n * sizeof *M), *M1 = malloc(m * n * sizeof *M1);
    float *Pm = rmat(m * k), *Pm1 = malloc(m * k * sizeof *Pm1);
    double *Mr = malloc(m * n * sizeof *Mr), *Pmr = malloc(m * k * sizeof *Pmr), nr = 0;
    memcpy(M, X, m * n * sizeof *M);
    memcpy(M1, X, m * n * sizeof *M1);
    for (size_t i = 0; i < m * n; i++) {
        Mr[i] = (double)mu * X[i] + G[i];
        nr += Mr[i] * Mr[i];
    }
    for (size_t c = 0; c < k; c++)
        for (size_t i = 0; i < m; i++) {
            double d = 0;
            for (size_t j = 0; j < n; j++) d += Mr[i * n + j] * V[c * n + j];
            Pmr[c * m + i] = d;
        }
    double nm = spectra_panel_momentum_xv(m, n, M, G, mu, k, V, Pm, w);
    CHECK_MSG(canaries_intact(w, need), "%zux%zu k=%zu: momentum + XV workspace overrun", m, n, k);
    double em = 0;
    for (size_t i = 0; i < m * n; i++) {
        double e = fabs(M[i] - Mr[i]) / (fabs(Mr[i]) + 1e-30);
        em = e > em ? e : em;
    }
    double epm = test_max_relerr(Pm, Pmr, m * k), en = fabs(nm - nr) / nr;
    CHECK_MSG(em < 2e-7 && en < 1e-6 && epm < tol, "%zux%zu k=%zu: momentum M %.2e, |M|^2 %.2e, XV %.2e (tol %.1e)", m, n,
              k, em, en, epm, tol);
    omp_set_num_threads(1);
    double nm1 = spectra_panel_momentum_xv(m, n, M1, G, mu, k, V, Pm1, w);
    omp_set_num_threads(nt);
    /* ‖M‖² is summed per thread, so only M and P must match bit for bit. */
    CHECK_MSG(!memcmp(M, M1, m * n * sizeof *M) && !memcmp(Pm, Pm1, m * k * sizeof *Pm) && fabs(nm1 - nr) / nr < 1e-6,
              "%zux%zu k=%zu: momentum + XV depends on the thread count", m, n, k);
    free(G), free(M), free(M1), free(Pm), free(Pm1), free(Mr), free(Pmr);

    free(X), free(V), free(U), free(W), free(W0), free(P), free(Z), free(Pr), free(Zr), free(Wr);
    free(w), free(wu), free(P1), free(Z1), free(W1);
}

int main(void) {
    if (!spectra_panel_available()) {
        printf("panel kernels not built (no AVX-512): nothing to test, callers use sgemm\n");
        return test_finish("test_panel");
    }
    omp_set_num_threads(2); /* the threaded split even on a 1-core runner */
    const size_t shapes[][3] = {{1, 1, 1},      {5, 7, 3},       {6, 16, 16},    {7, 17, 17},   {13, 33, 31},
                                {37, 53, 13},   {64, 64, 48},    {65, 97, 64},   {100, 70, 70}, {301, 257, 64},
                                {257, 301, 61}, {130, 600, 33},  {600, 130, 47}, {1000, 999, 33},
                                {97, 1024, 61}, {1024, 97, 20},  {40, 1500, 130}, {3, 2000, 4}, {2000, 3, 2},
                                {517, 2048, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) check_shape(shapes[s][0], shapes[s][1], shapes[s][2]);
    return test_finish("test_panel");
}
