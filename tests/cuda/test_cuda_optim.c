/* The CUDA optimizers against the CPU library on the same inputs (docs/GPU.md).
 *
 * Each case registers one matrix in a CPU optimizer and in a CUDA optimizer with the same
 * seed, name and hyperparameters, feeds both the same gradient sequence and compares the
 * weights (and state) after every step. Tolerances:
 *  - AdamW: bit-for-bit. The kernel performs the CPU's operations in the CPU's order with
 *    correctly rounded fp32 ops (+, *, /, sqrtf, fmaf where torch fuses; nvcc --fmad=false),
 *    and the scalars are formed in double on the host by the same code.
 *  - Spectra: the update differs only by the summation order of fp32 gemms and the QR
 *    method (device CholeskyQR2 vs the CPU's Householder on short panels: the same U up to
 *    column signs, which cancel in U diag(s) Vᵀ). On matrices with a planted gap after
 *    index k the subspace is well conditioned, so the update agrees to ~1e-5 relative; we
 *    allow 1e-3 of the update's norm. A wrong sign, subspace or σ_tail rule is O(1).
 *  - Muon fp32: fp32 gemm rounding through 5 Newton–Schulz steps: 1e-3 relative.
 *    Muon bf16 (torch's precision) against the fp32 CPU: each bf16 rounding is ~2e-3
 *    relative and NS amplifies errors in the small singular directions (slope a = 3.4 near
 *    0), so a few 1e-2 is expected; we allow 0.1. A transposition, sign or coefficient
 *    error gives a difference of order 1. The printed figures tell the device session
 *    how far to tighten.
 * Without a device the program exits 77 (SKIP) unless SPECTRA_REQUIRE_GPU=1. */
#include "spectra/cuda.h"
#include "spectra/spectra.h"
#include "optim/test_mats.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct tcase {
    const char *label;
    spectra_hparams hp;
    size_t m, n;
    int bf16_grad;   /* gradients given to the GPU as bf16 (the CPU gets the same rounded values) */
    int muon_bf16;   /* Muon Newton–Schulz in bf16 */
    int steps;
    int zero_grad;   /* all-zero gradients (zero-column guard, QR fallback) */
    double tol;      /* on ‖ΔW_gpu − ΔW_cpu‖ / ‖ΔW_cpu‖ per step; 0 = bit-for-bit */
} tcase;

static float bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even (finite inputs) */
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

/* Gradient of step t: one fixed planted spectrum with a gap after k (the spike subspace
 * persists across steps, as in real gradients, so the momentum keeps a well-separated top-k
 * subspace) plus fresh noise at each step; deterministic in t. */
static void make_grad(const tcase *c, int t, size_t k, float *G) {
    size_t m = c->m, n = c->n, mn = m * n, r = m < n ? m : n;
    if (c->zero_grad) {
        memset(G, 0, mn * sizeof *G);
        return;
    }
    spectra_rng rng, noise;
    spectra_rng_seed(&rng, 1000u);
    spectra_rng_seed(&noise, 2000u + (uint64_t)t);
    double *sigma = malloc(r * sizeof *sigma), *X = malloc(mn * sizeof *X);
    for (size_t i = 0; i < r; i++)
        sigma[i] = i < k ? 10.0 - 5.0 * (double)i / (double)k : 0.1 + 0.1 * spectra_rng_uniform(&rng);
    tm_planted(&rng, m, n, sigma, X);
    for (size_t i = 0; i < mn; i++) G[i] = (float)(X[i] + 0.002 * spectra_rng_normal(&noise));
    if (c->bf16_grad)
        for (size_t i = 0; i < mn; i++) G[i] = bf16_round(G[i]);
    free(sigma);
    free(X);
}

static double rel_diff(const float *Wb, const float *Wc, const float *Wg, size_t n, double *max_abs) {
    double e = 0, d = 0;
    *max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        double dc = (double)Wc[i] - Wb[i], dg = (double)Wg[i] - Wb[i];
        e += (dg - dc) * (dg - dc);
        d += dc * dc;
        double a = fabs((double)Wg[i] - Wc[i]);
        if (a > *max_abs) *max_abs = a;
    }
    return d > 0 ? sqrt(e / d) : sqrt(e);
}

