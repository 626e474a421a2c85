/* `spectra demo`: a synthetic least-squares problem whose gradients are spiked the way an
 * LM's are (a few input directions carry most of the energy, like frequent tokens), solved
 * with Spectra, AdamW and Muon from the same start. Prints the losses side by side and what
 * Spectra saw: the spike's share of the momentum energy, σ1/σ_tail, the effective rate. */
#include "cli.h"
#include "cli_flags.h"
#include "train_cli.h"
#include "spectra/spectra.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

typedef struct {
    int m, n, N, steps, every;
    double spike;
    uint64_t seed;
} demo_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: spectra demo [--steps N] [--rows M] [--cols N] [--samples S] [--spike A] [--seed S] [--every K]\n"
            "  Fits W (M x N) in min_W |XW - Y|^2/2S where 4 input directions are A times larger than\n"
            "  the rest (a spike-tail gradient spectrum), with Spectra, AdamW and Muon at their default\n"
            "  settings and a cosine learning-rate decay to 10%%.\n"
            "  defaults: --steps 300 --rows 256 --cols 512 --samples 2048 --spike 8 --seed 1 --every 30\n");
}

/* loss and gradient G = Xᵀ(XW − Y)/S; R is an S x n scratch. */
static double loss_grad(const demo_opts *o, const float *X, const float *Y, const float *W, float *G, float *R) {
    memcpy(R, Y, (size_t)o->N * o->n * sizeof *R);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o->N, o->n, o->m, 1.0f, X, o->m, W, o->n, -1.0f, R, o->n);
    double l = 0;
    for (size_t i = 0; i < (size_t)o->N * o->n; i++) l += (double)R[i] * R[i];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o->m, o->n, o->N, 1.0f / (float)o->N, X, o->m, R, o->n, 0.0f, G,
                o->n);
    return 0.5 * l / o->N;
}

