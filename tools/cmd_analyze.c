/* `spectra analyze`: the paper's section-2 measurements (docs/ANALYSIS.md) on checkpoints
 * of this project's model: spectrum, moments, relvar, ns-align, intervene. Each writes CSV
 * and a gnuplot PNG into --out and prints a short summary; the numbers come from
 * include/spectra/analysis.h. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "cli_flags.h"
#include "data_cli.h"
#include "spectra/spectra.h"
#include "train_cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CKPT 16
#define MAX_LAYERS 16

typedef struct an_opts {
    const char *sub;
    const char *ckpt[MAX_CKPT];
    int n_ckpt;
    const char *data, *out, *layers;
    int batches, batch, seq, ref_batches, micro, micro_batch, rank, ns_steps, plot, rows, cols, repeats;
    uint64_t seed;
} an_opts;

typedef struct an_ctx {
    an_opts o;
    data_shards shards;
    char layer[MAX_LAYERS][SPECTRA_TENSOR_NAME_MAX];
    int n_layers;
    spectra_trainer *tr;
    spectra_train_config cfg;
    int B, T;
} an_ctx;

static void usage(FILE *f) {
    fprintf(f,
            "usage: spectra analyze <spectrum|moments|relvar|ns-align|intervene> [options]\n"
            "  spectrum    singular spectrum of the mean gradient, spike size k*, gap, energy (several\n"
            "              --checkpoint flags: persistence across training steps)\n"
            "  moments     AdamW's m and v: energy CDFs and tail suppression (needs an --optim adamw run)\n"
            "  relvar      RelVar(k) = Var_i(u_k' G_i v_k) / sigma_k^2 over micro-batch gradients\n"
            "  ns-align    align(i) = max_j |<v_i, vhat_j>| between G and Newton-Schulz(G), fp32 and bf16 NS\n"
            "  intervene   spectra of the raw, FreqNorm and Shuffle gradients\n"
            "  svd-bench   time the exact SVD (dgesdd) of a random --rows x --cols matrix [768 x 2048], --repeats [3]\n"
            "options\n"
            "  --checkpoint FILE   a checkpoint of `spectra train` (required; repeatable for spectrum)\n"
            "  --data DIR          prepared shards [data/default-bpe8k]\n"
            "  --out DIR           CSV and PNG output [runs/analysis]\n"
            "  --layers A,B,...    tensor names [layers.{L-1}.mlp.w_down,layers.0.attn.wk]\n"
            "  --batches N         batches averaged into a gradient [8]\n"
            "  --batch B --seq T   batch geometry [the checkpoint's]\n"
            "  --ref-batches N     relvar: batches in the reference gradient [64]\n"
            "  --micro N           relvar: micro-batch gradients [100]\n"
            "  --micro-batch B     relvar: sequences per micro-batch [1]\n"
            "  --rank K            moments: rank of the spike projection [max(1, round(1.5%% r))]\n"
            "  --ns-steps N        ns-align: Newton-Schulz steps [5]\n"
            "  --seed N            order of the analysed batches [1234]\n"
            "  --no-plot           CSV only\n");
}

static FILE *open_out(const an_ctx *c, const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", c->o.out, name);
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "spectra analyze: cannot write '%s': %s\n", path, strerror(errno));
    return f;
}

/* Runs gnuplot on a script; a missing gnuplot costs the plot, not the CSV. */
static void plot(const an_ctx *c, const char *name, const char *script) {
    if (!c->o.plot) return;
    char path[1200], gp[200];
    snprintf(path, sizeof path, "%s/%s.gp", c->o.out, name);
    FILE *f = fopen(path, "w");
    if (!f) return;
    /* gnuplot runs in the output directory on names relative to it, without a shell: --out is
     * never spliced into a command line or a gnuplot string (a quote in it used to run shell
     * commands) */
    fprintf(f, "set terminal pngcairo size 900,600 noenhanced\nset output '%s.png'\nset datafile separator ','\n"
               "set key outside right\nset grid\nset autoscale xfix\n%s",
            name, script);
    fclose(f);
    snprintf(gp, sizeof gp, "%s.gp", name);
    char *gargv[] = {"gnuplot", gp, NULL};
    if (cli_run_program(gargv, c->o.out, NULL, NULL) != 0) fprintf(stderr, "spectra analyze: gnuplot failed on %s (CSV written anyway)\n", path);
    else {
        unlink(path);
        printf("  plot: %s/%s.png\n", c->o.out, name);
    }
}

static void safe_name(const char *in, char *out, size_t cap) {
    snprintf(out, cap, "%s", in);
    for (char *p = out; *p; p++)
        if (*p == '.') *p = '_';
}

/* Writes the gnuplot script of one layer's plot into script (cap bytes); arg is the caller's. */
typedef void (*layer_script_fn)(const an_ctx *c, const char *layer, const void *arg, char *script, size_t cap);

typedef struct layer_plot {
    const char *prefix;     /* the plot is <out>/<prefix>_<layer, '.' as '_'>.png */
    size_t script_cap;      /* bytes for its script (at most 4096): each plot's own bound, so an over-long
                               --out truncates the script where it always did */
    layer_script_fn script;
} layer_plot;

/* The plots of every analysed layer, layer by layer, each layer's in the order of plots[]. */
static void plot_per_layer(const an_ctx *c, const layer_plot *plots, size_t n_plots, const void *arg) {
    for (int l = 0; l < c->n_layers; l++)
        for (size_t p = 0; p < n_plots; p++) {
            char name[96], script[4096], sn[64]; /* layer names are < SPECTRA_TENSOR_NAME_MAX (48) */
            safe_name(c->layer[l], sn, sizeof sn);
            snprintf(name, sizeof name, "%s_%s", plots[p].prefix, sn);
            plots[p].script(c, c->layer[l], arg, script, plots[p].script_cap);
            plot(c, name, script);
        }
}

