#define _POSIX_C_SOURCE 200809L
#include "train_cli.h"
#include "data_cli.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"

/* The subcommand whose flags are being parsed, for the messages ("spectra bench optim:
 * --repeats expects ..."); NULL outside cli_parse_flags. */
static const char *g_parse_command;
void cli_set_parse_command(const char *cmd) { g_parse_command = cmd; }
#define CMD_SEP (g_parse_command ? " " : ""), (g_parse_command ? g_parse_command : "")

int cli_parse_int(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    /* strto* skip leading white space: " -1" must not pass as a number */
    if (!*v || isspace((unsigned char)*v) || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "spectra%s%s: %s expects an integer in [%d, %d], got '%s'\n", CMD_SEP, flag, lo, hi, v);
        return 0;
    }
    *out = (int)x;
    return 1;
}

int cli_parse_u64(const char *flag, const char *v, uint64_t lo, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || isspace((unsigned char)*v) || *end || errno || v[0] == '-' || x < lo) {
        fprintf(stderr, "spectra%s%s: %s expects an integer >= %llu, got '%s'\n", CMD_SEP, flag, (unsigned long long)lo, v);
        return 0;
    }
    *out = x;
    return 1;
}

int cli_parse_double(const char *flag, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || isspace((unsigned char)*v) || *end || errno || !isfinite(x) || x < lo || x > hi) {
        fprintf(stderr, "spectra%s%s: %s expects a number in [%g, %g], got '%s'\n", CMD_SEP, flag, lo, hi, v);
        return 0;
    }
    *out = x;
    return 1;
}

static const char *matrix_flags[] = {"--lr", "--momentum", "--nesterov", "--weight-decay", "--rank-ratio", "--power-iters",
                                     "--scale", "--eps", "--oversample", "--ns-steps", "--muon-lr-adjust", "--rank-fraction", NULL};

const char *const *cli_matrix_flag_names(void) { return matrix_flags; }

int cli_is_matrix_flag(const char *flag) {
    for (int i = 0; matrix_flags[i]; i++)
        if (!strcmp(flag, matrix_flags[i])) return 1;
    return 0;
}

int cli_apply_matrix_flag(spectra_hparams *hp, const char *f, const char *v) {
    if (!strcmp(f, "--lr")) return cli_parse_double(f, v, 0, 100, &hp->lr);
    if (!strcmp(f, "--momentum")) return cli_parse_double(f, v, 0, 0.999999, &hp->momentum);
    if (!strcmp(f, "--nesterov")) return cli_parse_int(f, v, 0, 1, &hp->nesterov);
    if (!strcmp(f, "--weight-decay")) return cli_parse_double(f, v, 0, 100, &hp->weight_decay);
    if (!strcmp(f, "--rank-ratio")) return cli_parse_double(f, v, 1e-9, 0.999999, &hp->rank_ratio);
    if (!strcmp(f, "--power-iters")) return cli_parse_int(f, v, 1, 1000, &hp->power_iters);
    if (!strcmp(f, "--scale")) return cli_parse_double(f, v, 1e-9, 1e9, &hp->scale);
    if (!strcmp(f, "--eps")) return cli_parse_double(f, v, 1e-30, 1, &hp->eps);
    if (!strcmp(f, "--oversample")) return cli_parse_int(f, v, 0, 1000, &hp->oversample);
    if (!strcmp(f, "--ns-steps")) return cli_parse_int(f, v, 1, 100, &hp->ns_steps);
    if (!strcmp(f, "--rank-fraction")) return cli_parse_double(f, v, 1e-9, 1, &hp->rank_fraction);
    if (!strcmp(f, "--muon-lr-adjust")) {
        if (!strcmp(v, "original")) hp->lr_adjust = SPECTRA_MUON_LR_ORIGINAL;
        else if (!strcmp(v, "match-rms-adamw")) hp->lr_adjust = SPECTRA_MUON_LR_MATCH_RMS_ADAMW;
        else {
            fprintf(stderr, "spectra: --muon-lr-adjust must be original or match-rms-adamw (got '%s')\n", v);
            return 0;
        }
        return 1;
    }
    return 0;
}

