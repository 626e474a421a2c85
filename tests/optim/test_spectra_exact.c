/* Spectra against the exact-SVD oracle (SPEC §1 "Exactness oracle").
 *
 * For a matrix M with a clear gap after index k, the shaped update must equal
 *   O* = M − U_k diag(σ_1..k − σ_tail) V_kᵀ,  σ_tail = sqrt(Σ_{i>k} σ_i² / (r − k)),
 * with the SVD from LAPACK dgesdd in double. We read O back from the weight change:
 * with λ = 0, W_after = W_before − η' O and η' = cη/(‖O*‖/sqrt(mn) + ε).
 *
 * Both paths are checked: the randomized-SVD bootstrap (first step) and the cached power
 * iteration with T = 50 (second step, cache warmed on an unrelated random matrix).
 * Tolerance, from two fp32 error sources:
 *  - storing M and the rank-k factors in fp32 perturbs O by ~eps32·‖M‖ (Frobenius): 64·eps32·‖M‖;
 *  - σ_tail comes from the identity ‖M_tail‖² = ‖M‖² − Σs² with s from fp32 products, so
 *    the tail energy carries an absolute error ~ 2·eps32·Σs² (cancellation when the spike
 *    holds almost all energy — 99.99% in these matrices). That moves σ_tail by
 *    δσ = δ/(2σ(r−k)) and O by sqrt(k)·δσ. We allow 4x that (δ = 8·eps32·Σs²).
 * Both bounds are far below the error of a wrong subspace (~σ_k) or a wrong σ_tail rule. */
#include "spectra/spectra.h"
#include "test_mats.h"
#include "test_util.h"

#include <float.h>
#include <math.h>

typedef struct {
    size_t m, n;
    float rank_ratio;
    size_t k_expected;
} exact_case;

/* Oracle O* (row-major, double) from dgesdd of the float matrix Mf. */
static void oracle_shape(const float *Mf, size_t m, size_t n, size_t k, double *O, double *rms_out, double *sigma_out,
                         double *spike_sq_out) {
    size_t r = m < n ? m : n;
    double *A = malloc(m * n * sizeof *A), *s = malloc(r * sizeof *s);
    double *U = malloc(m * r * sizeof *U), *VT = malloc(r * n * sizeof *VT);
    for (size_t i = 0; i < m * n; i++) A[i] = Mf[i];
    /* Row-major A (m x n) = col-major Aᵀ; use the row-major LAPACKE layout directly. */
    int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (int)m, (int)n, A, (int)n, s, U, (int)r, VT, (int)n);
    if (info != 0) fprintf(stderr, "dgesdd failed %d\n", info);
    double tail = 0;
    for (size_t i = k; i < r; i++) tail += s[i] * s[i];
    double sig = sqrt(tail / (double)(r - k));
    *sigma_out = sig;
    *spike_sq_out = 0;
    for (size_t i = 0; i < k; i++) *spike_sq_out += s[i] * s[i];
    double osq = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double v = Mf[i * n + j];
            for (size_t t = 0; t < k; t++) v -= U[i * r + t] * (s[t] - sig) * VT[t * n + j];
            O[i * n + j] = v;
            osq += v * v;
        }
    *rms_out = sqrt(osq / (double)(m * n));
    free(A);
    free(s);
    free(U);
    free(VT);
}

static double rel_err(const float *Wb, const float *Wa, const double *O, size_t mn, double lr_eff, double *normO) {
    double e = 0, no = 0;
    for (size_t i = 0; i < mn; i++) {
        double ol = ((double)Wb[i] - Wa[i]) / lr_eff;
        e += (ol - O[i]) * (ol - O[i]);
        no += O[i] * O[i];
    }
    *normO = sqrt(no);
    return sqrt(e);
}

