/* Thin QR: Householder (LAPACK) and CholeskyQR2 on random and ill-conditioned panels.
 * Oracle: the defining properties, computed in double — orthonormal columns ‖QᵀQ − I‖ and
 * the same column space ‖A − QQᵀA‖ / ‖A‖. Householder must be accurate for every panel,
 * including exactly rank-deficient ones; CholeskyQR2 must be accurate wherever it succeeds
 * and must report SPECTRA_ERR_NUMERIC (never a silently wrong Q) where it cannot. */
#include "linalg/linalg.h"
#include "spectra/spectra.h"
#include "test_util.h"
#include "../optim/test_mats.h"

#include <float.h>
#include <math.h>
#include <omp.h>

static void check_q(const char *what, size_t m, size_t k, const float *A, const float *Q, double tol) {
    double orth = 0, res = 0, na = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double d = 0;
            for (size_t r = 0; r < m; r++) d += (double)Q[r + i * m] * Q[r + j * m];
            orth = fmax(orth, fabs(d - (i == j)));
        }
    double *c = malloc(k * sizeof *c);
    for (size_t j = 0; j < k; j++) { /* column j of A minus its projection */
        for (size_t i = 0; i < k; i++) {
            double d = 0;
            for (size_t r = 0; r < m; r++) d += (double)Q[r + i * m] * A[r + j * m];
            c[i] = d;
        }
        for (size_t r = 0; r < m; r++) {
            double v = A[r + j * m];
            for (size_t i = 0; i < k; i++) v -= Q[r + i * m] * c[i];
            res += v * v;
            na += (double)A[r + j * m] * A[r + j * m];
        }
    }
    free(c);
    double rel = sqrt(res / na);
    CHECK_MSG(orth <= tol && rel <= tol, "%s: |QtQ - I| = %.2e, |A - QQtA|/|A| = %.2e (tol %.1e)", what, orth, rel, tol);
    printf("  %-44s |QtQ-I| %.1e  residual %.1e\n", what, orth, rel);
}

/* A = U diag(logspace(0, -log10(cond))) Vᵀ, m x k col-major. */
static void make_panel(spectra_rng *rng, size_t m, size_t k, double cond, float *A) {
    double *U = malloc(m * k * sizeof *U), *V = malloc(k * k * sizeof *V);
    tm_orthonormal(rng, m, k, U);
    tm_orthonormal(rng, k, k, V);
    for (size_t j = 0; j < k; j++)
        for (size_t r = 0; r < m; r++) {
            double v = 0;
            for (size_t t = 0; t < k; t++) v += U[r + t * m] * pow(cond, k > 1 ? -(double)t / (double)(k - 1) : 0.0) * V[j + t * k];
            A[r + j * m] = (float)v;
        }
    free(U);
    free(V);
}

/* The workspace of CholeskyQR2 holds one 6 x 4 tile of 8 doubles... per Gram tile that
 * touches the upper triangle; the count is formed in closed form (so that sizing an absurd
 * rank is fast). Oracle: the tiles enumerated one by one, plus the other terms of the size. */
static void test_workspace_size(void) {
    for (size_t k = 1; k <= 300; k++) {
        size_t tiles = 0;
        for (size_t ia = 0; ia < (k + 5) / 6; ia++)
            for (size_t ib = 0; ib < (k + 3) / 4; ib++) tiles += ib * 4 + 4 > ia * 6;
        const size_t m = 1000;
        size_t want = ((m + 7) & ~(size_t)7) * k + 2 * ((k * k + 7) & ~(size_t)7) + tiles * 6 * 4 * 8 + 8;
        CHECK_MSG(spectra_qr_cholesky2_work(m, k) == want, "k = %zu: %zu doubles, want %zu", k,
                  spectra_qr_cholesky2_work(m, k), want);
    }
}

