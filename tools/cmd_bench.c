/* `spectra bench optim`: the optimizer benchmark protocol of SPEC §7. For each shape and each
 * optimizer: median/min/max step time after warm-up, the traffic model's bytes and achieved
 * GB/s, the FLOP model and achieved GFLOP/s, state bytes, and the floor
 * max(FLOPs / sgemm rate, bytes / triad bandwidth) with the step's distance from it — all
 * against this machine's STREAM triad and sgemm throughput measured by the same command.
 * Two floors: with the square sgemm rate (4096³, "x of floor": what the FLOPs would cost at
 * the machine's best gemm speed) and with the rate of the step's own panel products ("x
 * panel": what the products reach at those thin shapes as the step runs them — skinny or
 * panel kernels, or sgemm — so the rest is the step's overhead); and for Spectra a third,
 * "x sgemm@k", with OpenBLAS's own rate at the step's three product shapes (plain cblas_sgemm
 * at exactly k columns: the independent answer to "how fast does this machine's sgemm do
 * these products"). After the timed steps, a few
 * "paired" steps each follow a fresh measurement of the reference (sgemm, or triad for the
 * elementwise optimizers), and their ratios to it are the figures to quote on a noisy host.
 * Last, pairs of steps back to back give the same-minute ratios Spectra/AdamW and
 * Muon/Spectra (run_pairs). */
#include "bench_util.h"
#include "cli.h"
#include "cli_flags.h"
#include "spectra/spectra.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "linalg/linalg.h"
#include "optim/optim_internal.h"
#include "train_cli.h"

#include <unistd.h>

typedef struct optim_cfg {
    char label[32];
    spectra_algo algo;
    int T;
} optim_cfg;

typedef struct bench_opts {
    size_t shapes[16][2];
    int n_shapes;
    optim_cfg cfgs[16];
    int n_cfgs;
    int repeats, warmup, json, check_finite;
    int paired; /* steps timed beside a reference measurement, after the timed ones */
    int pairs;  /* back-to-back step pairs for the same-minute optimizer ratios */
    double rank_ratio;
} bench_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: spectra bench optim [options]\n"
            "  --shapes LIST     comma-separated RxC (default 1024x3072,4096x4096,4096x14336,14336x4096:\n"
            "                    the Qwen3-0.6B and LLaMA3-8B hidden matrices)\n"
            "  --optims LIST     from spectra-t1, spectra-t2, spectra-t4, spectra-t8 (any T), adamw, muon,\n"
            "                    dion, sgd (default spectra-t1,spectra-t2,spectra-t4,spectra-t8,adamw,muon,dion)\n"
            "  --repeats N       timed steps per optimizer and shape (default 10; median, min, max)\n"
            "  --warmup N        untimed steps first (default 2; Spectra's first step is its SVD bootstrap)\n"
            "  --rank-ratio R    Spectra rank ratio (default 0.015)\n"
            "  --check-finite    include the library's NaN/Inf scan of the gradient (off: SPEC §7 times the step)\n"
            "  --fused           Spectra's fused row-block passes (momentum+P, update+rank-k) instead of the\n"
            "                    default full-matrix passes (SPECTRA_BLOCK_ROWS sets the block height)\n"
            "  --no-skinny       sgemm instead of the AVX-512 skinny kernels (k <= 12; A/B)\n"
            "  --no-panel        sgemm instead of the AVX-512 panel kernels (wider panels; A/B)\n"
            "  --separate-momentum  on the panel path, the momentum pass apart from the first P = MV\n"
            "                    (default: fused; the momentum phase then includes that product; A/B)\n"
            "  --paired N        then N more steps, each right after the reference is measured again\n"
            "                    (sgemm 4096^3, or STREAM triad for AdamW/SGD), and the median of their\n"
            "                    ratios to it: the ratio to quote on a noisy host (default 5; 0 = off)\n"
            "  --no-paired       the same as --paired 0\n"
            "  --pairs N         then N pairs of steps back to back (order alternating), spectra-t1 with\n"
            "                    adamw and with muon when listed: the same-minute ratios spectra-t1/adamw and\n"
            "                    muon/spectra-t1 as medians of per-pair ratios, which the host's drifts between\n"
            "                    one optimizer's steps and the next's do not move (default 5; 0 = off);\n"
            "                    for shapes that fit in the caches a pair's steps evict each other's data\n"
            "  --json            one JSON document on stdout instead of tables\n"
            "  --device cpu|cuda run on the CPU (default) or the GPU (spectra bench optim --device cuda --help)\n"
            "Run with OPENBLAS_CORETYPE unset so OpenBLAS uses this CPU's own kernels.\n");
}

static int parse_shapes(bench_opts *o, const char *s) {
    int n = 0;
    int rc = bench_parse_shapes(s, o->shapes, 16, &n);
    o->n_shapes = n;
    return rc;
}

static int parse_optims(bench_opts *o, const char *s) {
    o->n_cfgs = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (o->n_cfgs == 16) return -1;
        optim_cfg *c = &o->cfgs[o->n_cfgs];
        c->T = 1;
        if (!strncmp(tok, "spectra-t", 9)) {
            char *end;
            long T = strtol(tok + 9, &end, 10);
            if (*end || T < 1 || T > 64) return -1;
            c->algo = SPECTRA_ALGO_SPECTRA;
            c->T = (int)T;
        } else if (spectra_algo_from_name(tok, &c->algo) != SPECTRA_OK || c->algo == SPECTRA_ALGO_SPECTRA) {
            return -1;
        }
        snprintf(c->label, sizeof c->label, "%s", tok);
        o->n_cfgs++;
    }
    return o->n_cfgs ? 0 : -1;
}

