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
            for (size_t t = 0; t < k; t++) v += U[r + t * m] * pow(cond, -(double)t / (double)(k - 1)) * V[j + t * k];
            A[r + j * m] = (float)v;
        }
    free(U);
    free(V);
}

int main(void) {
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
    return test_finish("test_qr");
}