static int glob_list(const char *dir, const char *pat, char ***out, size_t *n) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, pat);
    glob_t g;
    int r = glob(p, 0, NULL, &g);
    *out = NULL;
    *n = 0;
    if (r == GLOB_NOMATCH) return 0;
    if (r != 0) return -1;
    *out = calloc(g.gl_pathc, sizeof(char *));
    for (size_t i = 0; i < g.gl_pathc; i++) (*out)[i] = strdup(g.gl_pathv[i]);
    *n = g.gl_pathc;
    globfree(&g);
    return 0;
}

/* The value after "key": in s (whitespace around the colon allowed), or NULL. Enough JSON for
 * the manifests `spectra prepare` writes; not a general parser. */
static const char *json_value(const char *s, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = s ? strstr(s, pat) : NULL;
    if (!p) return NULL;
    p += strlen(pat);
    while (isspace((unsigned char)*p)) p++;
    if (*p != ':') return NULL;
    for (p++; isspace((unsigned char)*p);) p++;
    return p;
}

static char *read_small_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (64 << 20) && (buf = malloc((size_t)st.st_size + 1))) {
        size_t got = fread(buf, 1, (size_t)st.st_size, f);
        buf[got] = '\0';
    }
    fclose(f);
    return buf;
}

/* The shard list of one split in the manifest: 1 with *out filled, 0 when the manifest has no
 * list (hand-made directories: the caller globs), -1 (message printed) when it is malformed or
 * names a file that is not there. The list is what counts: shards left over from an earlier
 * `prepare` into the same directory are not in it. */
static int manifest_shards(const char *man, const char *mpath, const char *dir, const char *split, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    const char *obj = json_value(json_value(man, "splits"), split);
    if (!obj) return 0;
    const char *end = *obj == '{' ? strchr(obj, '}') : NULL, *sh = json_value(obj, "shards");
    if (!end || !sh || sh > end || *sh != '[') {
        fprintf(stderr, "spectra: '%s': splits.%s has no \"shards\" list\n", mpath, split);
        return -1;
    }
    for (const char *p = sh + 1;;) {
        while (isspace((unsigned char)*p) || *p == ',') p++;
        if (*p == ']') return 1;
        const char *q = *p == '"' ? strchr(p + 1, '"') : NULL;
        size_t len = q ? (size_t)(q - p - 1) : 0;
        if (!q || !len || len > 255 || memchr(p + 1, '/', len) || p[1] == '.') {
            fprintf(stderr, "spectra: '%s': bad entry in splits.%s.shards (want plain file names)\n", mpath, split);
            goto fail;
        }
        char path[1400];
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)len, p + 1);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "spectra: '%s' lists %s shard '%s', which is missing; run spectra prepare again\n", mpath, split,
                    path);
            goto fail;
        }
        char **grown = realloc(*out, (*n + 1) * sizeof **out);
        if (!grown || !(grown[*n] = strdup(path))) {
            if (grown) *out = grown;
            fprintf(stderr, "spectra: out of memory reading '%s'\n", mpath);
            goto fail;
        }
        *out = grown;
        (*n)++;
        p = q + 1;
    }
fail:
    for (size_t i = 0; i < *n; i++) free((*out)[i]);
    free(*out);
    *out = NULL;
    *n = 0;
    return -1;
}

