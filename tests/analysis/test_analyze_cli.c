/* `spectra analyze` end to end on a tiny checkpoint made here: a BPE tokenizer trained on a
 * generated text, shards, a few AdamW steps with the library's trainer. Every subcommand
 * must write CSV files that parse, with the documented columns and row counts and values
 * in their ranges; bad arguments must be usage errors that say what is wrong. Also the
 * gradient helpers against direct oracles: FreqNorm weights from known counts, and the mean
 * gradient against forward/backward calls made by hand.
 * argv[1] = the spectra CLI binary (default: the one built with this test). */
#define _POSIX_C_SOURCE 200809L
#include "spectra/spectra.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/rng.h"

static char dir[256], data[300], cli[1024];
static uint32_t vocab;

static int make_data(void) {
    static const char *words[] = {"the", "cat", "dog", "sat", "ran", "on", "a", "mat", "big", "red", "and", "then",
                                  "we", "saw", "it", "home", "far", "away", "quick", "slow"};
    static const char *ends[] = {". ", "! ", "? ", ".\n"};
    spectra_rng rng;
    spectra_rng_seed(&rng, 77);
    size_t cap = 200000, len = 0;
    char *text = malloc(cap);
    while (len + 200 < cap) {
        int nw = 3 + (int)(spectra_rng_next(&rng) % 8);
        for (int w = 0; w < nw; w++)
            len += (size_t)snprintf(text + len, cap - len, "%s%s", w ? " " : "", words[spectra_rng_next(&rng) % 20]);
        len += (size_t)snprintf(text + len, cap - len, "%s", ends[spectra_rng_next(&rng) % 4]);
    }
    char tokdir[400], path[500];
    snprintf(tokdir, sizeof tokdir, "%s/tokenizer", data);
    mkdir(data, 0755);
    mkdir(tokdir, 0755);
    spectra_bpe_trainer *bt = NULL;
    if (spectra_bpe_trainer_create(&bt) != SPECTRA_OK) return -1;
    spectra_status st = spectra_bpe_trainer_add_text(bt, text, len);
    if (st == SPECTRA_ERR_UNSUPPORTED) {
        spectra_bpe_trainer_free(bt);
        free(text);
        return 77;
    }
    CHECK_OK(st);
    CHECK_OK(spectra_bpe_trainer_train(bt, 300, NULL, NULL));
    vocab = (uint32_t)spectra_bpe_trainer_vocab_size(bt);
    CHECK_OK(spectra_bpe_trainer_save(bt, tokdir));
    spectra_bpe_trainer_free(bt);
    spectra_tokenizer *tok = NULL;
    CHECK_OK(spectra_tokenizer_load_dir(tokdir, &tok));
    spectra_token_buf ids = {0};
    CHECK_OK(spectra_tokenizer_encode(tok, text, len, &ids));
    spectra_tokenizer_free(tok);
    snprintf(path, sizeof path, "%s/t_train_000000.bin", data);
    CHECK_OK(spectra_shard_write(path, ids.ids, ids.len, vocab));
    snprintf(path, sizeof path, "%s/t_val_000000.bin", data);
    CHECK_OK(spectra_shard_write(path, ids.ids, ids.len / 10, vocab));
    snprintf(path, sizeof path, "%s/manifest.json", data);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"vocab_size\": %u}\n", vocab);
    fclose(f);
    spectra_token_buf_free(&ids);
    free(text);
    return 0;
}

static spectra_train_config tiny(void) {
    spectra_train_config c = spectra_train_config_default();
    spectra_model_config_from_preset("tiny", &c.model);
    c.model.vocab_size = (int)vocab;
    c.batch_size = 4;
    c.seq_len = 16;
    c.max_steps = 20;
    c.warmup_steps = 2;
    c.matrix = spectra_hparams_default(SPECTRA_ALGO_ADAMW);
    c.val_batches = 1;
    return c;
}