/* Traffic model (bytes moved per step, fp32, fusing what can be fused) and FLOP model. */
static void models(const optim_cfg *c, size_t m, size_t n, size_t rank, double *bytes, double *flops) {
    double mn = (double)m * (double)n, s = (double)(m < n ? m : n), L = (double)(m < n ? n : m);
    *bytes = 0.0;
    *flops = 0.0;
    switch (c->algo) {
    case SPECTRA_ALGO_SPECTRA:
        *bytes = (5.0 + 2.0 * c->T) * 4.0 * mn;
        *flops = (4.0 * c->T + 2.0) * mn * (double)rank;
        break;
    case SPECTRA_ALGO_ADAMW:
        *bytes = 7.0 * 4.0 * mn;
        *flops = 12.0 * mn;
        break;
    case SPECTRA_ALGO_MUON: /* momentum 3 passes, each NS step reads X twice and writes once, update 3 */
        *bytes = (3.0 + 5.0 * 3.0 + 3.0) * 4.0 * mn;
        *flops = 5.0 * (4.0 * s * s * L + 2.0 * s * s * s);
        break;
    case SPECTRA_ALGO_DION: /* momentum 3, MQ 1, MᵀP 1, feedback 2, update 2 */
        *bytes = 9.0 * 4.0 * mn;
        *flops = 8.0 * mn * (double)rank;
        break;
    case SPECTRA_ALGO_SGD:
        *bytes = 5.0 * 4.0 * mn;
        *flops = 4.0 * mn;
        break;
    }
}

typedef struct result {
    bench_stats t;
    double bytes, flops, state_bytes;
    double floor_s;       /* max(FLOPs / sgemm 4096³ rate, bytes / triad): SPEC §7's floor */
    double floor_panel_s; /* the same with the rate of the step's own panel products */
    double floor_shapes_s; /* the same with OpenBLAS's sgemm rate at the step's three product shapes */
    size_t rank;
    /* Paired: --paired more steps, each just after the reference measured once more (sgemm
     * for the gemm-bound optimizers, triad for the elementwise ones), and each step's ratio to
     * the floor (or, elementwise, its bandwidth to the triad) at that moment; medians and
     * ranges. */
    int paired;                 /* 1: sgemm pairing, 2: triad pairing, 0: none */
    bench_stats paired_t;       /* the paired steps' times */
    bench_stats paired_rate;    /* GFLOP/s or GB/s */
    bench_stats paired_ratio;   /* x of floor, or achieved bandwidth / triad */
    int has_phases;                        /* Spectra: per-phase medians below are valid */
    double phase_s[SPECTRA_STEP_PHASES];   /* median over the timed steps, each phase alone */
} result;

static const char *const PHASE_NAMES[SPECTRA_STEP_PHASES] = {"momentum", "P=XV", "QR", "XtU", "normalize", "update"};

/* One optimizer on the bench's W and G, warmed up. NULL (message printed) on failure. */
static spectra_optim *make_warm(const bench_opts *o, const optim_cfg *c, size_t m, size_t n, float *W, float *G) {
    spectra_optim *opt;
    spectra_hparams hp = spectra_hparams_default(c->algo);
    hp.power_iters = c->T;
    hp.rank_ratio = o->rank_ratio;
    int g;
    if (spectra_optim_create(&opt, 1)) {
        fprintf(stderr, "spectra bench: %s\n", spectra_last_error());
        return NULL;
    }
    if (spectra_optim_add_group(opt, &hp, &g) || spectra_optim_add_param(opt, g, "w", W, G, m, n)) {
        fprintf(stderr, "spectra bench: %s\n", spectra_last_error());
        spectra_optim_destroy(opt);
        return NULL;
    }
    spectra_optim_set_check_finite(opt, o->check_finite);
    for (int i = 0; i < o->warmup; i++)
        if (spectra_optim_step(opt) != SPECTRA_OK) {
            fprintf(stderr, "spectra bench: %s\n", spectra_optim_last_error(opt));
            spectra_optim_destroy(opt);
            return NULL;
        }
    return opt;
}