static size_t rmin(size_t a, size_t b) { return a < b ? a : b; }

/* ---- setup ---- */

/* --checkpoint, which may be given several times (spectrum compares them). */
static int add_checkpoint(void *ctx, const cli_flag *f, const char *value) {
    an_opts *o = ctx;
    if (f->kind != CLI_CALL) return 1;
    if (o->n_ckpt == MAX_CKPT) {
        fprintf(stderr, "spectra analyze: at most %d checkpoints\n", MAX_CKPT);
        return 0;
    }
    o->ckpt[o->n_ckpt++] = value;
    return 1;
}

static int parse(int argc, char **argv, an_opts *o) {
    memset(o, 0, sizeof *o);
    o->data = "data/default-bpe8k";
    o->out = "runs/analysis";
    o->batches = 8;
    o->ref_batches = 64;
    o->micro = 100;
    o->micro_batch = 1;
    o->ns_steps = 5;
    o->seed = 1234;
    o->plot = 1;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return -1;
    }
    static const char *subs[] = {"spectrum", "moments", "relvar", "ns-align", "intervene", "svd-bench"};
    o->rows = 768;
    o->cols = 2048;
    o->repeats = 3;
    for (size_t i = 0; i < 6; i++)
        if (!strcmp(argv[1], subs[i])) o->sub = subs[i];
    if (!o->sub) {
        fprintf(stderr, "spectra analyze: unknown subcommand '%s' (spectrum, moments, relvar, ns-align, intervene)\n",
                argv[1]);
        return 2;
    }
    const cli_flag flags[] = {
        {CLI_FLAG("--checkpoint", CLI_CALL, NULL)},
        {CLI_FLAG("--no-plot", CLI_OFF, &o->plot)},
        {CLI_FLAG("--data", CLI_STRING, &o->data)},
        {CLI_FLAG("--out", CLI_STRING, &o->out)},
        {CLI_FLAG("--layers", CLI_STRING, &o->layers)},
        {CLI_FLAG("--batches", CLI_INT, &o->batches), .lo = 1, .hi = 1 << 20},
        {CLI_FLAG("--batch", CLI_INT, &o->batch), .lo = 1, .hi = 1 << 16},
        {CLI_FLAG("--seq", CLI_INT, &o->seq), .lo = 1, .hi = 1 << 20},
        {CLI_FLAG("--ref-batches", CLI_INT, &o->ref_batches), .lo = 1, .hi = 1 << 20},
        {CLI_FLAG("--micro", CLI_INT, &o->micro), .lo = 2, .hi = 1 << 20},
        {CLI_FLAG("--micro-batch", CLI_INT, &o->micro_batch), .lo = 1, .hi = 1 << 16},
        {CLI_FLAG("--rank", CLI_INT, &o->rank), .lo = 1, .hi = 1 << 20},
        {CLI_FLAG("--ns-steps", CLI_INT, &o->ns_steps), .lo = 0, .hi = 100},
        {CLI_FLAG("--seed", CLI_U64, &o->seed), .lo = 0},
        {CLI_FLAG("--rows", CLI_INT, &o->rows), .lo = 2, .hi = 1 << 15},
        {CLI_FLAG("--cols", CLI_INT, &o->cols), .lo = 2, .hi = 1 << 15},
        {CLI_FLAG("--repeats", CLI_INT, &o->repeats), .lo = 1, .hi = 1000},
    };
    char cmd[64];
    snprintf(cmd, sizeof cmd, "analyze %s", o->sub);
    int prc = cli_parse_flags(cmd, argc, argv, 2, flags, sizeof flags / sizeof flags[0], add_checkpoint, o, NULL);
    if (prc == CLI_FLAGS_HELP) {
        usage(stdout);
        return -1;
    }
    if (prc) return prc;
    if (o->n_ckpt == 0 && strcmp(o->sub, "svd-bench")) {
        fprintf(stderr, "spectra analyze %s: --checkpoint is required\n", o->sub);
        return 2;
    }
    if (o->n_ckpt > 1 && strcmp(o->sub, "spectrum")) {
        fprintf(stderr, "spectra analyze %s: takes one --checkpoint (several only for spectrum)\n", o->sub);
        return 2;
    }
    return 0;
}

/* Builds the trainer of checkpoint i (model, optimizer state, step) on the data's shards. */
static int load_ckpt(an_ctx *c, int i) {
    if (c->tr) spectra_trainer_destroy(c->tr);
    c->tr = NULL;
    const char *path = c->o.ckpt[i];
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "spectra analyze: cannot read checkpoint '%s': %s\n", path, strerror(errno));
        return 1;
    }
    if (spectra_checkpoint_read_config(path, &c->cfg) != SPECTRA_OK) {
        fprintf(stderr, "spectra analyze: %s: %s\n", path, spectra_last_error());
        return 1;
    }
    if ((uint32_t)c->cfg.model.vocab_size < c->shards.vocab_size) {
        fprintf(stderr, "spectra analyze: the data in '%s' has %u ids but the checkpoint's model %d\n", c->o.data,
                c->shards.vocab_size, c->cfg.model.vocab_size);
        return 1;
    }
    if (spectra_trainer_create(&c->tr, &c->cfg, (const char *const *)c->shards.train, c->shards.n_train, NULL, 0) ||
        spectra_trainer_load(c->tr, path)) {
        fprintf(stderr, "spectra analyze: %s: %s\n", path,
                c->tr ? spectra_trainer_last_error(c->tr) : spectra_last_error());
        return 1;
    }
    c->B = c->o.batch ? c->o.batch : c->cfg.batch_size;
    c->T = c->o.seq ? c->o.seq : c->cfg.seq_len;
    if (c->T > c->cfg.model.max_seq_len) {
        fprintf(stderr, "spectra analyze: --seq %d exceeds the model's context %d\n", c->T, c->cfg.model.max_seq_len);
        return 2;
    }
    return 0;
}