int cli_find_shards(const char *dir, data_shards *d) {
    memset(d, 0, sizeof *d);
    char mpath[1100];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    char *man = read_small_file(mpath);
    if (!man) {
        fprintf(stderr, "spectra: no readable '%s'. Prepare data first, e.g.\n"
                        "  spectra prepare --train-vocab 8192 --out %s\n", mpath, dir);
        return -1;
    }
    const char *v = json_value(man, "vocab_size");
    char *vend = NULL;
    long vocab = v ? strtol(v, &vend, 10) : 0;
    /* shards hold uint16 ids */
    if (!v || vend == v || vocab < 1 || vocab > 65536) {
        fprintf(stderr, "spectra: '%s' has no vocab_size in [1, 65536]\n", mpath);
        free(man);
        return -1;
    }
    d->vocab_size = (uint32_t)vocab;
    int tr = manifest_shards(man, mpath, dir, "train", &d->train, &d->n_train);
    int va = tr < 0 ? -1 : manifest_shards(man, mpath, dir, "val", &d->val, &d->n_val);
    free(man);
    if (tr < 0 || va < 0) {
        cli_free_shards(d);
        return -1;
    }
    if (tr == 0) glob_list(dir, "*_train_*.bin", &d->train, &d->n_train);
    if (va == 0) glob_list(dir, "*_val_*.bin", &d->val, &d->n_val);
    if (d->n_train == 0) {
        fprintf(stderr, "spectra: no training shards in '%s'. Prepare data first, e.g.\n"
                        "  spectra prepare --train-vocab 8192 --out %s\n", dir, dir);
        cli_free_shards(d);
        return -1;
    }
    char tdir[1100];
    struct stat st;
    snprintf(tdir, sizeof tdir, "%s/tokenizer/encoder.json", dir);
    if (stat(tdir, &st) == 0) snprintf(d->tokenizer_dir, sizeof d->tokenizer_dir, "%s/tokenizer", dir);
    else snprintf(d->tokenizer_dir, sizeof d->tokenizer_dir, "gpt2");
    return 0;
}

void cli_free_shards(data_shards *d) {
    for (size_t i = 0; i < d->n_train; i++) free(d->train[i]);
    for (size_t i = 0; i < d->n_val; i++) free(d->val[i]);
    free(d->train);
    free(d->val);
    memset(d, 0, sizeof *d);
}

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_eta(double s, char *out, size_t cap) {
    if (!isfinite(s) || s < 0) s = 0;
    long x = (long)(s + 0.5);
    if (x >= 3600) snprintf(out, cap, "%ldh%02ldm", x / 3600, (x / 60) % 60);
    else snprintf(out, cap, "%ldm%02lds", x / 60, x % 60);
}

int cli_generate(spectra_model *model, spectra_tokenizer *tok, const int32_t *prompt, size_t n_prompt, int n, double temperature,
                 int top_k, uint64_t seed, FILE *out) {
    const spectra_model_config *mc = spectra_model_get_config(model);
    int T = mc->max_seq_len;
    /* One allocation for the longest context, not one growing reallocation per token. */
    if (spectra_model_reserve(model, 1, T) != SPECTRA_OK) return -1;
    int32_t *ctx = malloc((size_t)T * sizeof *ctx);
    float *probs = malloc((size_t)mc->vocab_size * sizeof *probs);
    int *idx = malloc((size_t)mc->vocab_size * sizeof *idx);
    if (!ctx || !probs || !idx) {
        free(ctx), free(probs), free(idx);
        return -1;
    }
    size_t len = 0;
    for (size_t i = 0; i < n_prompt; i++) {
        if (len == (size_t)T) {
            memmove(ctx, ctx + 1, (size_t)(T - 1) * sizeof *ctx);
            len--;
        }
        ctx[len++] = prompt[i];
    }
    if (len == 0) ctx[len++] = spectra_tokenizer_eot(tok);
    spectra_rng rng;
    spectra_rng_seed(&rng, seed);
    spectra_byte_buf text = {0};
    for (int s = 0; s < n; s++) {
        if (spectra_model_forward(model, ctx, NULL, NULL, 1, (int)len, NULL) != SPECTRA_OK) break;
        const float *logits = spectra_model_last_logits(model, 0);
        /* softmax(logits / temperature) over the top-k entries */
        int V = mc->vocab_size, kk = top_k > 0 && top_k < V ? top_k : V;
        for (int i = 0; i < V; i++) idx[i] = i;
        for (int i = 0; i < kk; i++) { /* partial selection: k is small */
            int best = i;
            for (int j = i + 1; j < V; j++)
                if (logits[idx[j]] > logits[idx[best]]) best = j;
            int tmp = idx[i];
            idx[i] = idx[best];
            idx[best] = tmp;
            if (kk == V && i > 256) break; /* full vocabulary: the tail is handled below unsorted */
        }
        double mx = logits[idx[0]], z = 0;
        double t = temperature > 1e-6 ? temperature : 1e-6;
        for (int i = 0; i < kk; i++) z += exp((logits[idx[i]] - mx) / t);
        double u = spectra_rng_uniform(&rng) * z, acc = 0;
        int pick = idx[0];
        for (int i = 0; i < kk; i++) {
            acc += exp((logits[idx[i]] - mx) / t);
            if (acc >= u) {
                pick = idx[i];
                break;
            }
        }
        if (len == (size_t)T) {
            memmove(ctx, ctx + 1, (size_t)(T - 1) * sizeof *ctx);
            len--;
        }
        ctx[len++] = pick;
        int32_t one = pick;
        text.len = 0;
        if (spectra_tokenizer_decode(tok, &one, 1, &text) == SPECTRA_OK) fwrite(text.data, 1, text.len, out);
        fflush(out);
    }
    fputc('\n', out);
    spectra_byte_buf_free(&text);
    free(ctx), free(probs), free(idx);
    return 0;
}