int main(void) {
    test_workspace_size();
    const size_t m = 2000, k = 48;
    spectra_rng rng;
    spectra_rng_seed(&rng, 11);
    float *A = malloc(m * k * sizeof *A), *Q = malloc(m * k * sizeof *Q);
    float *work = malloc(spectra_qr_householder_work(m, k) * sizeof *work);
    double *dwork = malloc(spectra_qr_cholesky2_work(m, k) * sizeof *dwork);
    const double conds[] = {1.0, 1e2, 1e4, 1e6};
    char what[96];
    for (int c = 0; c < 4; c++) {
        make_panel(&rng, m, k, conds[c], A);
        memcpy(Q, A, m * k * sizeof *A);
        CHECK_OK(spectra_qr_householder(m, k, Q, NULL, work));
        snprintf(what, sizeof what, "Householder, cond %.0e", conds[c]);
        check_q(what, m, k, A, Q, 2e-5);
        memcpy(Q, A, m * k * sizeof *A);
        spectra_status st = spectra_qr_cholesky2(m, k, Q, dwork);
        snprintf(what, sizeof what, "CholeskyQR2 (double Gram), cond %.0e", conds[c]);
        if (st == SPECTRA_OK) check_q(what, m, k, A, Q, 2e-5);
        else {
            CHECK(st == SPECTRA_ERR_NUMERIC);
            printf("  %-44s refused: %s\n", what, spectra_last_error());
        }
    }
    /* Exactly rank deficient: two equal columns and a zero column. */
    make_panel(&rng, m, k, 10.0, A);
    memcpy(A + 5 * m, A + 2 * m, m * sizeof *A);
    memset(A + 9 * m, 0, m * sizeof *A);
    memcpy(Q, A, m * k * sizeof *A);
    CHECK_OK(spectra_qr_householder(m, k, Q, NULL, work));
    check_q("Householder, rank deficient (dup + zero col)", m, k, A, Q, 2e-5);
    memcpy(Q, A, m * k * sizeof *A);
    CHECK(spectra_qr_cholesky2(m, k, Q, dwork) == SPECTRA_ERR_NUMERIC);
    CHECK(memcmp(Q, A, m * k * sizeof *A) == 0); /* a refusal leaves the panel untouched */
    free(A);
    free(Q);
    free(work);
    free(dwork);

    /* The kernels' edges: rows not a multiple of 8 or 48, columns not a multiple of 4 or 6,
     * one column, more than 64 columns, a square panel, a panel of 14336 rows (the step's
     * LLaMA3-8B shape; its row panels cross the Gram's L2 blocking). And the result must not
     * depend on the thread count (each output element is owned by one thread). */
    const size_t shapes[][2] = {{1001, 61}, {97, 1}, {300, 150}, {64, 64}, {53, 7}, {14336, 61}};
    for (size_t sidx = 0; sidx < sizeof shapes / sizeof shapes[0]; sidx++) {
        size_t sm = shapes[sidx][0], sk = shapes[sidx][1];
        float *SA = malloc(sm * sk * sizeof *SA), *S1 = malloc(sm * sk * sizeof *S1), *S2 = malloc(sm * sk * sizeof *S2);
        double *sw = malloc(spectra_qr_cholesky2_work(sm, sk) * sizeof *sw);
        make_panel(&rng, sm, sk, 1e3, SA);
        memcpy(S1, SA, sm * sk * sizeof *SA);
        memcpy(S2, SA, sm * sk * sizeof *SA);
        int nt = omp_get_max_threads();
        omp_set_num_threads(1);
        CHECK_OK(spectra_qr_cholesky2(sm, sk, S1, sw));
        omp_set_num_threads(nt > 1 ? nt : 2);
        CHECK_OK(spectra_qr_cholesky2(sm, sk, S2, sw));
        omp_set_num_threads(nt);
        snprintf(what, sizeof what, "CholeskyQR2 %zu x %zu, cond 1e3", sm, sk);
        check_q(what, sm, sk, SA, S1, 2e-5);
        if (spectra_qr_cholesky2_kernels()) {
            CHECK_MSG(memcmp(S1, S2, sm * sk * sizeof *S1) == 0, "%s: 1 and %d threads differ", what, nt > 1 ? nt : 2);
        } else { /* OpenBLAS partitions its work by thread count: equal to rounding only */
            float dmax = 0;
            for (size_t i = 0; i < sm * sk; i++) dmax = fmaxf(dmax, fabsf(S1[i] - S2[i]));
            CHECK_MSG(dmax <= 1e-6f, "%s: 1 and %d threads differ by %g", what, nt > 1 ? nt : 2, (double)dmax);
        }
        free(SA);
        free(S1);
        free(S2);
        free(sw);
    }
    /* A NaN in the panel: refused, panel untouched. */
    {
        float *NA = malloc(300 * 20 * sizeof *NA), *NB = malloc(300 * 20 * sizeof *NB);
        double *nw = malloc(spectra_qr_cholesky2_work(300, 20) * sizeof *nw);
        make_panel(&rng, 300, 20, 10.0, NA);
        NA[123] = NAN;
        memcpy(NB, NA, 300 * 20 * sizeof *NA);
        CHECK(spectra_qr_cholesky2(300, 20, NB, nw) == SPECTRA_ERR_NUMERIC);
        CHECK(memcmp(NA, NB, 300 * 20 * sizeof *NA) == 0);
        free(NA);
        free(NB);
        free(nw);
    }
    /* Shapes it must refuse without touching the panel. */
    float one[4] = {1, 2, 3, 4};
    double dw[64];
    CHECK(spectra_qr_cholesky2(2, 3, one, dw) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_qr_cholesky2(2, 0, one, dw) == SPECTRA_ERR_INVALID_ARG);
    CHECK(one[0] == 1 && one[3] == 4);
    return test_finish("test_qr");
}