static int resolve_layers(an_ctx *c) {
    spectra_model *m = spectra_trainer_model(c->tr);
    char buf[1024];
    if (c->o.layers) snprintf(buf, sizeof buf, "%s", c->o.layers);
    else snprintf(buf, sizeof buf, "layers.%d.mlp.w_down,layers.0.attn.wk", c->cfg.model.n_layers - 1);
    c->n_layers = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const spectra_tensor_info *ti = spectra_model_find_tensor(m, tok);
        if (!ti || ti->rows < 2 || ti->cols < 2) {
            fprintf(stderr, "spectra analyze: %s '%s'; matrices of this model:", ti ? "not a matrix:" : "unknown layer",
                    tok);
            for (size_t i = 0; i < spectra_model_num_tensors(m); i++) {
                const spectra_tensor_info *t = spectra_model_tensor(m, i);
                if (t->rows >= 2 && (t->layer <= 0 || t->layer == c->cfg.model.n_layers - 1)) fprintf(stderr, " %s", t->name);
            }
            fprintf(stderr, " ... (layers.0 .. layers.%d)\n", c->cfg.model.n_layers - 1);
            return 2;
        }
        if (c->n_layers == MAX_LAYERS) {
            fprintf(stderr, "spectra analyze: at most %d layers\n", MAX_LAYERS);
            return 2;
        }
        snprintf(c->layer[c->n_layers++], SPECTRA_TENSOR_NAME_MAX, "%s", tok);
    }
    if (c->n_layers == 0) {
        fprintf(stderr, "spectra analyze: --layers is empty\n");
        return 2;
    }
    return 0;
}

static spectra_loader *open_loader(an_ctx *c, int B, uint64_t seed) {
    spectra_loader_config lc = {(size_t)B, (size_t)c->T, (uint32_t)c->cfg.model.vocab_size, seed, 1, 0, 1};
    spectra_loader *ld = NULL;
    if (spectra_loader_open((const char *const *)c->shards.train, c->shards.n_train, &lc, &ld) != SPECTRA_OK) {
        fprintf(stderr, "spectra analyze: %s\n", spectra_last_error());
        return NULL;
    }
    return ld;
}

/* Mean gradient over the analysed batches; the loader is reopened so every call (and every
 * checkpoint, and every intervention) sees the same batches. */
static int mean_grad(an_ctx *c, int B, int nb, uint64_t seed, const float *weights, const uint8_t *ends, double *loss) {
    spectra_loader *ld = open_loader(c, B, seed);
    if (!ld) return 1;
    spectra_grad_opts go = {nb, weights, ends, seed ^ 0x5EED};
    spectra_status st = spectra_mean_gradient(spectra_trainer_model(c->tr), ld, B, c->T, &go, loss);
    spectra_loader_free(ld);
    if (st != SPECTRA_OK) {
        fprintf(stderr, "spectra analyze: gradient: %s\n", spectra_last_error());
        return 1;
    }
    return 0;
}

static const float *grad_of(an_ctx *c, const char *name, size_t *rows, size_t *cols) {
    spectra_model *m = spectra_trainer_model(c->tr);
    const spectra_tensor_info *ti = spectra_model_find_tensor(m, name);
    *rows = ti->rows;
    *cols = ti->cols;
    return spectra_model_grads(m) + ti->offset;
}

/* ---- subcommands ---- */

/* arg: the checkpoints' steps, one line per checkpoint. */
static void spectrum_script(const an_ctx *c, const char *layer, const void *arg, char *script, size_t cap) {
    const uint64_t *steps = arg;
    /* The CSV path is named once (f), so the script's length does not grow with --out times
     * the number of checkpoints; and appending stops at the buffer's end (it used to run
     * past it with 16 checkpoints and a long --out). */
    int n = snprintf(script, cap,
                     "set title 'gradient singular values, %s (sigma_i / sigma_1)'\nset logscale y\nset format y '%%.0e'\nset logscale x\n"
                     "set xlabel 'index i'\nset ylabel 'sigma_i / sigma_1'\nf = 'spectrum.csv'\nplot ",
                     layer);
    for (int ci = 0; ci < c->o.n_ckpt && n >= 0 && (size_t)n < cap; ci++)
        n += snprintf(script + n, cap - (size_t)n,
                      "%sf using (stringcolumn(1) eq '%llu' && stringcolumn(2) eq '%s' ? $3 : 1/0):5 "
                      "with lines lw 2 title 'step %llu'",
                      ci ? ", " : "", (unsigned long long)steps[ci], layer, (unsigned long long)steps[ci]);
    if (n >= 0 && (size_t)n < cap) snprintf(script + n, cap - (size_t)n, "\n");
}

