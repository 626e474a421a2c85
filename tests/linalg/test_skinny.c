/* Big-matrix x skinny-panel products (P = αXV + βP, Z = αXᵀU + βZ, X += αLRᵀ) and the two
 * fused Spectra passes, against the same quantities computed naively in double. Shapes cover
 * ragged tails (n not a multiple of 16 or 32), odd row counts, every column-block split up to
 * SPECTRA_SKINNY_MAX_K, the threaded sizes, XᵀU's row blocks and the update's column chunks. Run with the skinny kernels
 * on (where AVX-512 exists) and forced off (sgemm), so both dispatch targets are checked. */
#include "linalg/linalg.h"
#include "linalg/skinny.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static float *rmat(size_t n) { return test_rand_floats(&rs, n); }

static void check_shape(size_t m, size_t n, size_t k) {
    const float alpha = 0.75f, beta = -0.5f;
    float *X = rmat(m * n), *V = rmat(n * k), *U = rmat(m * k), *P = rmat(m * k), *Z = rmat(n * k), *W = rmat(m * n);
    double *Pr = malloc(m * k * sizeof *Pr), *Zr = malloc(n * k * sizeof *Zr), *Wr = malloc(m * n * sizeof *Wr);
    for (size_t c = 0; c < k; c++) {
        for (size_t i = 0; i < m; i++) {
            double d = 0;
            for (size_t j = 0; j < n; j++) d += (double)X[i * n + j] * V[c * n + j];
            Pr[c * m + i] = alpha * d + beta * (double)P[c * m + i];
        }
        for (size_t j = 0; j < n; j++) {
            double d = 0;
            for (size_t i = 0; i < m; i++) d += (double)X[i * n + j] * U[c * m + i];
            Zr[c * n + j] = alpha * d + beta * (double)Z[c * n + j];
        }
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double d = W[i * n + j];
            for (size_t c = 0; c < k; c++) d += (double)alpha * U[c * m + i] * V[c * n + j];
            Wr[i * n + j] = d;
        }
    spectra_mat_times_panel(m, n, X, k, V, alpha, beta, P);
    spectra_matT_times_panel(m, n, X, k, U, alpha, beta, Z);
    spectra_mat_add_lowrank(m, n, W, k, alpha, U, V);
    /* fp32 dot products of length n (or m): error grows like sqrt(len)·eps relative. */
    double tol = 2e-5 * sqrt((double)(m > n ? m : n) / 256.0 + 1.0);
    double ep = test_max_relerr(P, Pr, m * k), ez = test_max_relerr(Z, Zr, n * k), ew = test_max_relerr(W, Wr, m * n);
    CHECK_MSG(ep < tol && ez < tol && ew < tol, "%zux%zu k=%zu skinny=%d: XV %.2e XtU %.2e lowrank %.2e (tol %.1e)", m, n,
              k, spectra_use_skinny(m, n, k), ep, ez, ew, tol);
    free(X), free(V), free(U), free(P), free(Z), free(W), free(Pr), free(Zr), free(Wr);
}

/* The fused Spectra update W ← dW − aM + Us Vᵀ. */
static void check_fused(size_t m, size_t n, size_t k) {
    const float decay = 0.999f, a = 0.01f;
    float *M = rmat(m * n), *V = rmat(n * k), *W = rmat(m * n), *Us = rmat(m * k);
    double *Wr = malloc(m * n * sizeof *Wr);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double d = (double)decay * W[i * n + j] - (double)a * M[i * n + j];
            for (size_t c = 0; c < k; c++) d += (double)Us[c * m + i] * V[c * n + j];
            Wr[i * n + j] = d;
        }
    spectra_skinny_update(m, n, W, M, decay, a, k, Us, V);
    double tol = 2e-5 * sqrt((double)n / 256.0 + 1.0);
    double ew = test_max_relerr(W, Wr, m * n);
    CHECK_MSG(ew < tol, "fused update %zux%zu k=%zu: rel err %.2e", m, n, k, ew);
    free(M), free(V), free(W), free(Us), free(Wr);
}

int main(void) {
    const size_t shapes[][3] = {{1, 1, 1},     {7, 5, 2},     {33, 17, 3},   {64, 64, 12},  {65, 97, 13},
                                {100, 37, 16}, {257, 301, 7}, {301, 257, 15}, {600, 130, 5}, {130, 600, 11},
                                {513, 1027, 12}, {40, 1500, 9}, {3, 2000, 4}, {2000, 3, 2}};
    const size_t nshapes = sizeof shapes / sizeof shapes[0];
    printf("skinny kernels %s\n", spectra_skinny_available() ? "available (AVX-512)" : "not built (no AVX-512): sgemm only");
    for (int on = 1; on >= 0; on--) {
        spectra_internal_set_skinny(on);
        for (size_t s = 0; s < nshapes; s++) check_shape(shapes[s][0], shapes[s][1], shapes[s][2]);
    }
    spectra_internal_set_skinny(1);
    if (spectra_skinny_available())
        for (size_t s = 0; s < nshapes; s++)
            check_fused(shapes[s][0], shapes[s][1], shapes[s][2]); /* any k: blocks of 8 */
    return test_finish("test_skinny");
}