static void run_case(const exact_case *c, uint64_t seed) {
    size_t m = c->m, n = c->n, mn = m * n, r = m < n ? m : n;
    spectra_rng rng;
    spectra_rng_seed(&rng, seed);
    /* Spike of size k at 100..50, tail in [0.5, 1.5]: a gap of ~33x after index k. */
    double *sigma = malloc(r * sizeof *sigma), *Md = malloc(mn * sizeof *Md), *O = malloc(mn * sizeof *O);
    size_t k = c->k_expected;
    for (size_t i = 0; i < r; i++)
        sigma[i] = i < k ? 100.0 - 50.0 * (double)i / (double)(k > 1 ? k - 1 : 1) : 0.5 + spectra_rng_uniform(&rng);
    tm_planted(&rng, m, n, sigma, Md);
    float *G = malloc(mn * sizeof *G), *W = calloc(mn, sizeof *W), *Wb = malloc(mn * sizeof *Wb);
    tm_to_float(Md, G, mn);
    double msq = 0;
    for (size_t i = 0; i < mn; i++) msq += (double)G[i] * G[i];
    double rms, sigma_tail, spike_sq;
    oracle_shape(G, m, n, k, O, &rms, &sigma_tail, &spike_sq);

    for (int path = 0; path < 2; path++) {
        spectra_optim *opt;
        CHECK_OK(spectra_optim_create(&opt, seed));
        spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
        hp.momentum = 0.0f; /* M = G */
        hp.rank_ratio = c->rank_ratio;
        hp.power_iters = 50;
        hp.lr = 0.02f;
        int g;
        CHECK_OK(spectra_optim_add_group(opt, &hp, &g));
        float *Gbuf = malloc(mn * sizeof *Gbuf);
        memset(W, 0, mn * sizeof *W);
        CHECK_OK(spectra_optim_add_param(opt, g, "w", W, Gbuf, m, n));
        spectra_param_info info;
        CHECK_OK(spectra_optim_param_info(opt, 0, &info));
        CHECK_MSG(info.rank == k, "%zux%zu rho %g: k = %zu, expected %zu", m, n, (double)c->rank_ratio, info.rank, k);
        if (path == 1) { /* warm the cache on an unrelated matrix, then step on the planted one */
            tm_gauss_float(&rng, Gbuf, mn, 1.0);
            CHECK_OK(spectra_optim_step(opt));
        }
        memcpy(Gbuf, G, mn * sizeof *G);
        memcpy(Wb, W, mn * sizeof *W);
        CHECK_OK(spectra_optim_step(opt));
        spectra_spike_diag d;
        CHECK_OK(spectra_optim_spike_diag(opt, 0, &d));
        CHECK(d.bootstrapped == (path == 0));
        double lr_eff_oracle = (double)hp.scale * hp.lr / (rms + hp.eps);
        double tail_err = 8.0 * FLT_EPSILON * spike_sq;
        double rms_rel_tol = tail_err * (double)r / (double)(r - k) / (2.0 * rms * rms * (double)mn) + 1e-5;
        CHECK_MSG(fabs(d.lr_eff / lr_eff_oracle - 1.0) <= rms_rel_tol, "lr_eff ratio %.9g (tol %.3g)", d.lr_eff / lr_eff_oracle,
                  rms_rel_tol);
        double normO;
        double err = rel_err(Wb, W, O, mn, d.lr_eff, &normO);
        double tol = 64.0 * FLT_EPSILON * sqrt(msq) + sqrt((double)k) * tail_err / (2.0 * sigma_tail * (double)(r - k));
        CHECK_MSG(err <= tol, "%zux%zu k=%zu %s: ||O - O*|| = %.3g > tol %.3g (||O*|| = %.3g)", m, n, k,
                  path ? "power iteration T=50" : "bootstrap", err, tol, normO);
        printf("  %4zu x %-4zu k=%-2zu %-22s ||O-O*||/||O*|| = %.2e  (tol %.2e)\n", m, n, k,
               path ? "power iteration T=50" : "randomized bootstrap", err / normO, tol / normO);
        free(Gbuf);
        spectra_optim_destroy(opt);
    }
    free(sigma);
    free(Md);
    free(O);
    free(G);
    free(W);
    free(Wb);
}

int main(void) {
    const exact_case cases[] = {
        {48, 200, 0.015f, 1},  /* m < n, k = 1 by the max(1, ·) rule */
        {200, 48, 0.015f, 1},  /* m > n */
        {96, 96, 0.05f, 5},    /* square, k = round(4.8) = 5 */
        {120, 300, 0.1f, 12},  /* m < n, larger k */
        {2, 40, 0.015f, 1},    /* r = 2: k clamped to r - 1 = 1 */
        {3, 50, 0.5f, 2},      /* r = 3: round(1.5) = 2 = r - 1 */
        {64, 3, 0.9f, 2},      /* r = 3, k = round(2.7) = 3 clamped to 2 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 1000 + i);
    return test_finish("test_spectra_exact");
}