static int run_spectrum(an_ctx *c) {
    char path[1200];
    FILE *fs = open_out(c, "spectrum.csv", path, sizeof path), *fsum = NULL;
    if (!fs) return 1;
    fsum = open_out(c, "spectrum_summary.csv", path, sizeof path);
    if (!fsum) {
        fclose(fs);
        return 1;
    }
    fprintf(fs, "step,layer,i,sigma,sigma_rel,cdf\n");
    fprintf(fsum, "step,layer,rows,cols,r,k_star,k_frac,gap,energy_kstar,k_1.5pct,energy_1.5pct,loss\n");
    uint64_t steps[MAX_CKPT];
    int rc = 0;
    for (int ci = 0; ci < c->o.n_ckpt && !rc; ci++) {
        if ((rc = load_ckpt(c, ci)) || (ci == 0 && (rc = resolve_layers(c)))) break;
        steps[ci] = spectra_trainer_steps_done(c->tr);
        double loss = 0;
        if ((rc = mean_grad(c, c->B, c->o.batches, c->o.seed, NULL, NULL, &loss))) break;
        for (int l = 0; l < c->n_layers; l++) {
            size_t rows, cols;
            const float *G = grad_of(c, c->layer[l], &rows, &cols);
            size_t r = rmin(rows, cols), k15 = (size_t)lround(0.015 * (double)r);
            if (k15 < 1) k15 = 1;
            double *s = malloc(r * sizeof *s), *cdf = malloc(r * sizeof *cdf);
            spectra_spike_stats sp;
            if (!s || !cdf || spectra_svd_exact(G, rows, cols, s, NULL, NULL) || spectra_spike_size(s, r, &sp) ||
                spectra_energy_cdf(s, r, cdf)) {
                fprintf(stderr, "spectra analyze: %s: %s\n", c->layer[l], spectra_last_error());
                free(s);
                free(cdf);
                rc = 1;
                break;
            }
            for (size_t i = 0; i < r; i++)
                fprintf(fs, "%llu,%s,%zu,%.9g,%.9g,%.9g\n", (unsigned long long)steps[ci], c->layer[l], i + 1, s[i],
                        s[0] > 0 ? s[i] / s[0] : 0.0, cdf[i]);
            fprintf(fsum, "%llu,%s,%zu,%zu,%zu,%zu,%.6g,%.6g,%.6g,%zu,%.6g,%.6g\n", (unsigned long long)steps[ci],
                    c->layer[l], rows, cols, r, sp.k_star, sp.k_frac, sp.gap, sp.energy, k15, cdf[k15 - 1], loss);
            printf("step %llu %-22s %zux%zu  k* = %zu (k*/r = %.2f%%)  gap s_k*/s_k*+1 = %.2f  s_1/s_(r/2) = %.1f  "
                   "energy(k*) = %.1f%%  energy(1.5%% r) = %.1f%%\n",
                   (unsigned long long)steps[ci], c->layer[l], rows, cols, sp.k_star, 100 * sp.k_frac, sp.gap,
                   s[0] / s[r / 2], 100 * sp.energy, 100 * cdf[k15 - 1]);
            free(s);
            free(cdf);
        }
    }
    fclose(fs);
    fclose(fsum);
    if (rc) return rc;
    static const layer_plot p = {"spectrum", 4096, spectrum_script};
    plot_per_layer(c, &p, 1, steps);
    return 0;
}

static void moments_cdf_script(const an_ctx *c, const char *layer, const void *arg, char *script, size_t cap) {
    snprintf(script, cap,
             "set title 'energy CDF of AdamW moments, %s'\nset logscale x\nset xlabel 'j'\nset ylabel 'CDF(j)'\n"
             "set yrange [0:1.02]\nplot 'moments_cdf.csv' using (stringcolumn(1) eq '%s' ? $2 : 1/0):4 with lines "
             "lw 2 title 'm (exp_avg)', '' using (stringcolumn(1) eq '%s' ? $2 : 1/0):6 with lines lw 2 title "
             "'v (exp_avg_sq)'\n",
             layer, layer, layer);
}

static void moments_tail_script(const an_ctx *c, const char *layer, const void *arg, char *script, size_t cap) {
    snprintf(script, cap,
             "set title 'tail updates, %s'\nset xlabel 'log10 |value|'\nset ylabel 'density'\n"
             "plot 'moments_tail.csv' using (stringcolumn(1) eq '%s' ? $2 : 1/0):3 with filledcurves y1=0 fs "
             "transparent solid 0.4 title '|M_t|/(sqrt(V_s+V_t)+eps)', '' using (stringcolumn(1) eq '%s' ? $2 : "
             "1/0):4 with filledcurves y1=0 fs transparent solid 0.4 title '|M_t|/(sqrt(|V_t|)+eps)'\n",
             layer, layer, layer);
}