int cmd_demo(int argc, char **argv) {
    demo_opts o = {256, 512, 2048, 300, 30, 8.0, 1};
    const cli_flag flags[] = {
        {CLI_FLAG("--steps", CLI_INT, &o.steps), .lo = 1, .hi = 1000000},
        {CLI_FLAG("--rows", CLI_INT, &o.m), .lo = 8, .hi = 8192},
        {CLI_FLAG("--cols", CLI_INT, &o.n), .lo = 8, .hi = 8192},
        {CLI_FLAG("--samples", CLI_INT, &o.N), .lo = 16, .hi = 1 << 20},
        {CLI_FLAG("--every", CLI_INT, &o.every), .lo = 1, .hi = 1000000},
        {CLI_FLAG("--spike", CLI_DOUBLE, &o.spike), .lo = 1, .hi = 1000},
        {CLI_FLAG("--seed", CLI_U64, &o.seed), .lo = 0},
    };
    int prc = cli_parse_flags("demo", argc, argv, 1, flags, sizeof flags / sizeof flags[0], NULL, NULL, NULL);
    if (prc == CLI_FLAGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    const size_t mn = (size_t)o.m * o.n;
    float *X = malloc((size_t)o.N * o.m * sizeof *X), *Y = malloc((size_t)o.N * o.n * sizeof *Y);
    float *Wstar = malloc(mn * sizeof *Wstar), *R = malloc((size_t)o.N * o.n * sizeof *R);
    float *W[3], *G[3];
    for (int j = 0; j < 3; j++) {
        W[j] = calloc(mn, sizeof(float));
        G[j] = calloc(mn, sizeof(float));
    }
    if (!X || !Y || !Wstar || !R || !W[0] || !W[1] || !W[2] || !G[0] || !G[1] || !G[2]) {
        fprintf(stderr, "spectra demo: out of memory\n");
        return 1;
    }
    /* Inputs: 4 dominant directions (scale 30) over an isotropic tail, like frequent tokens. */
    spectra_rng rng;
    spectra_rng_seed(&rng, o.seed);
    for (size_t i = 0; i < (size_t)o.N * o.m; i++) X[i] = (float)spectra_rng_normal(&rng);
    /* Amplify 4 random orthonormal directions q_d (not coordinate axes: LM gradient spikes
     * are not aligned with any parameter coordinate): x <- x + (A-1) sum_d (x.q_d) q_d. */
    double *q = calloc((size_t)4 * o.m, sizeof *q);
    for (int d = 0; d < 4; d++) {
        double *qd = q + (size_t)d * o.m;
        for (int i = 0; i < o.m; i++) qd[i] = spectra_rng_normal(&rng);
        for (int e = 0; e < d; e++) {
            double dot = 0;
            for (int i = 0; i < o.m; i++) dot += qd[i] * q[(size_t)e * o.m + i];
            for (int i = 0; i < o.m; i++) qd[i] -= dot * q[(size_t)e * o.m + i];
        }
        double nrm = 0;
        for (int i = 0; i < o.m; i++) nrm += qd[i] * qd[i];
        for (int i = 0; i < o.m; i++) qd[i] /= sqrt(nrm);
    }
    for (int s = 0; s < o.N; s++) {
        float *x = X + (size_t)s * o.m;
        for (int d = 0; d < 4; d++) {
            const double *qd = q + (size_t)d * o.m;
            double dot = 0;
            for (int i = 0; i < o.m; i++) dot += x[i] * qd[i];
            for (int i = 0; i < o.m; i++) x[i] += (float)((o.spike - 1.0) * dot * qd[i]);
        }
    }
    free(q);
    spectra_rng_fill_normal(&rng, Wstar, mn, (float)(1.0 / sqrt((double)o.m)));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, o.N, o.n, o.m, 1.0f, X, o.m, Wstar, o.n, 0.0f, Y, o.n);
    for (size_t i = 0; i < (size_t)o.N * o.n; i++) Y[i] += 0.1f * (float)spectra_rng_normal(&rng);

    const spectra_algo algos[3] = {SPECTRA_ALGO_SPECTRA, SPECTRA_ALGO_ADAMW, SPECTRA_ALGO_MUON};
    spectra_optim *opt[3];
    for (int j = 0; j < 3; j++) {
        spectra_hparams hp = spectra_hparams_default(algos[j]);
        hp.weight_decay = 0.0;
        if (algos[j] == SPECTRA_ALGO_ADAMW) hp.lr = 2e-3;
        int g;
        if (spectra_optim_create(&opt[j], o.seed) || spectra_optim_add_group(opt[j], &hp, &g) ||
            spectra_optim_add_param(opt[j], g, "W", W[j], G[j], (size_t)o.m, (size_t)o.n)) {
            fprintf(stderr, "spectra demo: %s\n", spectra_last_error());
            return 1;
        }
    }
    spectra_param_info pi;
    spectra_optim_param_info(opt[0], 0, &pi);
    double l0 = loss_grad(&o, X, Y, W[0], G[0], R);
    printf("spectra demo: W %d x %d, %d samples, 4 input directions %gx larger than the rest\n", o.m, o.n, o.N, o.spike);
    printf("Spectra: k = %zu (rank_ratio 0.015), state %zu bytes vs AdamW %zu (%.1f%% less)\n", pi.rank, pi.state_bytes,
           8 * mn, 100.0 * (1.0 - (double)pi.state_bytes / (8.0 * mn)));
    printf("initial loss %.4f\n\n", l0);
    printf("%6s  %12s %12s %12s   %s\n", "step", "spectra", "adamw", "muon", "spectra: spike energy  s1/sigma_tail  lr_eff");
    double loss[3] = {l0, l0, l0};
    double base_lr[3];
    for (int j = 0; j < 3; j++) {
        spectra_hparams hp;
        spectra_optim_get_hparams(opt[j], 0, &hp);
        base_lr[j] = hp.lr;
    }
    for (int s = 1; s <= o.steps; s++) {
        double frac = 0.1 + 0.9 * 0.5 * (1.0 + cos(M_PI * (double)(s - 1) / (double)o.steps));
        for (int j = 0; j < 3; j++) {
            spectra_optim_set_lr(opt[j], 0, base_lr[j] * frac);
            loss[j] = loss_grad(&o, X, Y, W[j], G[j], R);
            if (spectra_optim_step(opt[j]) != SPECTRA_OK) {
                fprintf(stderr, "spectra demo: %s step failed: %s\n", spectra_algo_name(algos[j]),
                        spectra_optim_last_error(opt[j]));
                return 1;
            }
        }
        if (s % o.every == 0 || s == 1 || s == o.steps) {
            spectra_spike_diag d;
            spectra_optim_spike_diag(opt[0], 0, &d);
            printf("%6d  %12.5f %12.5f %12.5f   %12.1f%%  %13.1f  %8.2e\n", s, loss[0], loss[1], loss[2],
                   100.0 * d.spike_energy, d.sigma_tail > 0 ? d.s[0] / d.sigma_tail : 0.0, d.lr_eff);
        }
    }
    for (int j = 0; j < 3; j++) loss[j] = loss_grad(&o, X, Y, W[j], G[j], R);
    printf("\nfinal loss: spectra %.5f, adamw %.5f, muon %.5f (noise floor ~%.4f)\n", loss[0], loss[1], loss[2],
           0.5 * 0.01 * o.n);
    for (int j = 0; j < 3; j++) {
        spectra_optim_destroy(opt[j]);
        free(W[j]);
        free(G[j]);
    }
    free(X);
    free(Y);
    free(Wstar);
    free(R);
    return 0;
}