static void run_case(const tcase *c) {
    const size_t m = c->m, n = c->n, mn = m * n;
    const char *name = "layer.w";
    spectra_rng rng;
    spectra_rng_seed(&rng, 7);
    float *W0 = malloc(mn * sizeof *W0), *Wc = malloc(mn * sizeof *Wc), *Wg = malloc(mn * sizeof *Wg);
    float *Wprev = malloc(mn * sizeof *Wprev), *G = malloc(mn * sizeof *G);
    float *Sg = malloc(mn * sizeof *Sg);
    tm_gauss_float(&rng, W0, mn, 0.02);
    memcpy(Wc, W0, mn * sizeof *Wc);

    spectra_optim *cpu = NULL;
    spectra_cuda_optim *gpu = NULL;
    float *dW = NULL;
    void *dG = NULL;
    CHECK_OK(spectra_optim_create(&cpu, 42));
    CHECK_OK(spectra_cuda_optim_create(&gpu, 42));
    if (!cpu || !gpu) goto out;
    int gc = -1, gg = -1;
    CHECK_OK(spectra_optim_add_group(cpu, &c->hp, &gc));
    CHECK_OK(spectra_cuda_optim_add_group(gpu, &c->hp, &gg));
    if (c->muon_bf16) CHECK_OK(spectra_cuda_optim_set_muon_bf16(gpu, gg, 1));

    CHECK_OK(spectra_cuda_malloc((void **)&dW, mn * sizeof(float)));
    CHECK_OK(spectra_cuda_malloc(&dG, mn * sizeof(float)));
    CHECK_OK(spectra_cuda_memcpy_h2d(dW, W0, mn * sizeof(float)));
    CHECK_OK(spectra_optim_add_param(cpu, gc, name, Wc, G, m, n));
    CHECK_OK(spectra_cuda_optim_add_param(gpu, gg, name, dW, dG, c->bf16_grad ? SPECTRA_CUDA_BF16 : SPECTRA_CUDA_FP32, m, n));
    spectra_param_info info;
    CHECK_OK(spectra_optim_param_info(cpu, 0, &info));
    size_t k = info.rank ? info.rank : 1;

    for (int t = 0; t < c->steps; t++) {
        make_grad(c, t, k, G);
        if (c->bf16_grad) CHECK_OK(spectra_cuda_upload_bf16(dG, G, mn));
        else CHECK_OK(spectra_cuda_memcpy_h2d(dG, G, mn * sizeof(float)));
        memcpy(Wprev, Wc, mn * sizeof *Wprev);
        CHECK_OK(spectra_optim_step(cpu));
        CHECK_OK(spectra_cuda_optim_step(gpu));
        CHECK_OK(spectra_cuda_memcpy_d2h(Wg, dW, mn * sizeof(float)));
        double max_abs, rd = rel_diff(Wprev, Wc, Wg, mn, &max_abs);
        int finite = 1;
        for (size_t i = 0; i < mn; i++) finite &= isfinite(Wg[i]) != 0;
        CHECK_MSG(finite, "%s step %d: non-finite GPU weights", c->label, t);
        if (c->tol == 0)
            CHECK_MSG(max_abs == 0.0, "%s step %d: not bit-for-bit, max |diff| %.3g", c->label, t, max_abs);
        else
            CHECK_MSG(rd <= c->tol, "%s step %d: relative update difference %.3g > %.3g (max |diff| %.3g)", c->label, t, rd,
                      c->tol, max_abs);
        printf("  %-28s step %d: rel diff %.3g, max |diff| %.3g\n", c->label, t, rd, max_abs);
        if (c->hp.algo == SPECTRA_ALGO_SPECTRA) {
            spectra_spike_diag dc, dg;
            CHECK_OK(spectra_optim_spike_diag(cpu, 0, &dc));
            CHECK_OK(spectra_cuda_optim_spike_diag(gpu, 0, &dg));
            double tol = c->zero_grad ? 1e-12 : 1e-3;
            CHECK_NEAR(dg.lr_eff, dc.lr_eff, tol * fabs(dc.lr_eff) + 1e-12);
            CHECK_NEAR(dg.sigma_tail, dc.sigma_tail, tol * dc.sigma_tail + 1e-12);
            CHECK(dg.bootstrapped == dc.bootstrapped);
        }
    }
    /* Momentum / exp_avg state. */
    const char *buf0 = c->hp.algo == SPECTRA_ALGO_ADAMW ? "exp_avg" : "momentum";
    const float *Sc = NULL;
    size_t sr = 0, sc = 0;
    CHECK_OK(spectra_optim_get_state(cpu, name, buf0, &Sc, &sr, &sc));
    CHECK_OK(spectra_cuda_optim_get_state(gpu, name, buf0, Sg, &sr, &sc));
    if (Sc) {
        double e = 0, d = 0;
        for (size_t i = 0; i < mn; i++) {
            e += ((double)Sg[i] - Sc[i]) * ((double)Sg[i] - Sc[i]);
            d += (double)Sc[i] * Sc[i];
        }
        double lim = c->tol == 0 ? 0.0 : 1e-6;
        CHECK_MSG(sqrt(e) <= lim * sqrt(d), "%s: state '%s' differs (%.3g relative)", c->label, buf0, d > 0 ? sqrt(e / d) : sqrt(e));
    }
    CHECK(spectra_cuda_optim_state_bytes(gpu) == spectra_optim_state_bytes(cpu));

out:
    spectra_cuda_free(dW);
    spectra_cuda_free(dG);
    spectra_cuda_optim_destroy(gpu);
    spectra_optim_destroy(cpu);
    free(W0);
    free(Wc);
    free(Wg);
    free(Wprev);
    free(G);
    free(Sg);
}