static int run_moments(an_ctx *c) {
    int rc = load_ckpt(c, 0);
    if (rc || (rc = resolve_layers(c))) return rc;
    char path[1200];
    FILE *fc = open_out(c, "moments_cdf.csv", path, sizeof path);
    FILE *ft = fc ? open_out(c, "moments_tail.csv", path, sizeof path) : NULL;
    FILE *fs = ft ? open_out(c, "moments_summary.csv", path, sizeof path) : NULL;
    if (!fs) {
        if (fc) fclose(fc);
        if (ft) fclose(ft);
        return 1;
    }
    fprintf(fc, "layer,i,sigma_m,cdf_m,sigma_v,cdf_v\n");
    fprintf(ft, "layer,log10_value,density_full,density_tail_only\n");
    fprintf(fs, "step,layer,k,energy_m_k,energy_v_k,kstar_m,kstar_v,energy_m_kstar,energy_v_kstar,q10_full,q50_full,"
                "q90_full,q10_tail,q50_tail,q90_tail,median_ratio,mean_log10_ratio\n");
    spectra_optim *opt = spectra_trainer_optim(c->tr);
    const uint64_t step = spectra_trainer_steps_done(c->tr);
    for (int l = 0; l < c->n_layers && !rc; l++) {
        const float *M = NULL, *V = NULL;
        size_t rows, cols, r2, c2;
        if (spectra_optim_get_state(opt, c->layer[l], "exp_avg", &M, &rows, &cols) ||
            spectra_optim_get_state(opt, c->layer[l], "exp_avg_sq", &V, &r2, &c2) || !M || !V) {
            fprintf(stderr, "spectra analyze moments: no AdamW moments for %s in this checkpoint (%s); train with "
                            "--optim adamw\n",
                    c->layer[l], M ? "not stepped yet" : spectra_last_error());
            rc = 1;
            break;
        }
        const size_t r = rmin(rows, cols), n = rows * cols;
        size_t k = c->o.rank ? (size_t)c->o.rank : (size_t)lround(0.015 * (double)r);
        if (k < 1) k = 1;
        if (k >= r) {
            fprintf(stderr, "spectra analyze moments: --rank %zu must be below r = %zu\n", k, r);
            rc = 2;
            break;
        }
        double *sm = malloc(r * sizeof *sm), *sv = malloc(r * sizeof *sv), *cm = malloc(r * sizeof *cm),
               *cv = malloc(r * sizeof *cv), hf[80], ht[80];
        float *full = malloc(n * sizeof *full), *tail = malloc(n * sizeof *tail);
        spectra_spike_stats pm, pv;
        spectra_tail_stats ts;
        if (!sm || !sv || !cm || !cv || !full || !tail || spectra_svd_exact(M, rows, cols, sm, NULL, NULL) ||
            spectra_svd_exact(V, rows, cols, sv, NULL, NULL) || spectra_energy_cdf(sm, r, cm) ||
            spectra_energy_cdf(sv, r, cv) || spectra_spike_size(sm, r, &pm) || spectra_spike_size(sv, r, &pv) ||
            spectra_tail_suppression(M, V, rows, cols, k, 1e-8, full, tail, &ts)) {
            fprintf(stderr, "spectra analyze moments: %s: %s\n", c->layer[l], spectra_last_error());
            rc = 1;
        } else {
            for (size_t i = 0; i < r; i++)
                fprintf(fc, "%s,%zu,%.9g,%.9g,%.9g,%.9g\n", c->layer[l], i + 1, sm[i], cm[i], sv[i], cv[i]);
            double lo = floor(log10(fmax(spectra_quantile(full, n, 0.001), 1e-30))) - 0.5;
            double hi = ceil(log10(fmax(spectra_quantile(tail, n, 0.999), 1e-30))) + 0.5;
            spectra_log10_histogram(full, n, lo, hi, 80, hf);
            spectra_log10_histogram(tail, n, lo, hi, 80, ht);
            for (int b = 0; b < 80; b++)
                fprintf(ft, "%s,%.5g,%.6g,%.6g\n", c->layer[l], lo + (b + 0.5) * (hi - lo) / 80, hf[b], ht[b]);
            fprintf(fs, "%llu,%s,%zu,%.6g,%.6g,%zu,%zu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
                    (unsigned long long)step, c->layer[l], k, cm[k - 1], cv[k - 1], pm.k_star, pv.k_star, pm.energy,
                    pv.energy, ts.q_full[0], ts.q_full[2], ts.q_full[4], ts.q_tail[0], ts.q_tail[2], ts.q_tail[4],
                    ts.median_ratio, ts.mean_log10_ratio);
            printf("step %llu %-22s k = %zu: energy in top k: m %.1f%%, v %.1f%%  (k*: m %zu, v %zu)  median "
                   "|M_t|/sqrt(V) = %.3g vs |M_t|/sqrt(|V_t|) = %.3g: ratio %.1fx (mean log10 ratio %.2f)\n",
                   (unsigned long long)step, c->layer[l], k, 100 * cm[k - 1], 100 * cv[k - 1], pm.k_star, pv.k_star,
                   ts.q_full[2], ts.q_tail[2], ts.median_ratio, ts.mean_log10_ratio);
        }
        free(sm);
        free(sv);
        free(cm);
        free(cv);
        free(full);
        free(tail);
    }
    fclose(fc);
    fclose(ft);
    fclose(fs);
    if (rc) return rc;
    static const layer_plot p[] = {{"moments_cdf", 2048, moments_cdf_script}, {"moments_tail", 2048, moments_tail_script}};
    plot_per_layer(c, p, 2, NULL);
    return 0;
}

/* Spearman rank correlation of y against its index (no ties expected in y). */
static double spearman_vs_index(const double *y, size_t n) {
    double *rk = malloc(n * sizeof *rk);
    if (!rk || n < 2) {
        free(rk);
        return NAN;
    }
    for (size_t i = 0; i < n; i++) {
        size_t below = 0;
        for (size_t j = 0; j < n; j++) below += y[j] < y[i];
        rk[i] = (double)below;
    }
    double d2 = 0;
    for (size_t i = 0; i < n; i++) d2 += (rk[i] - (double)i) * (rk[i] - (double)i);
    free(rk);
    return 1.0 - 6.0 * d2 / ((double)n * ((double)n * n - 1.0));
}

static void relvar_script(const an_ctx *c, const char *layer, const void *arg, char *script, size_t cap) {
    snprintf(script, cap,
             "set title 'RelVar(k) = Var(u_k^T G_i v_k) / sigma_k^2, %s, micro-batch %d'\nset logscale y\nset format y '%%.0e'\n"
             "set xlabel 'k'\nset ylabel 'RelVar'\nplot 'relvar.csv' using (stringcolumn(1) eq '%s' ? $2 : 1/0):4 "
             "with lines lw 2 title 'RelVar'\n",
             layer, c->o.micro_batch, layer);
}