static int run_one(const bench_opts *o, const optim_cfg *c, size_t m, size_t n, float *W, float *G, double triad_gbs,
                   double gemm_gflops, double panel_gflops, double shapes_gflops, bench_probe *probe, result *res) {
    memset(res, 0, sizeof *res);
    spectra_optim *opt = make_warm(o, c, m, n, W, G);
    if (!opt) return -1;
    int R = o->repeats, PR = o->paired;
    double *ts = malloc(((size_t)R * (1 + SPECTRA_STEP_PHASES) + 3 * (size_t)PR) * sizeof *ts);
    if (!ts) {
        fprintf(stderr, "spectra bench: out of memory\n");
        spectra_optim_destroy(opt);
        return -1;
    }
    double *ph = ts + R;                       /* phase j of step i at ph[j * R + i] */
    double *pts = ph + (size_t)R * SPECTRA_STEP_PHASES, *rate = pts + PR, *ratio = rate + PR;
    res->has_phases = c->algo == SPECTRA_ALGO_SPECTRA;
    int elementwise = c->algo == SPECTRA_ALGO_ADAMW || c->algo == SPECTRA_ALGO_SGD;
    for (int i = 0; i < R; i++) {
        double t0 = bench_now();
        spectra_optim_step(opt);
        ts[i] = bench_now() - t0;
        spectra_spike_diag d;
        if (res->has_phases && spectra_optim_spike_diag(opt, 0, &d) == SPECTRA_OK)
            for (int j = 0; j < SPECTRA_STEP_PHASES; j++) ph[j * R + i] = d.phase_s[j];
    }
    /* The paired steps come after the timed ones, in a loop of their own: the probe evicts
     * the step's working set from the caches, which for shapes that fit in L3 would change
     * the table's step times (SPEC §7 times the step alone, warm). */
    res->paired = !PR ? 0 : elementwise ? 2 : 1;
    for (int i = 0; i < PR; i++) {
        rate[i] = res->paired == 1 ? bench_probe_sgemm(probe) : bench_probe_triad(probe);
        double t0 = bench_now();
        spectra_optim_step(opt);
        pts[i] = bench_now() - t0;
    }
    spectra_param_info pi;
    spectra_optim_param_info(opt, 0, &pi);
    res->rank = pi.rank;
    res->state_bytes = (double)pi.state_bytes;
    models(c, m, n, pi.rank, &res->bytes, &res->flops);
    if (o->check_finite) res->bytes += 4.0 * (double)m * (double)n;
    double compute = elementwise ? 0.0 : res->flops / (gemm_gflops * 1e9);
    double memory = res->bytes / (triad_gbs * 1e9);
    res->floor_s = fmax(compute, memory);
    /* The panel rate describes Spectra's products; Muon and Dion run square-ish gemms. */
    double panel = c->algo == SPECTRA_ALGO_SPECTRA ? res->flops / (panel_gflops * 1e9) : compute;
    res->floor_panel_s = fmax(panel, memory);
    double shapes = c->algo == SPECTRA_ALGO_SPECTRA && shapes_gflops > 0 ? res->flops / (shapes_gflops * 1e9) : compute;
    res->floor_shapes_s = fmax(shapes, memory);
    /* Paired ratios, step by step: the floor with the sgemm rate of that moment (its memory
     * part keeps the run's best triad, STREAM's convention), or the bandwidth against the
     * triad of that moment. */
    for (int i = 0; i < PR; i++) {
        if (res->paired == 1) {
            double c_i = res->flops / (rate[i] * 1e9);
            ratio[i] = pts[i] / fmax(c_i, memory);
        } else {
            ratio[i] = res->bytes / pts[i] / 1e9 / rate[i];
        }
    }
    if (res->paired) {
        res->paired_t = bench_summarize(pts, PR);
        res->paired_rate = bench_summarize(rate, PR);
        res->paired_ratio = bench_summarize(ratio, PR);
    }
    res->t = bench_summarize(ts, R);
    for (int j = 0; j < SPECTRA_STEP_PHASES; j++) res->phase_s[j] = res->has_phases ? bench_summarize(ph + j * R, R).median : 0.0;
    free(ts);
    spectra_optim_destroy(opt);
    return 0;
}

/* The same-minute ratio time(num) / time(den): o->pairs pairs of steps back to back, the order
 * alternating, and the median of the per-pair ratios with its range. On a host whose speed
 * drifts from minute to minute, the ratio of two medians measured minutes apart moves with
 * the drift; a pair's two steps share it. Both optimizers step the same W (its values do not
 * matter to the timing). */
static int run_pairs(const bench_opts *o, const optim_cfg *num, const optim_cfg *den, size_t m, size_t n, float *W,
                     float *G, bench_stats *out) {
    spectra_optim *a = make_warm(o, num, m, n, W, G), *b = a ? make_warm(o, den, m, n, W, G) : NULL;
    double *ratio = malloc((size_t)o->pairs * sizeof *ratio);
    int rc = -1;
    if (a && b && !ratio) fprintf(stderr, "spectra bench: out of memory\n");
    if (a && b && ratio) {
        rc = 0;
        for (int i = 0; i < o->pairs && !rc; i++) {
            double t[2];
            for (int j = 0; j < 2; j++) {
                int which = (i & 1) ? 1 - j : j; /* 0: num, 1: den */
                spectra_optim *opt = which ? b : a;
                double t0 = bench_now();
                if (spectra_optim_step(opt) != SPECTRA_OK) {
                    fprintf(stderr, "spectra bench: %s\n", spectra_optim_last_error(opt));
                    rc = -1;
                    break;
                }
                t[which] = bench_now() - t0;
            }
            if (!rc) ratio[i] = t[0] / t[1];
        }
        if (!rc) *out = bench_summarize(ratio, o->pairs);
    }
    free(ratio);
    spectra_optim_destroy(b);
    spectra_optim_destroy(a);
    return rc;
}

/* A same-minute ratio for the JSON document's "same_minute" list. */
typedef struct pair_result {
    size_t m, n;
    char name[72];
    bench_stats r;
} pair_result;