/* A GPU state file loads into a fresh GPU optimizer and into a CPU optimizer. */
static void test_save_load(void) {
    const size_t m = 48, n = 80, mn = m * n;
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    hp.rank_ratio = 0.1;
    float *h = malloc(mn * sizeof *h), *s1 = malloc(mn * sizeof *s1);
    spectra_rng rng;
    spectra_rng_seed(&rng, 3);
    tm_gauss_float(&rng, h, mn, 1.0);
    float *dW = NULL, *dG = NULL;
    CHECK_OK(spectra_cuda_malloc((void **)&dW, mn * 4));
    CHECK_OK(spectra_cuda_malloc((void **)&dG, mn * 4));
    CHECK_OK(spectra_cuda_memcpy_h2d(dW, h, mn * 4));
    CHECK_OK(spectra_cuda_memcpy_h2d(dG, h, mn * 4));
    spectra_cuda_optim *a = NULL, *b = NULL;
    CHECK_OK(spectra_cuda_optim_create(&a, 5));
    CHECK_OK(spectra_cuda_optim_create(&b, 5));
    int g;
    CHECK_OK(spectra_cuda_optim_add_group(a, &hp, &g));
    CHECK_OK(spectra_cuda_optim_add_group(b, &hp, &g));
    CHECK_OK(spectra_cuda_optim_add_param(a, 0, "w", dW, dG, SPECTRA_CUDA_FP32, m, n));
    CHECK_OK(spectra_cuda_optim_add_param(b, 0, "w", dW, dG, SPECTRA_CUDA_FP32, m, n));
    CHECK_OK(spectra_cuda_optim_step(a));
    CHECK_OK(spectra_cuda_optim_step(a));
    const char *path = "test_cuda_state.tmp.bin";
    CHECK_OK(spectra_cuda_optim_save(a, path));
    CHECK_OK(spectra_cuda_optim_load(b, path));
    CHECK_OK(spectra_cuda_optim_get_state(a, "w", "momentum", s1, NULL, NULL));
    CHECK_OK(spectra_cuda_optim_get_state(b, "w", "momentum", h, NULL, NULL));
    CHECK(memcmp(s1, h, mn * 4) == 0);
    /* The CPU format: a CPU optimizer with the same layout loads the file. */
    spectra_optim *cpu = NULL;
    float *Wc = calloc(mn, 4), *Gc = calloc(mn, 4);
    CHECK_OK(spectra_optim_create(&cpu, 5));
    CHECK_OK(spectra_optim_add_group(cpu, &hp, &g));
    CHECK_OK(spectra_optim_add_param(cpu, 0, "w", Wc, Gc, m, n));
    CHECK_OK(spectra_optim_load(cpu, path));
    const float *Sc = NULL;
    CHECK_OK(spectra_optim_get_state(cpu, "w", "momentum", &Sc, NULL, NULL));
    CHECK(Sc && memcmp(Sc, s1, mn * 4) == 0);
    spectra_param_info info;
    CHECK_OK(spectra_optim_param_info(cpu, 0, &info));
    CHECK(info.step == 2);
    remove(path);
    spectra_optim_destroy(cpu);
    spectra_cuda_optim_destroy(a);
    spectra_cuda_optim_destroy(b);
    spectra_cuda_free(dW);
    spectra_cuda_free(dG);
    free(h);
    free(s1);
    free(Wc);
    free(Gc);
}