static void make_checkpoints(void) {
    char tr_path[400], p1[400], p2[400];
    snprintf(tr_path, sizeof tr_path, "%s/t_train_000000.bin", data);
    snprintf(p1, sizeof p1, "%s/ck5.bin", dir);
    snprintf(p2, sizeof p2, "%s/ck10.bin", dir);
    const char *tr[1] = {tr_path};
    spectra_train_config c = tiny();
    spectra_trainer *t = NULL;
    CHECK_OK(spectra_trainer_create(&t, &c, tr, 1, NULL, 0));
    if (!t) return;
    spectra_step_stats s;
    for (int i = 0; i < 10; i++) {
        CHECK_OK(spectra_trainer_step(t, &s));
        if (i == 4) CHECK_OK(spectra_trainer_save(t, p1));
    }
    CHECK_OK(spectra_trainer_save(t, p2));
    spectra_trainer_destroy(t);
}

/* Runs the CLI; returns its exit code and leaves stderr in dir/err.txt. */
static int run(const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' analyze %s > '%s/out.txt' 2> '%s/err.txt'", cli, args, dir, dir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int err_has(const char *needle) {
    char path[400], buf[8192] = {0};
    snprintf(path, sizeof path, "%s/err.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    if (!strstr(buf, needle)) fprintf(stderr, "stderr lacks '%s':\n%s\n", needle, buf);
    return strstr(buf, needle) != NULL;
}

/* Parses a CSV: checks the header, that every row has ncols fields, the first
 * `text_cols` of them anything and the rest numbers; returns the rows (caller frees) as
 * doubles (text columns NAN). */
static double *read_csv(const char *name, const char *header, int ncols, int *nrows) {
    char path[400], line[4096];
    snprintf(path, sizeof path, "%s/out/%s", dir, name);
    FILE *f = fopen(path, "r");
    *nrows = 0;
    CHECK_MSG(f != NULL, "%s missing", path);
    if (!f) return NULL;
    CHECK(fgets(line, sizeof line, f) && !strncmp(line, header, strlen(header)) && line[strlen(header)] == '\n');
    size_t cap = 1024;
    double *v = malloc(cap * (size_t)ncols * sizeof *v);
    int bad = 0;
    while (fgets(line, sizeof line, f)) {
        if ((size_t)(*nrows + 1) > cap) v = realloc(v, (cap *= 2) * (size_t)ncols * sizeof *v);
        char *p = line;
        for (int c = 0; c < ncols; c++) {
            char *end = strchr(p, c + 1 < ncols ? ',' : '\n');
            if (!end) {
                bad++;
                break;
            }
            *end = 0;
            char *num_end;
            double x = strtod(p, &num_end);
            v[(size_t)*nrows * (size_t)ncols + (size_t)c] = (*p && *num_end == 0) ? x : NAN;
            p = end + 1;
        }
        (*nrows)++;
    }
    fclose(f);
    CHECK_MSG(bad == 0, "%s: %d malformed rows", name, bad);
    return v;
}

static void test_cli(void) {
    char a[2048];
    /* Layers of the tiny model: w_down of the last layer is 32 x 96 (r 32), layer 0's wk
     * 16 x 32 (r 16). */
    const int R = 32 + 16;
    snprintf(a, sizeof a, "spectrum --checkpoint %s/ck5.bin --checkpoint %s/ck10.bin --data %s --out %s/out --batches 2 --no-plot",
             dir, dir, data, dir);
    CHECK(run(a) == 0);
    int n;
    double *v = read_csv("spectrum.csv", "step,layer,i,sigma,sigma_rel,cdf", 6, &n);
    CHECK(n == 2 * R);
    for (int i = 0; v && i < n; i++) {
        double *r = v + 6 * i;
        CHECK(r[0] == 5 || r[0] == 10);
        CHECK(isnan(r[1]));
        CHECK(r[3] >= 0 && r[4] <= 1 + 1e-12 && r[5] >= 0 && r[5] <= 1 + 1e-12);
        if (i + 1 < n && r[6 + 2] == r[2] + 1) CHECK(r[6 + 3] <= r[3]); /* descending */
        if (i + 1 == n || r[6 + 2] == 1) CHECK_NEAR(r[5], 1.0, 1e-6);  /* CDF ends at 1 */
    }
    free(v);
    v = read_csv("spectrum_summary.csv", "step,layer,rows,cols,r,k_star,k_frac,gap,energy_kstar,k_1.5pct,energy_1.5pct,loss", 12,
                 &n);
    CHECK(n == 4);
    for (int i = 0; v && i < n; i++) {
        double *r = v + 12 * i;
        CHECK(r[5] >= 1 && r[5] <= r[4] / 4 && fabs(r[6] - r[5] / r[4]) < 1e-5 && r[7] >= 1 && r[11] > 0);
    }
    free(v);

    snprintf(a, sizeof a, "moments --checkpoint %s/ck10.bin --data %s --out %s/out --no-plot", dir, data, dir);
    CHECK(run(a) == 0);
    v = read_csv("moments_cdf.csv", "layer,i,sigma_m,cdf_m,sigma_v,cdf_v", 6, &n);
    CHECK(n == R);
    free(v);
    v = read_csv("moments_summary.csv",
                 "step,layer,k,energy_m_k,energy_v_k,kstar_m,kstar_v,energy_m_kstar,energy_v_kstar,q10_full,q50_full,q90_full,"
                 "q10_tail,q50_tail,q90_tail,median_ratio,mean_log10_ratio",
                 17, &n);
    CHECK(n == 2);
    for (int i = 0; v && i < n; i++) CHECK(v[17 * i] == 10 && v[17 * i + 2] == 1 && v[17 * i + 15] > 0);
    free(v);
    v = read_csv("moments_tail.csv", "layer,log10_value,density_full,density_tail_only", 4, &n);
    CHECK(n == 2 * 80);
    free(v);

    snprintf(a, sizeof a, "relvar --checkpoint %s/ck10.bin --data %s --out %s/out --ref-batches 2 --micro 5 --no-plot", dir, data,
             dir);
    CHECK(run(a) == 0);
    CHECK(err_has("micro-batch 5/5"));
    v = read_csv("relvar.csv", "layer,k,sigma,relvar", 4, &n);
    CHECK(n == R);
    for (int i = 0; v && i < n; i++) CHECK(v[4 * i + 3] >= 0);
    free(v);

    snprintf(a, sizeof a, "ns-align --checkpoint %s/ck10.bin --data %s --out %s/out --batches 2 --no-plot", dir, data, dir);
    CHECK(run(a) == 0);
    v = read_csv("ns_align.csv", "layer,i,sigma_g,sigma_ns_fp32,align_fp32,sigma_ns_bf16,align_bf16", 7, &n);
    CHECK(n == R);
    for (int i = 0; v && i < n; i++)
        CHECK(v[7 * i + 4] >= 0 && v[7 * i + 4] <= 1 + 1e-9 && v[7 * i + 6] >= 0 && v[7 * i + 6] <= 1 + 1e-9);
    free(v);

    snprintf(a, sizeof a, "intervene --checkpoint %s/ck10.bin --data %s --out %s/out --batches 2 --no-plot", dir, data, dir);
    CHECK(run(a) == 0);
    v = read_csv("intervene.csv",
                 "layer,i,sigma_raw,sigma_freqnorm,sigma_shuffle,abs_delta_freqnorm,abs_delta_shuffle,sigma_freqnorm_normed,"
                 "sigma_shuffle_normed",
                 9, &n);
    CHECK(n == R);
    double e[2][3] = {{0}};
    for (int i = 0; v && i < n; i++) {
        double *r = v + 9 * i;
        CHECK(fabs(r[5] - fabs(r[3] - r[2])) <= 1e-6 * r[2] + 1e-12);
        int l = i >= 32; /* w_down's 32 rows first, then wk's 16 */
        e[l][0] += r[2] * r[2], e[l][1] += r[7] * r[7], e[l][2] += r[8] * r[8];
    }
    for (int l = 0; l < 2; l++) /* the normed spectra have the raw Frobenius norm */
        CHECK(fabs(e[l][1] - e[l][0]) <= 1e-5 * e[l][0] && fabs(e[l][2] - e[l][0]) <= 1e-5 * e[l][0]);
    free(v);

    CHECK(run("svd-bench --rows 20 --cols 30 --repeats 1") == 0);

    /* Bad arguments: exit 2 with a message naming the problem; a missing file: exit 1. */
    CHECK(run("bogus") == 2 && err_has("unknown subcommand 'bogus'"));
    CHECK(run("spectrum --frobnicate 3") == 2 && err_has("unknown option '--frobnicate'"));
    CHECK(run("spectrum") == 2 && err_has("--checkpoint is required"));
    CHECK(run("spectrum --checkpoint") == 2 && err_has("needs a value"));
    snprintf(a, sizeof a, "spectrum --checkpoint %s/ck10.bin --data %s --out %s/out --layers layers.9.mlp.w_up --no-plot", dir, data,
             dir);
    CHECK(run(a) == 2 && err_has("unknown layer 'layers.9.mlp.w_up'"));
    snprintf(a, sizeof a, "spectrum --checkpoint %s/ck10.bin --data %s --out %s/out --batches 0", dir, data, dir);
    CHECK(run(a) == 2 && err_has("--batches"));
    snprintf(a, sizeof a, "moments --checkpoint %s/nope.bin --data %s --out %s/out", dir, data, dir);
    CHECK(run(a) == 1 && err_has("cannot read checkpoint"));
    snprintf(a, sizeof a, "relvar --checkpoint %s/ck5.bin --checkpoint %s/ck10.bin --data %s", dir, dir, data);
    CHECK(run(a) == 2 && err_has("one --checkpoint"));
}

/* Plots: with gnuplot installed, `spectrum` and `moments` without --no-plot announce one PNG
 * per plot and layer, each a real PNG of the size the scripts set (900 x 600), and gnuplot
 * reports nothing: an empty data selection (a layer name or column the script gets wrong)
 * makes gnuplot fail ("x range is invalid") or warn ("Skipping data file with no valid
 * points"), which the CLI passes through. */
static int file_has(const char *name, const char *needle) {
    char path[400], buf[16384] = {0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strstr(buf, needle) != NULL;
}

/* Checks every "  plot: PATH" line of dir/out.txt; returns how many there were. */
static int check_announced_pngs(const char *prefix) {
    char path[400], line[1200];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return 0;
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "plot: ");
        if (!p) continue;
        p += 6;
        p[strcspn(p, "\n")] = 0;
        CHECK_MSG(strstr(p, prefix) != NULL, "unexpected plot %s", p);
        unsigned char h[24] = {0};
        FILE *png = fopen(p, "rb");
        CHECK_MSG(png != NULL, "announced plot %s missing", p);
        if (!png) continue;
        size_t got = fread(h, 1, sizeof h, png);
        fclose(png);
        static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        uint32_t w = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 | h[19];
        uint32_t hgt = (uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 | (uint32_t)h[22] << 8 | h[23];
        CHECK_MSG(got == sizeof h && !memcmp(h, sig, 8) && !memcmp(h + 12, "IHDR", 4), "%s is not a PNG", p);
        CHECK_MSG(w == 900 && hgt == 600, "%s is %u x %u, not 900 x 600", p, w, hgt);
        count++;
    }
    fclose(f);
    return count;
}

static void test_plots(void) {
    if (system("gnuplot --version > /dev/null 2>&1") != 0) {
        printf("note: no gnuplot on PATH; plot checks skipped (scripts/setup-deps.sh installs it)\n");
        return;
    }
    char a[2048];
    snprintf(a, sizeof a, "spectrum --checkpoint %s/ck10.bin --data %s --out %s/plots --batches 2", dir, data, dir);
    CHECK(run(a) == 0);
    CHECK(!file_has("err.txt", "gnuplot failed") && !file_has("out.txt", "arning"));
    int layers = 2; /* the tiny model's analysed layers (spectrum_summary.csv has 2 per step) */
    CHECK_MSG(check_announced_pngs("/plots/spectrum_") == layers, "spectrum: not one plot per layer");
    snprintf(a, sizeof a, "moments --checkpoint %s/ck10.bin --data %s --out %s/plots", dir, data, dir);
    CHECK(run(a) == 0);
    CHECK(!file_has("err.txt", "gnuplot failed") && !file_has("out.txt", "arning"));
    CHECK_MSG(check_announced_pngs("/plots/moments_") == 2 * layers, "moments: not two plots per layer");
}

/* FreqNorm weights from known counts: tokens {0: 3, 1: 1} in a 4-id vocabulary, N = 4,
 * 2 ids seen: w = N / (2 c) = 2/3 and 2, unseen ids as one occurrence: 2. */
static void test_freqnorm(void) {
    char path[400];
    snprintf(path, sizeof path, "%s/fq_train_000000.bin", dir);
    int32_t ids[4] = {0, 1, 0, 0};
    CHECK_OK(spectra_shard_write(path, ids, 4, 4));
    const char *p[1] = {path};
    float w[4];
    CHECK_OK(spectra_token_weights_freqnorm(p, 1, 4, w));
    CHECK_NEAR(w[0], 2.0 / 3.0, 1e-7);
    CHECK_NEAR(w[1], 2.0, 1e-7);
    CHECK_NEAR(w[2], 2.0, 1e-7);
    CHECK_NEAR((3 * w[0] + w[1]) / 4, 1.0, 1e-7);
    CHECK(spectra_token_weights_freqnorm(p, 1, 1, w) != SPECTRA_OK); /* id 1 >= vocab 1: refused */
}

/* The mean gradient over 2 batches equals the average of two forward/backward passes on
 * the same batches made by hand; all-ones FreqNorm weights change nothing. */
static void test_mean_gradient(void) {
    char tr_path[400];
    snprintf(tr_path, sizeof tr_path, "%s/t_train_000000.bin", data);
    const char *tr[1] = {tr_path};
    spectra_model_config mc;
    spectra_model_config_from_preset("tiny", &mc);
    mc.vocab_size = (int)vocab;
    spectra_model *m = NULL;
    CHECK_OK(spectra_model_create(&m, &mc, 3));
    if (!m) return;
    spectra_loader_config lc = {4, 16, vocab, 9, 1, 0, 1};
    spectra_loader *ld = NULL;
    const size_t np = spectra_model_num_params(m);
    float *want = calloc(np, sizeof *want), *ones = malloc(vocab * sizeof *ones);
    int32_t in[64], tg[64];
    CHECK_OK(spectra_loader_open(tr, 1, &lc, &ld));
    double lsum = 0;
    for (int b = 0; b < 2; b++) {
        float loss;
        spectra_model_zero_grad(m);
        CHECK_OK(spectra_loader_next(ld, in, tg));
        CHECK_OK(spectra_model_forward(m, in, tg, NULL, 4, 16, &loss));
        CHECK_OK(spectra_model_backward(m));
        lsum += loss;
        for (size_t i = 0; i < np; i++) want[i] += 0.5f * spectra_model_grads(m)[i];
    }
    spectra_loader_free(ld);
    for (uint32_t t = 0; t < vocab; t++) ones[t] = 1.0f;
    for (int pass = 0; pass < 2; pass++) {
        CHECK_OK(spectra_loader_open(tr, 1, &lc, &ld));
        spectra_grad_opts go = {2, pass ? ones : NULL, NULL, 0};
        double loss = 0;
        CHECK_OK(spectra_mean_gradient(m, ld, 4, 16, &go, &loss));
        spectra_loader_free(ld);
        double worst = 0, scale = 0;
        for (size_t i = 0; i < np; i++) {
            worst = fmax(worst, fabs(spectra_model_grads(m)[i] - want[i]));
            scale = fmax(scale, fabs(want[i]));
        }
        CHECK_MSG(worst <= 1e-6 * scale, "pass %d: mean gradient off by %g (scale %g)", pass, worst, scale);
        CHECK_NEAR(loss, lsum / 2, 1e-5);
    }
    free(want);
    free(ones);
    spectra_model_destroy(m);
}

int main(int argc, char **argv) {
    /* The CLI's path is compiled in, so the test also runs bare (as the valgrind pass of
     * scripts/run-tests.sh runs every tests/test_*); argv[1] overrides it. */
    snprintf(cli, sizeof cli, "%s", argc > 1 ? argv[1] : SPECTRA_CLI_PATH);
    if (access(cli, X_OK) != 0) {
        printf("SKIP: no spectra CLI at %s\n", cli);
        return 77;
    }
    snprintf(dir, sizeof dir, "test_analyze_cli.XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(data, sizeof data, "%s/data", dir);
    int rc = make_data();
    if (rc == 77) {
        printf("SKIP: built without PCRE2 (no BPE tokenizer)\n");
        return 77;
    }
    make_checkpoints();
    test_cli();
    test_plots();
    test_freqnorm();
    test_mean_gradient();
    int fails = test_finish("test_analyze_cli");
    if (!fails) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return fails;
}
