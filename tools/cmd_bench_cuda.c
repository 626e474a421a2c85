/* `spectra bench optim --device cuda`: the SPEC §7 protocol on the GPU (docs/GPU.md).
 * For each shape and optimizer: median/min/max step time by CUDA events after warm-up, the
 * traffic model's bytes and achieved GB/s against this device's measured copy bandwidth
 * (read + write), the FLOP model and achieved GFLOP/s, and state bytes. Ratios against
 * AdamW and Muon are measured in the same run. Works only in a build with CUDA and on a
 * machine with a device; otherwise it says so and exits 1. */
#include "bench_util.h"
#include "cli.h"
#include "cli_flags.h"
#include "spectra/cuda.h"
#include "spectra/spectra.h"

#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gcfg {
    char label[32];
    spectra_algo algo;
    int T;
    int muon_bf16;
} gcfg;

static void gusage(FILE *f) {
    fprintf(f, "usage: spectra bench optim --device cuda [options]\n"
               "  --shapes LIST     RxC list (default 1024x3072,4096x4096,4096x14336,14336x4096)\n"
               "  --optims LIST     from spectra-tN, adamw, muon (fp32 Newton-Schulz), muon-bf16\n"
               "                    (default spectra-t1,spectra-t2,spectra-t4,spectra-t8,adamw,muon,muon-bf16)\n"
               "  --grad bf16|fp32  gradient dtype (default fp32)\n"
               "  --repeats N       timed steps (default 20); --warmup N untimed steps first (default 3)\n"
               "  --rank-ratio R    Spectra rank ratio (default 0.015)\n"
               "  --json            one JSON document on stdout\n");
}

static int gparse_shapes(size_t shapes[16][2], int *ns, const char *s) { return bench_parse_shapes(s, shapes, 16, ns); }

static int gparse_optims(gcfg *cfgs, int *nc, const char *s) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    *nc = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*nc == 16) return -1;
        gcfg *c = &cfgs[*nc];
        memset(c, 0, sizeof *c);
        c->T = 1;
        if (!strncmp(tok, "spectra-t", 9)) {
            char *end;
            long T = strtol(tok + 9, &end, 10);
            if (*end || T < 1 || T > 64) return -1;
            c->algo = SPECTRA_ALGO_SPECTRA;
            c->T = (int)T;
        } else if (!strcmp(tok, "adamw")) {
            c->algo = SPECTRA_ALGO_ADAMW;
        } else if (!strcmp(tok, "muon")) {
            c->algo = SPECTRA_ALGO_MUON;
        } else if (!strcmp(tok, "muon-bf16")) {
            c->algo = SPECTRA_ALGO_MUON;
            c->muon_bf16 = 1;
        } else {
            return -1;
        }
        snprintf(c->label, sizeof c->label, "%s", tok);
        (*nc)++;
    }
    return *nc ? 0 : -1;
}

/* Traffic and FLOP models (as the CPU bench; SPEC §1, §7). G is 2 bytes per element in bf16. */
static void gmodels(const gcfg *c, size_t m, size_t n, size_t rank, int gbf16, double *bytes, double *flops) {
    double mn = (double)m * (double)n, s = (double)(m < n ? m : n), L = (double)(m < n ? n : m);
    double g_saving = gbf16 ? 2.0 * mn : 0.0; /* G is read once in every model below */
    *bytes = 0.0;
    *flops = 0.0;
    switch (c->algo) {
    case SPECTRA_ALGO_SPECTRA:
        *bytes = (5.0 + 2.0 * c->T) * 4.0 * mn - g_saving;
        *flops = (4.0 * c->T + 2.0) * mn * (double)rank;
        break;
    case SPECTRA_ALGO_ADAMW:
        *bytes = 7.0 * 4.0 * mn - g_saving;
        *flops = 12.0 * mn;
        break;
    case SPECTRA_ALGO_MUON:
        *bytes = (3.0 + 5.0 * 3.0 + 3.0) * (c->muon_bf16 ? 2.0 : 4.0) * mn;
        *flops = 5.0 * (4.0 * s * s * L + 2.0 * s * s * s);
        break;
    default: break;
    }
}

