/* Warm start: with T = 1, the cached V tracks a slowly rotating planted spike (the paper's
 * subspace-continuity argument, §3.2).
 *
 * G_t = U diag(50, 40) V_tᵀ + noise (std 0.1), V_t rotating by δ = 0.02 rad per step for 30
 * steps (0.58 rad in all), momentum 0 so the step sees G_t itself. Let S_t be the exact
 * top-k right singular subspace of G_t (LAPACK dgesdd) and θ_t the largest principal angle
 * between the cache after step t and S_t. One step of T = 1 is one round of subspace
 * iteration on G_tᵀG_t from the old cache, so (Golub & Van Loan, Thm 8.2.2)
 *     tan θ_t ≤ (σ_{k+1}/σ_k)² · tan(θ_{t−1} + ∠(S_{t−1}, S_t)),
 * using the triangle inequality for the largest principal angle. We check this bound at every
 * step with the measured σ's and angles (plus 1e-4 rad for fp32 round-off), and that the
 * final angle is far below the accumulated rotation, which a stale cache would show. */
#include "spectra/spectra.h"
#include "test_mats.h"
#include "test_util.h"

#include <math.h>

/* Largest principal angle between span(A) and span(B), both n x k col-major (any basis). */
static double max_angle(const double *A0, const double *B0, size_t n, size_t k) {
    double *A = malloc(n * k * sizeof *A), *B = malloc(n * k * sizeof *B), *C = malloc(k * k * sizeof *C);
    double *tau = malloc(k * sizeof *tau), *s = malloc(k * sizeof *s), *sup = malloc(k * sizeof *sup);
    memcpy(A, A0, n * k * sizeof *A);
    memcpy(B, B0, n * k * sizeof *B);
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)n, (int)k, A, (int)n, tau);
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)n, (int)k, (int)k, A, (int)n, tau);
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)n, (int)k, B, (int)n, tau);
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)n, (int)k, (int)k, B, (int)n, tau);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double d = 0;
            for (size_t t = 0; t < n; t++) d += A[t + i * n] * B[t + j * n];
            C[i + j * k] = d;
        }
    LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', (int)k, (int)k, C, (int)k, s, NULL, 1, NULL, 1, sup);
    double c = s[k - 1] > 1.0 ? 1.0 : s[k - 1];
    free(A);
    free(B);
    free(C);
    free(tau);
    free(s);
    free(sup);
    return acos(c);
}

int main(void) {
    const size_t m = 64, n = 128, k = 2, steps = 30;
    const double delta = 0.02;
    spectra_rng rng;
    spectra_rng_seed(&rng, 2024);
    double *Ub = malloc(m * k * sizeof *Ub), *Vb = malloc(n * 2 * k * sizeof *Vb);
    tm_orthonormal(&rng, m, k, Ub);
    tm_orthonormal(&rng, n, 2 * k, Vb); /* [A | B]: V_t = cos(tδ) A + sin(tδ) B */
    float *W = calloc(m * n, sizeof *W), *G = malloc(m * n * sizeof *G);
    spectra_optim *opt;
    CHECK_OK(spectra_optim_create(&opt, 5));
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    hp.momentum = 0.0f;
    hp.rank_ratio = 2.0f / 64.0f;
    hp.power_iters = 1;
    int g;
    CHECK_OK(spectra_optim_add_group(opt, &hp, &g));
    CHECK_OK(spectra_optim_add_param(opt, g, "w", W, G, m, n));

    double *A = malloc(m * n * sizeof *A), *s = malloc(m * sizeof *s), *U = malloc(m * m * sizeof *U);
    double *VT = malloc(m * n * sizeof *VT), *S = malloc(n * k * sizeof *S), *Sprev = malloc(n * k * sizeof *Sprev);
    double *cache = malloc(n * k * sizeof *cache);
    double theta_prev = 0, final_theta = 0;
    const double sig[2] = {50.0, 40.0};
    for (size_t t = 0; t < steps; t++) {
        double c = cos(delta * (double)t), sn = sin(delta * (double)t);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double v = 0;
                for (size_t q = 0; q < k; q++) v += Ub[i + q * m] * sig[q] * (c * Vb[j + q * n] + sn * Vb[j + (q + k) * n]);
                G[i * n + j] = (float)(v + 0.1 * spectra_rng_normal(&rng));
            }
        for (size_t i = 0; i < m * n; i++) A[i] = G[i];
        LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (int)m, (int)n, A, (int)n, s, U, (int)m, VT, (int)n);
        for (size_t q = 0; q < k; q++)
            for (size_t j = 0; j < n; j++) S[j + q * n] = VT[q * n + j];
        CHECK_OK(spectra_optim_step(opt));
        const float *V;
        CHECK_OK(spectra_optim_get_state(opt, "w", "V", &V, NULL, NULL));
        for (size_t i = 0; i < n * k; i++) cache[i] = V[i];
        double theta = max_angle(cache, S, n, k);
        if (t > 0) {
            double drift = max_angle(Sprev, S, n, k);
            double ratio = s[k] / s[k - 1];
            double bound = atan(ratio * ratio * tan(theta_prev + drift)) + 1e-4;
            CHECK_MSG(theta <= bound, "step %zu: angle %.3g rad exceeds the subspace-iteration bound %.3g", t, theta, bound);
        }
        theta_prev = theta;
        final_theta = theta;
        memcpy(Sprev, S, n * k * sizeof *S);
    }
    printf("test_spectra_warm: final principal angle %.2e rad after %zu steps of %.2f rad rotation (total %.2f)\n", final_theta,
           steps, delta, delta * (double)(steps - 1));
    CHECK(final_theta < 0.01 * delta * (double)(steps - 1));
    spectra_optim_destroy(opt);
    free(Ub); free(Vb); free(W); free(G); free(A); free(s); free(U); free(VT); free(S); free(Sprev); free(cache);
    return test_finish("test_spectra_warm");
}