static int run_relvar(an_ctx *c) {
    int rc = load_ckpt(c, 0);
    if (rc || (rc = resolve_layers(c))) return rc;
    const int L = c->n_layers, N = c->o.micro;
    double *s[MAX_LAYERS] = {0}, *U[MAX_LAYERS] = {0}, *V[MAX_LAYERS] = {0}, *a[MAX_LAYERS] = {0};
    size_t R[MAX_LAYERS];
    fprintf(stderr, "relvar: reference gradient over %d batches of %d x %d...\n", c->o.ref_batches, c->B, c->T);
    if ((rc = mean_grad(c, c->B, c->o.ref_batches, c->o.seed, NULL, NULL, NULL))) return rc;
    for (int l = 0; l < L && !rc; l++) {
        size_t rows, cols;
        const float *G = grad_of(c, c->layer[l], &rows, &cols);
        R[l] = rmin(rows, cols);
        s[l] = malloc(R[l] * sizeof(double));
        U[l] = malloc(rows * R[l] * sizeof(double));
        V[l] = malloc(cols * R[l] * sizeof(double));
        a[l] = malloc((size_t)N * R[l] * sizeof(double));
        if (!s[l] || !U[l] || !V[l] || !a[l] || spectra_svd_exact(G, rows, cols, s[l], U[l], V[l])) {
            fprintf(stderr, "spectra analyze relvar: %s: %s\n", c->layer[l], spectra_last_error());
            rc = 1;
        }
    }
    /* Micro-batches come from a differently seeded loader: the reference is not reused. */
    spectra_loader *ld = rc ? NULL : open_loader(c, c->o.micro_batch, c->o.seed + 7919);
    if (!rc && !ld) rc = 1;
    int tty = isatty(2);
    for (int i = 0; i < N && !rc; i++) {
        spectra_grad_opts go = {1, NULL, NULL, 0};
        if (spectra_mean_gradient(spectra_trainer_model(c->tr), ld, c->o.micro_batch, c->T, &go, NULL)) {
            fprintf(stderr, "\nspectra analyze relvar: %s\n", spectra_last_error());
            rc = 1;
            break;
        }
        for (int l = 0; l < L && !rc; l++) {
            size_t rows, cols;
            const float *G = grad_of(c, c->layer[l], &rows, &cols);
            if (spectra_spectral_projections(G, rows, cols, U[l], V[l], R[l], R[l], a[l] + (size_t)i * R[l])) {
                fprintf(stderr, "\nspectra analyze relvar: %s\n", spectra_last_error());
                rc = 1;
            }
        }
        if (tty || (i + 1) % 10 == 0 || i + 1 == N)
            fprintf(stderr, tty ? "\rrelvar: micro-batch %d/%d" : "relvar: micro-batch %d/%d\n", i + 1, N);
    }
    if (tty) fprintf(stderr, "\n");
    if (ld) spectra_loader_free(ld);
    char path[1200];
    FILE *f = rc ? NULL : open_out(c, "relvar.csv", path, sizeof path);
    if (!rc && !f) rc = 1;
    if (f) fprintf(f, "layer,k,sigma,relvar\n");
    for (int l = 0; l < L && !rc; l++) {
        double *rv = malloc(R[l] * sizeof *rv);
        if (!rv || spectra_relvar(a[l], (size_t)N, R[l], s[l], rv)) {
            free(rv);
            rc = 1;
            break;
        }
        for (size_t k = 0; k < R[l]; k++) fprintf(f, "%s,%zu,%.9g,%.9g\n", c->layer[l], k + 1, s[l][k], rv[k]);
        size_t r = R[l];
        printf("%-22s RelVar(k): k=1 %.3g, k=%zu %.3g, k=%zu %.3g, k=%zu %.3g; Spearman(k, RelVar) = %.3f (%d "
               "micro-batches of %d)\n",
               c->layer[l], rv[0], r / 4, rv[r / 4 - 1], r / 2, rv[r / 2 - 1], r, rv[r - 1], spearman_vs_index(rv, r), N,
               c->o.micro_batch);
        free(rv);
    }
    if (f) fclose(f);
    for (int l = 0; l < L; l++) {
        free(s[l]);
        free(U[l]);
        free(V[l]);
        free(a[l]);
    }
    if (rc) return rc;
    static const layer_plot p = {"relvar", 2048, relvar_script};
    plot_per_layer(c, &p, 1, NULL);
    return 0;
}

static void ns_align_script(const an_ctx *c, const char *layer, const void *arg, char *script, size_t cap) {
    snprintf(script, cap,
             "set title 'alignment of right singular vectors, G vs NS(G), %s'\nset xlabel 'i'\n"
             "set ylabel 'max_j |<v_i, vhat_j>|'\nset yrange [0:1.05]\nplot 'ns_align.csv' using "
             "(stringcolumn(1) eq '%s' ? $2 : 1/0):7 with points pt 7 ps 0.5 title 'bf16 NS (as muon.py in torch)', "
             "'' using (stringcolumn(1) eq '%s' ? $2 : 1/0):5 with points pt 7 ps 0.4 title 'fp32 NS (this library)'\n",
             layer, layer, layer);
}