static int bench_optim(int argc, char **argv) {
    /* The device picks the flag set (the GPU bench has flags of its own), so it is found
     * before parsing; as for every flag, the last occurrence counts. */
    const char *dev = "cpu";
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--device")) dev = argv[++i];
    if (!strcmp(dev, "cuda")) return cmd_bench_optim_cuda(argc, argv);
    if (strcmp(dev, "cpu")) {
        fprintf(stderr, "spectra bench optim: --device cpu|cuda, not '%s'\n", dev);
        return 2;
    }
    bench_opts o;
    memset(&o, 0, sizeof o);
    parse_shapes(&o, "1024x3072,4096x4096,4096x14336,14336x4096");
    parse_optims(&o, "spectra-t1,spectra-t2,spectra-t4,spectra-t8,adamw,muon,dion");
    o.repeats = 10;
    o.warmup = 2;
    o.rank_ratio = 0.015;
    o.paired = 5;
    o.pairs = 5;
    const char *shapes_arg = NULL, *optims_arg = NULL, *device = "cpu";
    int no_paired = 0, fused = 0, no_skinny = 0, no_panel = 0, separate_momentum = 0;
    const cli_flag flags[] = {
        {CLI_FLAG("--json", CLI_ON, &o.json)},
        {CLI_FLAG("--check-finite", CLI_ON, &o.check_finite)},
        {CLI_FLAG("--no-paired", CLI_ON, &no_paired)},
        {CLI_FLAG("--fused", CLI_ON, &fused)},
        {CLI_FLAG("--no-skinny", CLI_ON, &no_skinny)},
        {CLI_FLAG("--no-panel", CLI_ON, &no_panel)},
        {CLI_FLAG("--separate-momentum", CLI_ON, &separate_momentum)},
        {CLI_FLAG("--device", CLI_STRING, &device)}, /* cpu here: cuda was dispatched above */
        {CLI_FLAG("--shapes", CLI_STRING, &shapes_arg)},
        {CLI_FLAG("--optims", CLI_STRING, &optims_arg)},
        {CLI_FLAG("--repeats", CLI_INT, &o.repeats), .lo = 1, .hi = 100000},
        {CLI_FLAG("--warmup", CLI_INT, &o.warmup), .lo = 0, .hi = 100000},
        {CLI_FLAG("--paired", CLI_INT, &o.paired), .lo = 0, .hi = 100000},
        {CLI_FLAG("--pairs", CLI_INT, &o.pairs), .lo = 0, .hi = 100000},
        {CLI_FLAG("--rank-ratio", CLI_DOUBLE, &o.rank_ratio), .lo = 1e-9, .hi = 0.999999},
    };
    int prc = cli_parse_flags("bench optim", argc, argv, 1, flags, sizeof flags / sizeof flags[0], NULL, NULL, NULL);
    if (prc == CLI_FLAGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    if (shapes_arg && parse_shapes(&o, shapes_arg)) {
        fprintf(stderr, "spectra bench optim: bad --shapes '%s' (want e.g. 4096x14336,1024x3072: up to 16 shapes, sides 2..65536)\n",
                shapes_arg);
        return 2;
    }
    if (optims_arg && parse_optims(&o, optims_arg)) {
        fprintf(stderr, "spectra bench optim: bad --optims '%s' (want a comma list of spectra-tT (T = 1..64), adamw, muon, dion, sgd; at most 16)\n",
                optims_arg);
        return 2;
    }
    if (no_paired) o.paired = 0;
    if (fused) spectra_internal_set_fused(1);
    if (no_skinny) spectra_internal_set_skinny(0);
    if (no_panel) spectra_internal_set_panel(0);
    if (separate_momentum) spectra_internal_set_panel_momentum(0);
    const char *coretype_env = getenv("OPENBLAS_CORETYPE");
    const char *core_replaced = cli_blas_core_replaced();
    if (coretype_env && !core_replaced && !o.json)
        fprintf(stderr, "warning: OPENBLAS_CORETYPE=%s forces OpenBLAS kernels; unset it to measure this CPU's own\n", coretype_env);
    int threads = omp_get_max_threads();
    int bound, cpus = cli_omp_cpus(&bound);
    if (!o.json && cpus > 0 && cpus < threads)
        fprintf(stderr, "warning: %d OpenMP threads share %d CPU%s (OMP_PLACES / the affinity mask): expect slower steps\n",
                threads, cpus, cpus == 1 ? "" : "s");
    char runtimes[256];
    if (cli_omp_runtimes(runtimes, sizeof runtimes) > 1 && !o.json)
        fprintf(stderr, "warning: two OpenMP runtimes are loaded (%s): OpenBLAS's threads and ours are separate pools; docs/TRAINING.md\n",
                runtimes);
    if (!o.json) fprintf(stderr, "measuring STREAM triad and sgemm peak...\n");
    bench_probe *probe = bench_probe_create((size_t)48 << 20, 4096);
    if (!probe) {
        fprintf(stderr, "spectra bench: out of memory for the reference probes\n");
        return 1;
    }
    double triad = bench_stream_triad(probe, 20);
    double peak = bench_sgemm_rate(probe, 7);
    if (o.json) {
        printf("{\"cpu\": \"%s\", \"threads\": %d, \"cpus\": %d, \"threads_bound\": %s, \"openblas_core\": \"%s\", \"openblas_config\": \"%s\", "
               "\"openmp_runtimes\": \"%s\", \"openblas_coretype_env\": \"%s\", \"openblas_core_detected\": \"%s\", \"stream_triad_gbs\": %.6g, \"sgemm_4096_gflops\": %.6g, \"results\": [",
               bench_cpu_model(), threads, cpus, bound ? "true" : "false", bench_openblas_core(), bench_openblas_config(), runtimes, coretype_env ? coretype_env : "",
               core_replaced ? core_replaced : bench_openblas_core(), triad, peak);
    } else {
        printf("CPU %s, %d threads on %d CPU%s (%s, OpenMP runtime %s); OpenBLAS core %s (%s)%s\n", bench_cpu_model(), threads, cpus,
               cpus == 1 ? "" : "s", bound ? "bound" : "unbound", runtimes[0] ? runtimes : "unknown", bench_openblas_core(),
               bench_openblas_config(), cli_blas_core_note());
        printf("STREAM triad %.1f GB/s; sgemm 4096^3 %.0f GFLOP/s; %d timed steps after %d warm-up%s\n", triad, peak,
               o.repeats, o.warmup, o.check_finite ? "; with NaN/Inf scan" : "");
    }
    int first = 1;
    pair_result pairs[2 * 16];
    int n_pairs = 0;
    const optim_cfg *cfg_s1 = NULL, *cfg_adamw = NULL, *cfg_muon = NULL;
    int any_spectra = 0;
    for (int c = 0; c < o.n_cfgs; c++) {
        const optim_cfg *cfg = &o.cfgs[c];
        if (cfg->algo == SPECTRA_ALGO_SPECTRA && cfg->T == 1 && !cfg_s1) cfg_s1 = cfg;
        if (cfg->algo == SPECTRA_ALGO_ADAMW && !cfg_adamw) cfg_adamw = cfg;
        if (cfg->algo == SPECTRA_ALGO_MUON && !cfg_muon) cfg_muon = cfg;
        any_spectra |= cfg->algo == SPECTRA_ALGO_SPECTRA;
    }
    for (int s = 0; s < o.n_shapes; s++) {
        size_t m = o.shapes[s][0], n = o.shapes[s][1], mn = m * n;
        /* 64-byte aligned, as the trainer's parameters and gradients are: with W 16 bytes off
         * a line, every vector access of the update splits two lines (1-3 ms more at 4096 x
         * 14336, docs/BENCHMARKS.md). mn * 4 is a multiple of 64 for every shape here. */
        size_t bytes = (mn * sizeof(float) + 63) & ~(size_t)63;
        float *W = aligned_alloc(64, bytes), *G = aligned_alloc(64, bytes);
        if (!W || !G) {
            fprintf(stderr, "spectra bench: out of memory for %zux%zu\n", m, n);
            free(W);
            free(G);
            bench_probe_destroy(probe);
            return 1;
        }
        spectra_rng rng;
        spectra_rng_seed(&rng, 3);
        spectra_rng_fill_normal(&rng, W, mn, 0.02f);
        spectra_rng_fill_normal(&rng, G, mn, 1.0f);
        size_t k = (size_t)floor(o.rank_ratio * (double)(m < n ? m : n) + 0.5);
        if (k < 1) k = 1;
        double panel = bench_panel_gemm_rate(m, n, k, 5);
        /* OpenBLAS at the step's shapes, the independent reference; only Spectra rows use it */
        double shapes = any_spectra ? bench_step_sgemm_rate(m, n, k, 5) : 0.0;
        if (!o.json) {
            printf("\n%zu x %zu  (k = %zu; XV + XᵀU at the step's panel shapes: %.0f GFLOP/s", m, n, k, panel);
            if (shapes > 0) printf("; OpenBLAS sgemm at the step's 3 product shapes: %.0f GFLOP/s", shapes);
            printf(")\n");
            printf("%-12s %10s %10s %10s %9s %8s %9s %8s %10s %8s %11s %8s %9s\n", "optimizer", "median ms", "min ms", "max ms",
                   "GB model", "GB/s", "GFLOP", "GFLOP/s", "state MB", "floor ms", "x of floor", "x panel", "x sgemm@k");
        }
        double t_spectra1 = 0, t_adamw = 0, t_muon = 0;
        for (int c = 0; c < o.n_cfgs; c++) {
            const optim_cfg *cfg = &o.cfgs[c];
            if (!o.json) {
                fprintf(stderr, "  %s...\r", cfg->label);
                fflush(stderr);
            }
            result r;
            if (run_one(&o, cfg, m, n, W, G, triad, peak, panel, shapes, probe, &r)) {
                free(W);
                free(G);
                bench_probe_destroy(probe);
                return 1;
            }
            if (cfg->algo == SPECTRA_ALGO_SPECTRA && cfg->T == 1) t_spectra1 = r.t.median;
            if (cfg->algo == SPECTRA_ALGO_ADAMW) t_adamw = r.t.median;
            if (cfg->algo == SPECTRA_ALGO_MUON) t_muon = r.t.median;
            if (o.json) {
                printf("%s\n  {\"rows\": %zu, \"cols\": %zu, \"optimizer\": \"%s\", \"rank\": %zu, \"median_s\": %.6g, "
                       "\"min_s\": %.6g, \"max_s\": %.6g, \"bytes_model\": %.6g, \"achieved_gbs\": %.4g, \"flops_model\": %.6g, "
                       "\"achieved_gflops\": %.4g, \"state_bytes\": %.0f, \"floor_s\": %.6g, \"floor_panel_s\": %.6g, "
                       "\"panel_gflops\": %.6g, \"floor_sgemm_step_shapes_s\": %.6g, \"sgemm_step_shapes_gflops\": %.6g",
                       first ? "" : ",", m, n, cfg->label, r.rank, r.t.median, r.t.min, r.t.max, r.bytes,
                       r.bytes / r.t.median / 1e9, r.flops, r.flops / r.t.median / 1e9, r.state_bytes, r.floor_s, r.floor_panel_s,
                       panel, r.floor_shapes_s, shapes);
                if (r.paired)
                    printf(", \"paired\": {\"steps\": %d, \"step_median_s\": %.6g, \"step_min_s\": %.6g, \"step_max_s\": %.6g, "
                           "\"reference\": \"%s\", \"rate_median\": %.6g, \"rate_min\": %.6g, \"rate_max\": %.6g, "
                           "\"%s_median\": %.6g, \"%s_min\": %.6g, \"%s_max\": %.6g}",
                           r.paired_t.n, r.paired_t.median, r.paired_t.min, r.paired_t.max,
                           r.paired == 1 ? "sgemm_4096_gflops" : "triad_gbs", r.paired_rate.median, r.paired_rate.min,
                           r.paired_rate.max, r.paired == 1 ? "x_of_floor" : "of_triad", r.paired_ratio.median,
                           r.paired == 1 ? "x_of_floor" : "of_triad", r.paired_ratio.min,
                           r.paired == 1 ? "x_of_floor" : "of_triad", r.paired_ratio.max);
                if (r.has_phases) {
                    printf(", \"phases_median_s\": {");
                    for (int j = 0; j < SPECTRA_STEP_PHASES; j++)
                        printf("%s\"%s\": %.6g", j ? ", " : "", PHASE_NAMES[j], r.phase_s[j]);
                    printf("}");
                }
                printf("}");
                first = 0;
            } else {
                printf("%-12s %10.2f %10.2f %10.2f %9.3f %8.1f %9.2f %8.1f %10.1f %8.2f %11.2f %8.2f %9.2f\n", cfg->label,
                       1e3 * r.t.median, 1e3 * r.t.min, 1e3 * r.t.max, r.bytes / 1e9, r.bytes / r.t.median / 1e9,
                       r.flops / 1e9, r.flops / r.t.median / 1e9, r.state_bytes / 1e6, 1e3 * r.floor_s,
                       r.t.median / r.floor_s, r.t.median / r.floor_panel_s, r.t.median / r.floor_shapes_s);
                if (r.paired == 1)
                    printf("%-12s x of floor %.2f (%.2f..%.2f) over %d steps (%.2f ms), each after an sgemm 4096^3: %.0f (%.0f..%.0f) GFLOP/s\n",
                           "  paired", r.paired_ratio.median, r.paired_ratio.min, r.paired_ratio.max, r.paired_t.n,
                           1e3 * r.paired_t.median, r.paired_rate.median, r.paired_rate.min, r.paired_rate.max);
                if (r.paired == 2)
                    printf("%-12s %.0f%% (%.0f..%.0f%%) of the triad over %d steps (%.2f ms), each after a triad: %.1f (%.1f..%.1f) GB/s\n",
                           "  paired", 100 * r.paired_ratio.median, 100 * r.paired_ratio.min, 100 * r.paired_ratio.max,
                           r.paired_t.n, 1e3 * r.paired_t.median, r.paired_rate.median, r.paired_rate.min, r.paired_rate.max);
                if (r.has_phases) {
                    printf("%-12s", "  phases ms");
                    for (int j = 0; j < SPECTRA_STEP_PHASES; j++) printf(" %s %.2f%s", PHASE_NAMES[j], 1e3 * r.phase_s[j], j + 1 < SPECTRA_STEP_PHASES ? " |" : "\n");
                }
            }
        }
        /* Same-minute ratios: spectra-t1 against adamw and muon, pair by pair. */
        bench_stats sa = {0, 0, 0, 0}, ms = {0, 0, 0, 0};
        for (int q = 0; q < 2 && o.pairs > 0 && cfg_s1; q++) {
            /* q = 0: spectra-t1 / adamw; q = 1: muon / spectra-t1 */
            const optim_cfg *num = q ? cfg_muon : cfg_s1, *den = q ? cfg_s1 : cfg_adamw;
            if (!num || !den) continue;
            if (!o.json) {
                fprintf(stderr, "  pairs %s, %s...\r", num->label, den->label);
                fflush(stderr);
            }
            bench_stats *st = q ? &ms : &sa;
            if (run_pairs(&o, num, den, m, n, W, G, st)) {
                free(W);
                free(G);
                bench_probe_destroy(probe);
                return 1;
            }
            pair_result *pr = &pairs[n_pairs++];
            pr->m = m, pr->n = n, pr->r = *st;
            snprintf(pr->name, sizeof pr->name, "%s/%s", num->label, den->label);
        }
        if (!o.json) {
            if (t_spectra1 > 0 && t_adamw > 0) {
                printf("ratio spectra-t1 / adamw = %.2f (medians)", t_spectra1 / t_adamw);
                if (sa.n) printf("; same-minute %.2f (%.2f..%.2f) over %d pairs", sa.median, sa.min, sa.max, sa.n);
                printf("\n");
            }
            if (t_spectra1 > 0 && t_muon > 0) {
                printf("ratio muon / spectra-t1 = %.1f (medians)", t_muon / t_spectra1);
                if (ms.n) printf("; same-minute %.1f (%.1f..%.1f) over %d pairs", ms.median, ms.min, ms.max, ms.n);
                printf("\n");
            }
        }
        free(W);
        free(G);
    }
    bench_probe_destroy(probe);
    if (o.json) {
        printf("\n], \"same_minute\": [");
        for (int i = 0; i < n_pairs; i++)
            printf("%s\n  {\"rows\": %zu, \"cols\": %zu, \"ratio\": \"%s\", \"pairs\": %d, \"median\": %.6g, \"min\": %.6g, "
                   "\"max\": %.6g}",
                   i ? "," : "", pairs[i].m, pairs[i].n, pairs[i].name, pairs[i].r.n, pairs[i].r.median, pairs[i].r.min,
                   pairs[i].r.max);
        printf("\n]}\n");
    }
    return 0;
}

/* `spectra bench train`: the trainer's real step (forward, backward, clipping, optimizer) on
 * random tokens of the preset's vocabulary, for each optimizer in the same run. */
static int bench_train(int argc, char **argv) {
    const char *preset = "llama-124m", *optims = "adamw,spectra";
    int B = 4, T = 64, steps = 5, warmup = 2;
    const cli_flag flags[] = {
        {CLI_FLAG("--preset", CLI_STRING, &preset)},
        {CLI_FLAG("--optims", CLI_STRING, &optims)},
        {CLI_FLAG("--batch", CLI_INT, &B), .lo = 1, .hi = 4096},
        {CLI_FLAG("--seq", CLI_INT, &T), .lo = 1, .hi = 1 << 16},
        {CLI_FLAG("--steps", CLI_INT, &steps), .lo = 1, .hi = 100000},
        {CLI_FLAG("--warmup", CLI_INT, &warmup), .lo = 0, .hi = 100000},
    };
    int prc = cli_parse_flags("bench train", argc, argv, 1, flags, sizeof flags / sizeof flags[0], NULL, NULL, NULL);
    if (prc == CLI_FLAGS_HELP) {
        printf("usage: spectra bench train [--preset NAME] [--batch B] [--seq T] [--optims LIST] [--steps N] [--warmup N]\n"
               "  defaults: --preset llama-124m --batch 4 --seq 64 --optims adamw,spectra --steps 5 --warmup 2\n"
               "  Times whole training steps (median) on random tokens; reports tokens/s and the share of\n"
               "  forward, backward and optimizer, and each optimizer's step time relative to the first.\n");
        return 0;
    }
    if (prc) return prc;
    spectra_train_config cfg = spectra_train_config_default();
    if (spectra_model_config_from_preset(preset, &cfg.model) != SPECTRA_OK) {
        fprintf(stderr, "spectra bench train: %s\n", spectra_last_error());
        return 2;
    }
    if (T > cfg.model.max_seq_len) cfg.model.max_seq_len = T;
    cfg.batch_size = B;
    cfg.seq_len = T;
    cfg.max_steps = (uint64_t)(steps + warmup);
    cfg.warmup_steps = 0;
    cfg.val_batches = 1;
    /* A random-token shard in the temp directory (vocabularies above 65536 cannot be sharded). */
    if (cfg.model.vocab_size > 65536) {
        fprintf(stderr, "spectra bench train: preset %s has %d ids; shards hold at most 65536\n", preset, cfg.model.vocab_size);
        return 2;
    }
    if ((size_t)B * (size_t)T > ((size_t)1 << 24)) {
        fprintf(stderr, "spectra bench train: --batch x --seq = %zu tokens per step; at most 16M here\n", (size_t)B * (size_t)T);
        return 2;
    }
    /* The optimizers are checked before anything is written. */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", optims);
    int n_optims = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        spectra_algo algo;
        if (spectra_algo_from_name(tok, &algo) != SPECTRA_OK) {
            fprintf(stderr, "spectra bench train: --optims: %s\n", spectra_last_error());
            return 2;
        }
        n_optims++;
    }
    if (!n_optims) {
        fprintf(stderr, "spectra bench train: --optims names no optimizer\n");
        return 2;
    }
    char shard[512];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(shard, sizeof shard, "%s/spectra_bench_train_%d.bin", tmp, (int)getpid());
    /* Enough tokens for every step without repeating a window, but at most 16M (the loader
     * starts another epoch after that; the timing does not depend on which tokens) and at least
     * one batch. */
    size_t batch_tok = (size_t)B * (size_t)(T + 1) + 1, ntok = (size_t)(steps + warmup + 2) * (size_t)B * (size_t)(T + 1) + 1;
    if (ntok > ((size_t)1 << 24)) ntok = (size_t)1 << 24;
    if (ntok < batch_tok) ntok = batch_tok;
    int32_t *ids = malloc(ntok * sizeof *ids);
    if (!ids) {
        fprintf(stderr, "spectra bench train: out of memory for %zu random tokens\n", ntok);
        return 1;
    }
    spectra_rng rng;
    spectra_rng_seed(&rng, 5);
    for (size_t i = 0; i < ntok; i++) ids[i] = (int32_t)(spectra_rng_next(&rng) % (uint64_t)cfg.model.vocab_size);
    spectra_status wst = spectra_shard_write(shard, ids, ntok, (uint32_t)cfg.model.vocab_size);
    free(ids);
    if (wst != SPECTRA_OK) {
        fprintf(stderr, "spectra bench train: %s\n", spectra_last_error());
        return 1;
    }
    printf("bench train: preset %s (%.1fM parameters), B %d, T %d, %d threads, OpenBLAS core %s%s\n", preset,
           (double)spectra_model_config_num_params(&cfg.model) / 1e6, B, T, omp_get_max_threads(), bench_openblas_core(),
           cli_blas_core_note());
    printf("%-10s %10s %10s %10s %10s %10s %9s %9s %8s\n", "optimizer", "step ms", "tokens/s", "fwd ms", "bwd ms", "optim ms",
           "fwd %", "bwd %", "optim %");
    snprintf(buf, sizeof buf, "%s", optims);
    double first_step = 0;
    int rc = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        spectra_algo algo;
        if (spectra_algo_from_name(tok, &algo) != SPECTRA_OK) {
            fprintf(stderr, "spectra bench train: %s\n", spectra_last_error());
            rc = 2;
            break;
        }
        cfg.matrix = spectra_hparams_default(algo);
        spectra_trainer *tr;
        const char *paths[1] = {shard};
        if (spectra_trainer_create(&tr, &cfg, paths, 1, NULL, 0) != SPECTRA_OK) {
            fprintf(stderr, "spectra bench train: %s\n", spectra_last_error());
            rc = 1;
            break;
        }
        double *tstep = malloc((size_t)steps * sizeof *tstep), *topt = malloc((size_t)steps * sizeof *topt);
        double *tf = malloc((size_t)steps * sizeof *tf), *tb = malloc((size_t)steps * sizeof *tb);
        int32_t *in = malloc((size_t)B * T * sizeof *in), *tg = malloc((size_t)B * T * sizeof *tg);
        if (!tstep || !topt || !tf || !tb || !in || !tg) {
            fprintf(stderr, "spectra bench train: out of memory\n");
            free(in), free(tg), free(tstep), free(topt), free(tf), free(tb);
            spectra_trainer_destroy(tr);
            rc = 1;
            break;
        }
        for (int i = 0; i < warmup + steps; i++) {
            spectra_step_stats st;
            if (spectra_trainer_step(tr, &st) != SPECTRA_OK) {
                fprintf(stderr, "spectra bench train: %s\n", spectra_trainer_last_error(tr));
                rc = 1;
                break;
            }
            if (i >= warmup) {
                tstep[i - warmup] = st.seconds;
                topt[i - warmup] = st.seconds_optim;
            }
        }
        if (rc) { /* a failed step: report it, time nothing more */
            free(in), free(tg), free(tstep), free(topt), free(tf), free(tb);
            spectra_trainer_destroy(tr);
            break;
        }
        /* Forward and backward separately, on the trainer's model and batch geometry. */
        spectra_model *m = spectra_trainer_model(tr);
        for (int i = 0; i < B * T; i++) {
            in[i] = (int32_t)(spectra_rng_next(&rng) % (uint64_t)cfg.model.vocab_size);
            tg[i] = (int32_t)(spectra_rng_next(&rng) % (uint64_t)cfg.model.vocab_size);
        }
        for (int i = 0; i < steps; i++) {
            float loss;
            double t0 = bench_now();
            spectra_model_forward(m, in, tg, NULL, B, T, &loss);
            double t1 = bench_now();
            spectra_model_backward(m);
            tf[i] = t1 - t0;
            tb[i] = bench_now() - t1;
        }
        if (rc == 0) {
            bench_stats s = bench_summarize(tstep, steps), so = bench_summarize(topt, steps), sf = bench_summarize(tf, steps),
                        sb = bench_summarize(tb, steps);
            double tot = sf.median + sb.median + so.median;
            if (first_step == 0) first_step = s.median;
            printf("%-10s %10.1f %10.1f %10.1f %10.1f %10.1f %8.1f%% %8.1f%% %7.1f%%   x%.3f vs %s\n", tok, 1e3 * s.median,
                   (double)B * T / s.median, 1e3 * sf.median, 1e3 * sb.median, 1e3 * so.median, 100 * sf.median / tot,
                   100 * sb.median / tot, 100 * so.median / tot, s.median / first_step, buf);
        }
        free(in), free(tg), free(tstep), free(topt), free(tf), free(tb);
        spectra_trainer_destroy(tr);
        if (rc) break;
    }
    unlink(shard);
    return rc;
}

static void bench_usage(FILE *f) {
    fprintf(f, "usage: spectra bench <what> [options]\n"
               "  optim   optimizer step times against this machine's floors (SPEC §7)\n"
               "  model   transformer forward/backward times and tokens/s\n"
               "  train   whole training steps (forward, backward, optimizer) and tokens/s per optimizer\n");
}

int cmd_bench(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        bench_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "optim")) return bench_optim(argc - 1, argv + 1);
    if (!strcmp(argv[1], "model")) return cmd_bench_model(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    fprintf(stderr, "spectra bench: unknown benchmark '%s'\n", argv[1]);
    bench_usage(stderr);
    return 2;
}