int cmd_bench_optim_cuda(int argc, char **argv) {
    size_t shapes[16][2];
    int ns = 0, nc = 0, repeats = 20, warmup = 3, json = 0, gbf16 = 0;
    double rank_ratio = 0.015;
    gcfg cfgs[16];
    gparse_shapes(shapes, &ns, "1024x3072,4096x4096,4096x14336,14336x4096");
    gparse_optims(cfgs, &nc, "spectra-t1,spectra-t2,spectra-t4,spectra-t8,adamw,muon,muon-bf16");
    const char *shapes_arg = NULL, *optims_arg = NULL, *device = "cuda";
    const cli_flag flags[] = {
        {CLI_FLAG("--json", CLI_ON, &json)},
        {CLI_FLAG("--device", CLI_STRING, &device)}, /* cuda: dispatched on by the CPU bench */
        {CLI_FLAG("--shapes", CLI_STRING, &shapes_arg)},
        {CLI_FLAG("--optims", CLI_STRING, &optims_arg)},
        {CLI_FLAG("--grad", CLI_CHOICE, &gbf16), .choices = "fp32|bf16"},
        {CLI_FLAG("--repeats", CLI_INT, &repeats), .lo = 1, .hi = 100000},
        {CLI_FLAG("--warmup", CLI_INT, &warmup), .lo = 0, .hi = 100000},
        {CLI_FLAG("--rank-ratio", CLI_DOUBLE, &rank_ratio), .lo = 1e-9, .hi = 0.999999},
    };
    int prc = cli_parse_flags("bench optim", argc, argv, 1, flags, sizeof flags / sizeof flags[0], NULL, NULL, NULL);
    if (prc == CLI_FLAGS_HELP) {
        gusage(stdout);
        return 0;
    }
    if (prc) return prc;
    if (shapes_arg && gparse_shapes(shapes, &ns, shapes_arg)) {
        fprintf(stderr, "spectra bench optim: bad --shapes '%s'\n", shapes_arg);
        return 2;
    }
    if (optims_arg && gparse_optims(cfgs, &nc, optims_arg)) {
        fprintf(stderr, "spectra bench optim: bad --optims '%s' for --device cuda\n", optims_arg);
        return 2;
    }
    if (!spectra_cuda_available()) {
        fprintf(stderr, "spectra bench optim --device cuda: %s\n", spectra_last_error());
        return 1;
    }
    char dev[256];
    spectra_cuda_device_name(dev, sizeof dev);
    double copy_gbs = 0.0;
    if (spectra_cuda_copy_bandwidth((size_t)1 << 30, 10, &copy_gbs) != SPECTRA_OK) {
        fprintf(stderr, "spectra bench: %s\n", spectra_last_error());
        return 1;
    }
    if (json)
        printf("{\"device\": \"%s\", \"copy_gbs\": %.1f, \"grad\": \"%s\", \"results\": [", dev, copy_gbs, gbf16 ? "bf16" : "fp32");
    else
        printf("device %s; device copy bandwidth %.0f GB/s (read+write, best of 10 x 1 GiB); grad %s; %d timed steps after "
               "%d warm-up\n",
               dev, copy_gbs, gbf16 ? "bf16" : "fp32", repeats, warmup);
    int first = 1, rc = 0;
    for (int s = 0; s < ns && !rc; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], mn = m * n;
        float *h = malloc(mn * sizeof *h);
        float *dW = NULL;
        void *dG = NULL;
        if (!h || spectra_cuda_malloc((void **)&dW, mn * 4) || spectra_cuda_malloc(&dG, mn * 4)) {
            fprintf(stderr, "spectra bench: out of memory for %zux%zu\n", m, n);
            free(h);
            spectra_cuda_free(dW);
            return 1;
        }
        spectra_rng rng;
        spectra_rng_seed(&rng, 3);
        spectra_rng_fill_normal(&rng, h, mn, 0.02f);
        spectra_cuda_memcpy_h2d(dW, h, mn * 4);
        spectra_rng_fill_normal(&rng, h, mn, 1.0f);
        if (gbf16) spectra_cuda_upload_bf16(dG, h, mn);
        else spectra_cuda_memcpy_h2d(dG, h, mn * 4);
        free(h);
        if (!json)
            printf("\n%zu x %zu\n%-12s %10s %10s %10s %9s %8s %9s %9s %8s %10s\n", m, n, "optimizer", "median ms", "min ms",
                   "max ms", "GB model", "GB/s", "% copy BW", "GFLOP", "GFLOP/s", "state MB");
        double t_sp1 = 0, t_adamw = 0, t_muon = 0, t_muon_bf = 0;
        for (int c = 0; c < nc && !rc; c++) {
            const gcfg *cfg = &cfgs[c];
            spectra_cuda_optim *opt = NULL;
            spectra_hparams hp = spectra_hparams_default(cfg->algo);
            hp.power_iters = cfg->T;
            hp.rank_ratio = rank_ratio;
            int g = 0;
            double *ts = malloc((size_t)(repeats + warmup) * sizeof *ts);
            if (!ts || spectra_cuda_optim_create(&opt, 1) || spectra_cuda_optim_add_group(opt, &hp, &g) ||
                spectra_cuda_optim_set_muon_bf16(opt, g, cfg->muon_bf16) ||
                spectra_cuda_optim_add_param(opt, g, "w", dW, dG, gbf16 ? SPECTRA_CUDA_BF16 : SPECTRA_CUDA_FP32, m, n) ||
                spectra_cuda_optim_time_steps(opt, repeats + warmup, ts)) {
                fprintf(stderr, "spectra bench (%s): %s\n", cfg->label, opt ? spectra_cuda_optim_last_error(opt) : spectra_last_error());
                rc = 1;
            } else {
                for (int i = 0; i < repeats; i++) ts[i] = ts[warmup + i] * 1e-3; /* seconds */
                bench_stats st = bench_summarize(ts, repeats);
                size_t k = (size_t)floor(rank_ratio * (double)(m < n ? m : n) + 0.5);
                if (k < 1) k = 1;
                double bytes, flops;
                gmodels(cfg, m, n, cfg->algo == SPECTRA_ALGO_SPECTRA ? k : 0, gbf16, &bytes, &flops);
                double gbs = bytes / st.median / 1e9;
                double state_mb = (double)spectra_cuda_optim_state_bytes(opt) / 1e6;
                if (cfg->algo == SPECTRA_ALGO_SPECTRA && cfg->T == 1) t_sp1 = st.median;
                if (cfg->algo == SPECTRA_ALGO_ADAMW) t_adamw = st.median;
                if (cfg->algo == SPECTRA_ALGO_MUON && !cfg->muon_bf16) t_muon = st.median;
                if (cfg->algo == SPECTRA_ALGO_MUON && cfg->muon_bf16) t_muon_bf = st.median;
                if (json) {
                    printf("%s\n  {\"rows\": %zu, \"cols\": %zu, \"optimizer\": \"%s\", \"median_s\": %.6g, \"min_s\": %.6g, "
                           "\"max_s\": %.6g, \"bytes_model\": %.6g, \"achieved_gbs\": %.4g, \"copy_bw_fraction\": %.4f, "
                           "\"flops_model\": %.6g, \"achieved_gflops\": %.4g, \"state_bytes\": %.0f}",
                           first ? "" : ",", m, n, cfg->label, st.median, st.min, st.max, bytes, gbs, gbs / copy_gbs, flops,
                           flops / st.median / 1e9, state_mb * 1e6);
                    first = 0;
                } else {
                    printf("%-12s %10.3f %10.3f %10.3f %9.3f %8.0f %8.1f%% %9.2f %9.0f %8.1f\n", cfg->label, 1e3 * st.median,
                           1e3 * st.min, 1e3 * st.max, bytes / 1e9, gbs, 100.0 * gbs / copy_gbs, flops / 1e9,
                           flops / st.median / 1e9, state_mb);
                }
            }
            free(ts);
            spectra_cuda_optim_destroy(opt);
        }
        if (!json) {
            if (t_sp1 > 0 && t_adamw > 0) printf("ratio spectra-t1 / adamw = %.3f (target <= 1)\n", t_sp1 / t_adamw);
            if (t_sp1 > 0 && t_muon > 0) printf("ratio muon(fp32) / spectra-t1 = %.1f\n", t_muon / t_sp1);
            if (t_sp1 > 0 && t_muon_bf > 0) printf("ratio muon(bf16) / spectra-t1 = %.1f\n", t_muon_bf / t_sp1);
        }
        spectra_cuda_free(dW);
        spectra_cuda_free(dG);
    }
    if (json) printf("\n]}\n");
    return rc;
}
