/* `spectra bench model`: median forward / backward time of a model preset on random
 * tokens, and forward+backward throughput in tokens/s. */
#include "cli.h"
#include "cli_flags.h"
#include "core/rng.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spectra/spectra.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: spectra bench model [--preset NAME] [--batch B] [--seq T] [--iters N]\n"
            "                           [--vocab V] [--seed S]\n"
            "  --preset  tiny | small | llama-124m | qwen3-0.6b | llama3-8b (default llama-124m)\n"
            "  --batch   sequences per step (default 4)\n"
            "  --seq     tokens per sequence (default 64)\n"
            "  --iters   timed iterations after one warm-up (default 5)\n"
            "  --vocab   override the preset's vocab_size\n"
            "Threads: OMP_NUM_THREADS. Unset OPENBLAS_CORETYPE to let OpenBLAS pick its\n"
            "fastest kernels for this CPU.\n");
}

int cmd_bench_model(int argc, char **argv) {
    const char *preset = "llama-124m";
    int B = 4, T = 64, iters = 5, vocab = 0;
    uint64_t seed = 1;
    const cli_flag flags[] = {
        {CLI_FLAG("--preset", CLI_STRING, &preset)},
        {CLI_FLAG("--batch", CLI_INT, &B), .lo = 1, .hi = 1000000000},
        {CLI_FLAG("--seq", CLI_INT, &T), .lo = 1, .hi = 1000000000},
        {CLI_FLAG("--iters", CLI_INT, &iters), .lo = 1, .hi = 1000000000},
        {CLI_FLAG("--vocab", CLI_INT, &vocab), .lo = 1, .hi = 1000000000},
        {CLI_FLAG("--seed", CLI_U64, &seed), .lo = 0}, /* a seed of 0 is a seed */
    };
    int prc = cli_parse_flags("bench model", argc, argv, 1, flags, sizeof flags / sizeof flags[0], NULL, NULL, NULL);
    if (prc == CLI_FLAGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    spectra_model_config cfg;
    if (spectra_model_config_from_preset(preset, &cfg)) {
        fprintf(stderr, "bench model: %s\n", spectra_last_error());
        return 2;
    }
    if (vocab) cfg.vocab_size = vocab;
    /* Refuse shapes whose parameters + gradients alone exceed free memory (llama3-8b
     * needs 32 GB) rather than being killed by the OOM killer while zero-filling. */
    size_t n_params = spectra_model_config_num_params(&cfg);
    double need_gb = (double)n_params * 2 * sizeof(float) / 1e9;
    double have_gb = cli_available_memory_bytes() / 1e9;
    if (!n_params) {
        fprintf(stderr, "bench model: %s\n", spectra_last_error());
        return 2;
    }
    if (have_gb > 0 && need_gb > 0.9 * have_gb) {
        fprintf(stderr,
                "bench model: %s has %zu parameters: %.1f GB for parameters and gradients, "
                "but only %.1f GB of memory is free\n",
                preset, n_params, need_gb, have_gb);
        return 1;
    }
    spectra_model *m = NULL;
    double t0 = now_s();
    if (spectra_model_create(&m, &cfg, seed) || spectra_model_reserve(m, B, T)) {
        fprintf(stderr, "bench model: %s\n", spectra_last_error());
        spectra_model_destroy(m);
        return 1;
    }
    double t_create = now_s() - t0;
    size_t N = (size_t)B * T;
    int32_t *tok = malloc((N + 1) * sizeof *tok);
    double *tf = malloc((size_t)iters * sizeof *tf), *tb = malloc((size_t)iters * sizeof *tb);
    double *tz = malloc((size_t)iters * sizeof *tz);
    if (!tok || !tf || !tb || !tz) {
        fprintf(stderr, "bench model: out of memory\n");
        spectra_model_destroy(m);
        free(tok), free(tf), free(tb), free(tz);
        return 1;
    }
    spectra_rng rng;
    spectra_rng_seed(&rng, seed);
    for (size_t i = 0; i <= N; i++) tok[i] = (int32_t)(spectra_rng_next(&rng) % (uint64_t)cfg.vocab_size);

    printf("model %s: %zu parameters (%.1f M), vocab %d, d %d, layers %d, heads %d/%d, "
           "head_dim %d, d_ff %d, %s head\n",
           preset, spectra_model_num_params(m), spectra_model_num_params(m) / 1e6, cfg.vocab_size,
           cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads,
           cfg.head_dim ? cfg.head_dim : cfg.d_model / cfg.n_heads, cfg.d_ff,
           cfg.tied_embeddings ? "tied" : "untied");
    printf("batch %d x seq %d = %zu tokens; activations %.1f MiB; create+reserve %.2f s\n", B, T,
           N, spectra_model_activation_bytes(m) / 1048576.0, t_create);
    int rc = 0;
    float loss = 0.0f;
    for (int it = -1; it < iters; it++) { /* it = -1: warm-up */
        double a = now_s();
        spectra_model_zero_grad(m);
        double b = now_s();
        if (spectra_model_forward(m, tok, tok + 1, NULL, B, T, &loss)) { rc = 1; break; }
        double c = now_s();
        if (spectra_model_backward(m)) { rc = 1; break; }
        double e = now_s();
        if (it >= 0) {
            tz[it] = b - a;
            tf[it] = c - b;
            tb[it] = e - c;
        }
    }
    if (rc) {
        fprintf(stderr, "bench model: %s\n", spectra_last_error());
    } else {
        double mf = median(tf, iters), mb = median(tb, iters), mz = median(tz, iters);
        printf("loss at init %.4f\n", (double)loss);
        printf("forward  median %8.1f ms\n", mf * 1e3);
        printf("backward median %8.1f ms\n", mb * 1e3);
        printf("zero_grad median %7.1f ms\n", mz * 1e3);
        printf("forward+backward %8.1f ms  -> %.1f tokens/s (%d iterations)\n", (mf + mb) * 1e3,
               (double)N / (mf + mb), iters);
    }
    spectra_model_destroy(m);
    free(tok), free(tf), free(tb), free(tz);
    return rc;
}