int main(void) {
    if (!spectra_cuda_available()) {
        const char *req = getenv("SPECTRA_REQUIRE_GPU");
        if (req && !strcmp(req, "1")) {
            fprintf(stderr, "test_cuda_optim: SPECTRA_REQUIRE_GPU=1 but no CUDA device (or built without CUDA)\n");
            return 1;
        }
        printf("test_cuda_optim: no CUDA device, SKIP\n");
        return 77;
    }
    char dev[256];
    spectra_cuda_device_name(dev, sizeof dev);
    printf("device: %s\n", dev);

    tcase cases[16];
    int nc = 0;
    spectra_hparams ad = spectra_hparams_default(SPECTRA_ALGO_ADAMW);
    cases[nc++] = (tcase){"adamw 64x96", ad, 64, 96, 0, 0, 4, 0, 0.0};
    cases[nc++] = (tcase){"adamw 37x53 (scalar tail)", ad, 37, 53, 0, 0, 3, 0, 0.0};
    cases[nc++] = (tcase){"adamw 64x96 bf16 grad", ad, 64, 96, 1, 0, 3, 0, 0.0};

    spectra_hparams sp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    sp.rank_ratio = 0.05;
    cases[nc++] = (tcase){"spectra 96x160", sp, 96, 160, 0, 0, 4, 0, 1e-3};
    cases[nc++] = (tcase){"spectra 200x120", sp, 200, 120, 0, 0, 4, 0, 1e-3};
    cases[nc++] = (tcase){"spectra 96x160 bf16 grad", sp, 96, 160, 1, 0, 3, 0, 1e-3};
    cases[nc++] = (tcase){"spectra zero grad", sp, 64, 64, 0, 0, 3, 1, 1e-6};
    spectra_hparams spn = sp;
    spn.nesterov = 1;
    spn.power_iters = 2;
    spn.weight_decay = 0.1;
    cases[nc++] = (tcase){"spectra nesterov T=2 wd", spn, 120, 96, 0, 0, 4, 0, 1e-3};
    cases[nc++] = (tcase){"spectra nesterov bf16", spn, 120, 96, 1, 0, 3, 0, 1e-3};

    spectra_hparams mu = spectra_hparams_default(SPECTRA_ALGO_MUON);
    mu.weight_decay = 0.01;
    cases[nc++] = (tcase){"muon fp32 64x96", mu, 64, 96, 0, 0, 3, 0, 1e-3};
    cases[nc++] = (tcase){"muon fp32 96x64 (tall)", mu, 96, 64, 0, 0, 3, 0, 1e-3};
    cases[nc++] = (tcase){"muon bf16 64x96", mu, 64, 96, 0, 1, 3, 0, 0.1};
    cases[nc++] = (tcase){"muon bf16 96x64 bf16 grad", mu, 96, 64, 1, 1, 3, 0, 0.1};

    for (int i = 0; i < nc; i++) run_case(&cases[i]);
    /* Several chunks with a ragged last one (the fused passes' chunk loop). */
    setenv("SPECTRA_CUDA_CHUNK_ROWS", "7", 1);
    run_case(&cases[3]);
    run_case(&cases[7]);
    unsetenv("SPECTRA_CUDA_CHUNK_ROWS");
    test_save_load();
    return test_finish("test_cuda_optim");
}