static int run_ns_align(an_ctx *c) {
    int rc = load_ckpt(c, 0);
    if (rc || (rc = resolve_layers(c)) || (rc = mean_grad(c, c->B, c->o.batches, c->o.seed, NULL, NULL, NULL))) return rc;
    char path[1200];
    FILE *f = open_out(c, "ns_align.csv", path, sizeof path);
    if (!f) return 1;
    fprintf(f, "layer,i,sigma_g,sigma_ns_fp32,align_fp32,sigma_ns_bf16,align_bf16\n");
    for (int l = 0; l < c->n_layers && !rc; l++) {
        size_t rows, cols;
        const float *G = grad_of(c, c->layer[l], &rows, &cols);
        size_t r = rmin(rows, cols), h = (size_t)lround(0.015 * (double)r);
        if (h < 1) h = 1;
        double *al = malloc(r * sizeof *al), *sg = malloc(r * sizeof *sg), *sn = malloc(r * sizeof *sn),
               *al2 = malloc(r * sizeof *al2), *sn2 = malloc(r * sizeof *sn2);
        if (!al || !sg || !sn || !al2 || !sn2 || spectra_ns_alignment(G, rows, cols, c->o.ns_steps, 0, al, sg, sn) ||
            spectra_ns_alignment(G, rows, cols, c->o.ns_steps, 1, al2, NULL, sn2)) {
            fprintf(stderr, "spectra analyze ns-align: %s: %s\n", c->layer[l], spectra_last_error());
            rc = 1;
        } else {
            for (size_t i = 0; i < r; i++)
                fprintf(f, "%s,%zu,%.9g,%.9g,%.9g,%.9g,%.9g\n", c->layer[l], i + 1, sg[i], sn[i], al[i], sn2[i], al2[i]);
            for (int p = 0; p < 2; p++) {
                const double *a = p ? al2 : al;
                double head = 0, tail = 0;
                for (size_t i = 0; i < h; i++) head += a[i];
                for (size_t i = r - r / 10; i < r; i++) tail += a[i];
                printf("%-22s align (%s NS, %d steps): mean over top %zu = %.3f, align(1) = %.3f, align(r/2) = %.3f, mean "
                       "over last 10%% = %.3f\n",
                       c->layer[l], p ? "bf16" : "fp32", c->o.ns_steps, h, head / (double)h, a[0], a[r / 2],
                       tail / (double)(r / 10));
            }
        }
        free(al);
        free(sg);
        free(sn);
        free(al2);
        free(sn2);
    }
    fclose(f);
    if (rc) return rc;
    static const layer_plot p = {"ns_align", 2048, ns_align_script};
    plot_per_layer(c, &p, 1, NULL);
    return 0;
}

static void intervene_script(const an_ctx *c, const char *layer, const void *arg, char *script, size_t cap) {
    snprintf(script, cap,
             "set title 'gradient spectrum under interventions, %s'\nset logscale y\nset format y '%%.0e'\nset logscale x\n"
             "set xlabel 'k'\nset ylabel 'sigma_k'\nf='intervene.csv'\nsel(c)=stringcolumn(1) eq '%s' ? c : 1/0\n"
             "plot f using (sel($2)):3 with lines lw 2 title 'raw', f using (sel($2)):4 with lines lw 2 title "
             "'FreqNorm', f using (sel($2)):5 with lines lw 2 title 'Shuffle', f using (sel($2)):6 with lines dt 2 "
             "title '|dsigma| FreqNorm', f using (sel($2)):7 with lines dt 2 title '|dsigma| Shuffle', f using (sel($2)):8 "
             "with lines dt 3 title 'FreqNorm at raw norm', f using (sel($2)):9 with lines dt 3 title 'Shuffle at raw "
             "norm'\n",
             layer, layer);
}

static int run_intervene(an_ctx *c) {
    int rc = load_ckpt(c, 0);
    if (rc || (rc = resolve_layers(c))) return rc;
    const uint32_t vocab = (uint32_t)c->cfg.model.vocab_size;
    float *w = malloc(vocab * sizeof *w);
    uint8_t *ends = malloc(vocab);
    spectra_tokenizer *tok = data_load_tokenizer(c->shards.tokenizer_dir, 0, NULL, 0);
    double *sig[MAX_LAYERS][3] = {{0}};
    if (!w || !ends || !tok) {
        fprintf(stderr, "spectra analyze intervene: %s\n", tok ? "out of memory" : "no tokenizer for the data");
        rc = 1;
    } else if (spectra_token_weights_freqnorm((const char *const *)c->shards.train, c->shards.n_train, vocab, w) ||
               spectra_sentence_end_tokens(tok, vocab, ends)) {
        fprintf(stderr, "spectra analyze intervene: %s\n", spectra_last_error());
        rc = 1;
    }
    size_t n_end = 0;
    for (uint32_t t = 0; !rc && t < vocab; t++) n_end += ends[t];
    static const char *cond[3] = {"raw", "freqnorm", "shuffle"};
    double loss[3] = {0};
    for (int k = 0; k < 3 && !rc; k++) {
        fprintf(stderr, "intervene: %s gradient over %d batches...\n", cond[k], c->o.batches);
        if ((rc = mean_grad(c, c->B, c->o.batches, c->o.seed, k == 1 ? w : NULL, k == 2 ? ends : NULL, &loss[k])))
            break;
        for (int l = 0; l < c->n_layers && !rc; l++) {
            size_t rows, cols;
            const float *G = grad_of(c, c->layer[l], &rows, &cols);
            sig[l][k] = malloc(rmin(rows, cols) * sizeof(double));
            if (!sig[l][k] || spectra_svd_exact(G, rows, cols, sig[l][k], NULL, NULL)) {
                fprintf(stderr, "spectra analyze intervene: %s\n", spectra_last_error());
                rc = 1;
            }
        }
    }
    char path[1200];
    FILE *f = rc ? NULL : open_out(c, "intervene.csv", path, sizeof path);
    if (!rc && !f) rc = 1;
    if (f) {
        /* The *_normed columns rescale each spectrum to the raw gradient's Frobenius norm: FreqNorm's
         * weights change the overall scale of the loss, and the question is where the shape changes. */
        fprintf(f, "layer,i,sigma_raw,sigma_freqnorm,sigma_shuffle,abs_delta_freqnorm,abs_delta_shuffle,"
                   "sigma_freqnorm_normed,sigma_shuffle_normed\n");
        printf("sentence-end tokens: %zu; mean loss raw %.4f, FreqNorm (weighted) %.4f, Shuffle %.4f\n", n_end, loss[0],
               loss[1], loss[2]);
        for (int l = 0; l < c->n_layers; l++) {
            size_t rows, cols;
            grad_of(c, c->layer[l], &rows, &cols);
            size_t r = rmin(rows, cols), h = (size_t)lround(0.015 * (double)r);
            if (h < 1) h = 1;
            double *s0 = sig[l][0], *s1 = sig[l][1], *s2 = sig[l][2], hf = 0, hs = 0, tf = 0, ts = 0;
            double n0 = 0, n1 = 0, n2 = 0;
            for (size_t i = 0; i < r; i++) {
                n0 += s0[i] * s0[i];
                n1 += s1[i] * s1[i];
                n2 += s2[i] * s2[i];
            }
            const double k1 = n1 > 0 ? sqrt(n0 / n1) : 0, k2 = n2 > 0 ? sqrt(n0 / n2) : 0;
            for (size_t i = 0; i < r; i++) {
                fprintf(f, "%s,%zu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", c->layer[l], i + 1, s0[i], s1[i], s2[i],
                        fabs(s1[i] - s0[i]), fabs(s2[i] - s0[i]), k1 * s1[i], k2 * s2[i]);
                if (i < h) {
                    hf += fabs(s1[i] - s0[i]) / s0[i];
                    hs += fabs(s2[i] - s0[i]) / s0[i];
                } else if (i >= r / 2) {
                    tf += fabs(s1[i] - s0[i]) / s0[i];
                    ts += fabs(s2[i] - s0[i]) / s0[i];
                }
            }
            printf("%-22s sigma_1: raw %.4g, FreqNorm %.4g (%+.1f%%), Shuffle %.4g (%+.1f%%); mean |dsigma|/sigma "
                   "top %zu: FreqNorm %.1f%%, Shuffle %.1f%%; lower half: FreqNorm %.1f%%, Shuffle %.1f%%\n",
                   c->layer[l], s0[0], s1[0], 100 * (s1[0] / s0[0] - 1), s2[0], 100 * (s2[0] / s0[0] - 1), h,
                   100 * hf / (double)h, 100 * hs / (double)h, 100 * tf / (double)(r - r / 2),
                   100 * ts / (double)(r - r / 2));
            printf("%-22s at equal Frobenius norm: sigma_1 FreqNorm %+.1f%%, Shuffle %+.1f%%; share of energy in top "
                   "%zu: raw %.1f%%, FreqNorm %.1f%%, Shuffle %.1f%%\n",
                   c->layer[l], 100 * (k1 * s1[0] / s0[0] - 1), 100 * (k2 * s2[0] / s0[0] - 1), h,
                   100 * spectra_energy_share(s0, r, h), 100 * spectra_energy_share(s1, r, h),
                   100 * spectra_energy_share(s2, r, h));
        }
        fclose(f);
    }
    for (int l = 0; l < MAX_LAYERS; l++)
        for (int k = 0; k < 3; k++) free(sig[l][k]);
    free(w);
    free(ends);
    spectra_tokenizer_free(tok);
    if (rc) return rc;
    static const layer_plot p = {"intervene", 3072, intervene_script};
    plot_per_layer(c, &p, 1, NULL);
    return 0;
}

