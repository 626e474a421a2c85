/* Spectra's cached power-iteration step against an independent double-precision
 * implementation of SPEC §1 steps 1–8, on matrices without any planted structure, plus the
 * norm identities of steps 3 and 6 checked by explicit computation.
 *
 * The reference takes the cache V_prev (read from the library before the step), runs T
 * rounds of P = XV, U = QR(P) (LAPACK dgeqrf/dorgqr), Z = XᵀU, s = ‖Z_i‖, V = Z/s, and
 * builds M_tail and O explicitly. QR sign choices cancel in U diag(s) Vᵀ and U Vᵀ.
 * Both the straightforward full-matrix passes (default) and the fused row-block passes are
 * held to the same reference. */
#include "spectra/spectra.h"
#include "test_mats.h"
#include "test_util.h"
#include "optim/optim_internal.h"
#include "linalg/linalg.h"

#include <float.h>
#include <math.h>

typedef struct {
    size_t m, n;
    int T, nesterov;
    float wd, rho;
} step_case;

/* Row-major X (m x n) times col-major B (n x c) -> col-major (m x c). */
static void mul_xb(const double *X, size_t m, size_t n, const double *B, size_t c, double *out) {
    for (size_t j = 0; j < c; j++)
        for (size_t i = 0; i < m; i++) {
            double s = 0;
            for (size_t t = 0; t < n; t++) s += X[i * n + t] * B[t + j * n];
            out[i + j * m] = s;
        }
}
static void mul_xtc(const double *X, size_t m, size_t n, const double *C, size_t c, double *out) {
    for (size_t j = 0; j < c; j++)
        for (size_t t = 0; t < n; t++) {
            double s = 0;
            for (size_t i = 0; i < m; i++) s += X[i * n + t] * C[i + j * m];
            out[t + j * n] = s;
        }
}