int cli_run_training(spectra_trainer *tr, const spectra_train_config *cfg, const char *out_dir, const char *log_path,
                     const char *ckpt_path, uint64_t val_every, uint64_t ckpt_every, uint64_t print_every, uint64_t stop_at, int quiet,
                     int sample_tokens, const char *tokenizer, int resumed, volatile sig_atomic_t *interrupted,
                     void (*handler)(int)) {
    FILE *log = fopen(log_path, resumed ? "a" : "w");
    if (!log) {
        fprintf(stderr, "spectra train: cannot open log '%s': %s\n", log_path, strerror(errno));
        return 1;
    }
    char tokpath[1100];
    snprintf(tokpath, sizeof tokpath, "%s/tokenizer.txt", out_dir);
    FILE *tf = fopen(tokpath, "w");
    if (tf) {
        /* absolute: `spectra sample` may run from another directory than this run */
        char absdir[PATH_MAX];
        fprintf(tf, "%s\n", strcmp(tokenizer, "gpt2") && realpath(tokenizer, absdir) ? absdir : tokenizer);
        fclose(tf);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    const int tty = isatty(fileno(stderr));
    spectra_optim *opt = spectra_trainer_optim(tr);
    spectra_model *model = spectra_trainer_model(tr);
    size_t np = spectra_model_num_params(model);
    if (!quiet)
        fprintf(stderr, "spectra train: %.2fM parameters, %s on hidden matrices%s, optimizer state %.1f MB; B %d x T %d x accum %d; %s%llu steps\n",
                (double)np / 1e6, spectra_algo_name(cfg->matrix.algo), cfg->matrix_on_all_2d ? " (and embedding/head)" : "",
                (double)spectra_optim_state_bytes(opt) / 1e6, cfg->batch_size, cfg->seq_len, cfg->grad_accum,
                resumed ? "resuming, " : "", (unsigned long long)cfg->max_steps);
    double start = wall();
    uint64_t start_step = spectra_trainer_steps_done(tr), tokens = 0;
    double val = NAN, last_loss = NAN, ema_tps = 0;
    int rc = 0;
    uint64_t end = stop_at && stop_at < cfg->max_steps ? stop_at : cfg->max_steps;
    while (spectra_trainer_steps_done(tr) < end) {
        spectra_step_stats s;
        if (spectra_trainer_step(tr, &s) != SPECTRA_OK) {
            fprintf(stderr, "%sspectra train: stopping: %s\n", tty ? "\n" : "", spectra_trainer_last_error(tr));
            fprintf(stderr, "the last good checkpoint is %s (if one was written); nothing after it was saved\n", ckpt_path);
            fprintf(log, "{\"event\": \"stopped\", \"reason\": \"%s\"}\n", spectra_trainer_last_error(tr));
            rc = 1;
            break;
        }
        tokens += s.tokens;
        last_loss = s.loss;
        double tps = (double)s.tokens / s.seconds;
        ema_tps = ema_tps > 0 ? 0.9 * ema_tps + 0.1 * tps : tps;
        int do_val = (s.step % val_every == 0) || s.step == cfg->max_steps;
        if (do_val && spectra_trainer_evaluate(tr, &val) != SPECTRA_OK) val = NAN;
        fprintf(log,
                "{\"step\": %llu, \"loss\": %.6f, \"grad_norm\": %.6g, \"lr\": %.6g, \"lr_adamw\": %.6g, \"tokens\": %llu, "
                "\"step_s\": %.4f, \"model_s\": %.4f, \"optim_s\": %.4f, \"wall_s\": %.3f",
                (unsigned long long)s.step, s.loss, s.grad_norm, s.lr_matrix, s.lr_adamw,
                (unsigned long long)(s.step * s.tokens), s.seconds, s.seconds_model, s.seconds_optim, wall() - start);
        if (do_val && isfinite(val)) fprintf(log, ", \"val_loss\": %.6f", val);
        fprintf(log, "}\n");
        fflush(log);
        if (!quiet) {
            double eta = (double)(cfg->max_steps - s.step) * (double)s.tokens / ema_tps;
            char etas[32];
            fmt_eta(eta, etas, sizeof etas);
            char vals[32] = "   -  ";
            if (isfinite(val)) snprintf(vals, sizeof vals, "%.4f", val);
            if (tty)
                fprintf(stderr, "\rstep %6llu/%llu | loss %.4f | val %s | lr %.2e | %6.0f tok/s | ETA %s   ",
                        (unsigned long long)s.step, (unsigned long long)cfg->max_steps, s.loss, vals, s.lr_matrix, ema_tps, etas);
            else if (s.step % print_every == 0 || do_val || s.step == cfg->max_steps)
                fprintf(stderr, "step %llu/%llu loss %.4f val %s lr %.2e %.0f tok/s ETA %s\n", (unsigned long long)s.step,
                        (unsigned long long)cfg->max_steps, s.loss, vals, s.lr_matrix, ema_tps, etas);
        }
        if (s.step % ckpt_every == 0 || s.step == end || *interrupted) {
            if (spectra_trainer_save(tr, ckpt_path) != SPECTRA_OK) {
                fprintf(stderr, "\nspectra train: checkpoint failed: %s\n", spectra_last_error());
                rc = 1;
                break;
            }
        }
        if (*interrupted) {
            fprintf(stderr, "%sspectra train: interrupted at step %llu; checkpoint written to %s (continue with --resume)\n",
                    tty ? "\n" : "", (unsigned long long)s.step, ckpt_path);
            fprintf(log, "{\"event\": \"interrupted\", \"step\": %llu}\n", (unsigned long long)s.step);
            rc = 130;
            break;
        }
    }
    fclose(log);
    if (tty && !quiet) fputc('\n', stderr);
    if (rc != 0) return rc;
    if (end < cfg->max_steps) {
        printf("stopped at step %llu of %llu as asked (--stop-at); checkpoint %s; continue with --resume\n",
               (unsigned long long)end, (unsigned long long)cfg->max_steps, ckpt_path);
        return 0;
    }
    double elapsed = wall() - start;
    if (!isfinite(val) && spectra_trainer_evaluate(tr, &val) != SPECTRA_OK) val = NAN;
    printf("trained %llu steps (%llu this run) in %.1f s, %.0f tokens/s; final train loss %.4f, validation loss %.4f\n",
           (unsigned long long)spectra_trainer_steps_done(tr), (unsigned long long)(spectra_trainer_steps_done(tr) - start_step),
           elapsed, (double)tokens / elapsed, last_loss, val);
    printf("checkpoint: %s\n", ckpt_path);
    if (sample_tokens > 0) {
        spectra_tokenizer *tok = data_load_tokenizer(tokenizer, 0, NULL, 0);
        if (tok) {
            printf("sample (%d tokens, temperature 0.8, top-k 40):\n", sample_tokens);
            cli_generate(model, tok, NULL, 0, sample_tokens, 0.8, 40, cfg->seed, stdout);
            spectra_tokenizer_free(tok);
        }
    }
    return 0;
}