/* Wall time of spectra_svd_exact on a Gaussian matrix: values only, and with vectors. */
static int run_svd_bench(const an_opts *o) {
    const size_t m = (size_t)o->rows, n = (size_t)o->cols, r = m < n ? m : n;
    float *X = malloc(m * n * sizeof *X);
    double *s = malloc(r * sizeof *s), *U = malloc(m * r * sizeof *U), *V = malloc(n * r * sizeof *V);
    int rc = 0;
    if (!X || !s || !U || !V) rc = 1;
    for (size_t i = 0; !rc && i < m * n; i++) X[i] = (float)(((double)((i * 2654435761u) % 1000003) / 1000003.0) - 0.5);
    for (int k = 0; !rc && k < o->repeats; k++) {
        double t0 = data_now();
        if (spectra_svd_exact(X, m, n, s, NULL, NULL)) rc = 1;
        double t1 = data_now();
        if (!rc && spectra_svd_exact(X, m, n, s, U, V)) rc = 1;
        double t2 = data_now();
        if (!rc)
            printf("svd %zu x %zu (dgesdd): singular values %.3f s, with U and V %.3f s\n", m, n, t1 - t0, t2 - t1);
    }
    if (rc) fprintf(stderr, "spectra analyze svd-bench: %s\n", spectra_last_error());
    free(X);
    free(s);
    free(U);
    free(V);
    return rc;
}

int cmd_analyze(int argc, char **argv) {
    an_ctx c;
    memset(&c, 0, sizeof c);
    int rc = parse(argc, argv, &c.o);
    if (rc) return rc < 0 ? 0 : rc;
    if (!strcmp(c.o.sub, "svd-bench")) return run_svd_bench(&c.o);
    if (cli_find_shards(c.o.data, &c.shards)) return 1;
    /* Every checkpoint's header is read before --out is created: a typo must leave nothing behind. */
    for (int i = 0; i < c.o.n_ckpt; i++) {
        spectra_train_config probe;
        if (spectra_checkpoint_read_config(c.o.ckpt[i], &probe) != SPECTRA_OK) {
            fprintf(stderr, "spectra analyze: cannot read checkpoint '%s': %s\n", c.o.ckpt[i], spectra_last_error());
            cli_free_shards(&c.shards);
            return 1;
        }
    }
    if (cli_mkdir_p(c.o.out)) {
        fprintf(stderr, "spectra analyze: cannot create '%s': %s\n", c.o.out, strerror(errno));
        cli_free_shards(&c.shards);
        return 1;
    }
    if (!strcmp(c.o.sub, "spectrum")) rc = run_spectrum(&c);
    else if (!strcmp(c.o.sub, "moments")) rc = run_moments(&c);
    else if (!strcmp(c.o.sub, "relvar")) rc = run_relvar(&c);
    else if (!strcmp(c.o.sub, "ns-align")) rc = run_ns_align(&c);
    else rc = run_intervene(&c);
    if (c.tr) spectra_trainer_destroy(c.tr);
    cli_free_shards(&c.shards);
    if (rc == 0) printf("CSV in %s/\n", c.o.out);
    return rc;
}