static void run_case(const step_case *c, uint64_t seed) {
    const size_t m = c->m, n = c->n, mn = m * n, r = m < n ? m : n;
    spectra_rng rng;
    spectra_rng_seed(&rng, seed);
    float *W = malloc(mn * sizeof *W), *G = malloc(mn * sizeof *G), *Wb = malloc(mn * sizeof *Wb);
    tm_gauss_float(&rng, W, mn, 0.02);
    spectra_optim *opt;
    CHECK_OK(spectra_optim_create(&opt, seed));
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    hp.power_iters = c->T;
    hp.nesterov = c->nesterov;
    hp.weight_decay = c->wd;
    hp.rank_ratio = c->rho;
    int g;
    CHECK_OK(spectra_optim_add_group(opt, &hp, &g));
    CHECK_OK(spectra_optim_add_param(opt, g, "w", W, G, m, n));
    spectra_param_info info;
    spectra_optim_param_info(opt, 0, &info);
    const size_t k = info.rank;

    /* Three steps with a spiked-ish random gradient; check the third against the reference. */
    double *X = malloc(mn * sizeof *X), *Mprev = malloc(mn * sizeof *Mprev);
    double *V = malloc(n * k * sizeof *V), *P = malloc(m * k * sizeof *P), *Z = malloc(n * k * sizeof *Z);
    double *s = malloc(k * sizeof *s), *tau = malloc(k * sizeof *tau);
    float *spike_u = malloc(m * sizeof *spike_u), *spike_v = malloc(n * sizeof *spike_v);
    tm_gauss_float(&rng, spike_u, m, 1.0);
    tm_gauss_float(&rng, spike_v, n, 1.0);
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) G[i * n + j] = (float)(0.3 * spike_u[i] * spike_v[j] + spectra_rng_normal(&rng));
        if (step < 2) {
            CHECK_OK(spectra_optim_step(opt));
            continue;
        }
        const float *Mf, *Vf;
        size_t vr, vc;
        CHECK_OK(spectra_optim_get_state(opt, "w", "momentum", &Mf, NULL, NULL));
        CHECK_OK(spectra_optim_get_state(opt, "w", "V", &Vf, &vr, &vc));
        CHECK(Vf != NULL && vr == n && vc == k);
        for (size_t i = 0; i < n * k; i++) V[i] = Vf[i];
        for (size_t i = 0; i < mn; i++) Mprev[i] = Mf[i];
        memcpy(Wb, W, mn * sizeof *W);
        CHECK_OK(spectra_optim_step(opt));

        /* Reference in double. Steps 1–2: M and X (inputs rounded as the library's fp32 M). */
        const float *Mnew;
        spectra_optim_get_state(opt, "w", "momentum", &Mnew, NULL, NULL);
        double max_m_err = 0;
        for (size_t i = 0; i < mn; i++) {
            double mi = (double)hp.momentum * Mprev[i] + G[i];
            /* one fp32 rounding of the product and one of the sum */
            double scale = fabs((double)hp.momentum * Mprev[i]) + fabs((double)G[i]);
            max_m_err = fmax(max_m_err, fabs(mi - Mnew[i]) / (scale * FLT_EPSILON));
            X[i] = c->nesterov ? (double)G[i] + hp.momentum * mi : mi;
        }
        CHECK_MSG(max_m_err <= 2.0, "momentum update off by %.3g ulps", max_m_err);
        for (int t = 0; t < c->T; t++) {
            mul_xb(X, m, n, V, k, P);
            LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)m, (int)k, P, (int)m, tau);
            LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)m, (int)k, (int)k, P, (int)m, tau);
            mul_xtc(X, m, n, P, k, Z);
            for (size_t i = 0; i < k; i++) {
                double nz = 0;
                for (size_t j = 0; j < n; j++) nz += Z[j + i * n] * Z[j + i * n];
                s[i] = sqrt(nz);
                for (size_t j = 0; j < n; j++) V[j + i * n] = Z[j + i * n] / s[i];
            }
        }
        /* Steps 3–6 explicitly. */
        double xsq = 0, ssq = 0, tail_explicit = 0;
        for (size_t i = 0; i < mn; i++) xsq += X[i] * X[i];
        for (size_t i = 0; i < k; i++) ssq += s[i] * s[i];
        double *O = malloc(mn * sizeof *O);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double low = 0, uv = 0;
                for (size_t t = 0; t < k; t++) {
                    low += P[i + t * m] * s[t] * V[j + t * n];
                    uv += P[i + t * m] * V[j + t * n];
                }
                double tail = X[i * n + j] - low;
                tail_explicit += tail * tail;
                O[i * n + j] = tail; /* σ_tail·UVᵀ added below, once σ_tail is known */
                X[i * n + j] = uv;   /* reuse X to hold UVᵀ */
            }
        /* Step 3 identity: ‖M_tail‖² = ‖M‖² − Σ s². */
        CHECK_MSG(fabs(tail_explicit - (xsq - ssq)) <= 1e-9 * xsq, "tail identity: explicit %.12g vs %.12g", tail_explicit,
                  xsq - ssq);
        double sigma_tail = sqrt(tail_explicit / (double)(r - k));
        double osq = 0;
        for (size_t i = 0; i < mn; i++) {
            O[i] += sigma_tail * X[i];
            osq += O[i] * O[i];
        }
        /* Step 6 identity: ‖O‖² = ‖M‖² − Σ s² + kσ². */
        double osq_identity = xsq - ssq + (double)k * sigma_tail * sigma_tail;
        CHECK_MSG(fabs(osq - osq_identity) <= 1e-9 * osq, "RMS identity: explicit %.12g vs identity %.12g", osq, osq_identity);
        double rms = sqrt(osq / (double)mn);
        double lr_eff = (double)hp.scale * hp.lr / (rms + hp.eps);
        spectra_spike_diag d;
        CHECK_OK(spectra_optim_spike_diag(opt, 0, &d));
        CHECK_NEAR(d.rms / rms, 1.0, 1e-5);
        CHECK_NEAR(d.sigma_tail / sigma_tail, 1.0, 1e-5);
        for (size_t i = 0; i < k; i++) CHECK_NEAR(d.s[i] / s[i], 1.0, 1e-5);
        /* Step 8: W_after = (1 − ηλ)W_before − η' O. */
        double decay = 1.0 - (double)hp.lr * hp.weight_decay, err = 0, nd = 0;
        for (size_t i = 0; i < mn; i++) {
            double expect = decay * Wb[i] - lr_eff * O[i];
            err += (expect - W[i]) * (expect - W[i]);
            nd += (lr_eff * O[i]) * (lr_eff * O[i]);
        }
        double rel = sqrt(err / nd);
        CHECK_MSG(rel < 2e-5, "%zux%zu T=%d nesterov=%d wd=%g: update rel err %.3g", m, n, c->T, c->nesterov, (double)c->wd, rel);
        printf("  %4zu x %-4zu k=%-2zu T=%d nesterov=%d wd=%.2f  update rel err %.2e\n", m, n, k, c->T, c->nesterov,
               (double)c->wd, rel);
        free(O);
    }
    spectra_optim_destroy(opt);
    free(W);
    free(G);
    free(Wb);
    free(X);
    free(Mprev);
    free(V);
    free(P);
    free(Z);
    free(s);
    free(tau);
    free(spike_u);
    free(spike_v);
}

int main(void) {
    const step_case cases[] = {
        {60, 150, 1, 0, 0.0f, 0.05f},
        {150, 60, 1, 0, 0.1f, 0.05f},
        {80, 80, 3, 0, 0.0f, 0.1f},
        {70, 130, 2, 1, 0.05f, 0.05f},
        {130, 70, 1, 1, 0.0f, 0.015f},
        /* thread-parallel sizes, ragged vector tails, two column blocks (k = 13, 16) */
        {257, 301, 1, 0, 0.1f, 0.05f},
        {331, 200, 2, 0, 0.0f, 0.08f},
    };
    /* 16-row blocks: every case spans several blocks, with a ragged last one, on 2 threads. */
    setenv("SPECTRA_BLOCK_ROWS", "16", 1);
    /* Mode 0: the default (skinny AVX-512 kernels for k <= 12, panel kernels above, the update
     * fused with the rank-k correction, where available); 1: the same passes through sgemm;
     * 2: the fused row-block passes; 3: the panel kernels at every k (the momentum pass fused
     * with the first P = MV); 4: the same with the momentum pass separate. */
    static const char *const mode_name[] = {"default (skinny / panel kernels where available)", "straightforward, sgemm",
                                            "fused row-block", "panel kernels at every k, momentum fused with P = MV",
                                            "panel kernels at every k, momentum pass separate"};
    for (int mode = 0; mode <= 4; mode++) {
        printf("%s passes:\n", mode_name[mode]);
        spectra_internal_set_skinny(mode == 0);
        spectra_internal_set_panel(mode == 0 || mode >= 3);
        spectra_internal_set_fused(mode == 2);
        spectra_internal_set_panel_momentum(mode != 4);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 77 + i);
    }
    return test_finish("test_spectra_step");
}
