/* `spectra train`: trains the decoder on prepared shards with Spectra (or AdamW, Muon, Dion)
 * on the hidden matrices. Progress line, JSONL log of every step, atomic checkpoints every N
 * steps and at the end, bit-exact --resume, clean stop with a checkpoint on Ctrl-C, and a clear
 * stop on a non-finite loss (the last good checkpoint stays). Ends with the validation loss
 * and a sample of generated text. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "cli_flags.h"
#include "data_cli.h"
#include "spectra/spectra.h"
#include "train_cli.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_interrupted = 0;
static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

/* The run's memory, planned from the config before anything is built: weights and gradients
 * (4 bytes each per parameter), the optimizer state (at most AdamW's 8 bytes per parameter;
 * Spectra, Muon and Dion keep less) and one micro-batch's activations. The model zero-fills all
 * of them as it is built, so a run past the available memory would end in the OOM killer, not
 * in an error: it is refused here, with the figures. (Processes of one multi-process run on the
 * same machine each check alone.) */
static int check_memory(const spectra_train_config *cfg, int enforce, int report) {
    size_t n_params = spectra_model_config_num_params(&cfg->model);
    size_t act = spectra_model_config_activation_bytes(&cfg->model, cfg->batch_size, cfg->seq_len);
    if (!n_params || !act) {
        fprintf(stderr, "spectra train: %s\n", spectra_last_error());
        return 1;
    }
    const double gb = 1e9, weights = 8.0 * (double)n_params, state = 8.0 * (double)n_params;
    const double need = weights + state + (double)act, have = cli_available_memory_bytes();
    if (enforce && have > 0 && need > have) {
        fprintf(stderr,
                "spectra train: this run needs about %.2f GB of memory (weights and gradients %.2f, optimizer state up to %.2f,\n"
                "  activations for --batch %d --seq %d %.2f) but %.2f GB is available; lower --batch or --seq\n"
                "  (--accum keeps the tokens per step), pick a smaller model, or pass --no-memory-check\n",
                need / gb, weights / gb, state / gb, cfg->batch_size, cfg->seq_len, (double)act / gb, have / gb);
        return 1;
    }
    if (report)
        printf("spectra train --check: about %.2f GB of memory planned (activations %.2f), %.2f GB available\n", need / gb,
               (double)act / gb, have / gb);
    return 0;
}

typedef struct train_opts {
    spectra_train_config cfg;
    const char *data, *out, *log, *resume, *preset;
    uint64_t val_every, ckpt_every, print_every, stop_at;
    int sample_tokens, quiet;
} train_opts;

static void usage(FILE *f) {
    spectra_train_config d = spectra_train_config_default();
    spectra_hparams sp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA), mu = spectra_hparams_default(SPECTRA_ALGO_MUON),
                    di = spectra_hparams_default(SPECTRA_ALGO_DION);
    fprintf(f,
            "usage: spectra train [options]\n"
            "data and output\n"
            "  --data DIR            prepared shards (DIR/*_train_*.bin, DIR/*_val_*.bin, manifest.json) [data/default-bpe8k]\n"
            "  --out DIR             checkpoints and log [runs/train]\n"
            "  --log FILE            JSONL log of every step [OUT/log.jsonl]\n"
            "  --resume [CKPT]       continue a run bit-exactly from CKPT [OUT/checkpoint.bin]; the stored\n"
            "                        config is used: flags that differ from it are refused (only --steps,\n"
            "                        --stop-at and the output options may change)\n"
            "  --check               validate the flags, the data and the config, write nothing, exit\n"
            "  --no-memory-check     build the run even if its planned memory exceeds the available memory\n"
            "  --ckpt-every N        checkpoint every N steps, and at the end [200]\n"
            "  --stop-at STEP        end this invocation at STEP with a checkpoint, without changing the\n"
            "                        schedule (time-sliced runs; continue with --resume)\n"
            "  --val-every N         validation loss every N steps [100]\n"
            "  --val-batches N       batches per validation, 0 = the whole split [%d]\n"
            "  --sample-tokens N     tokens of text generated at the end, 0 = none [64]\n"
            "  --print-every N       progress lines when stderr is not a terminal [10]\n"
            "model\n"
            "  --preset NAME         tiny, small, llama-124m, qwen3-0.6b, llama3-8b [small]; the vocabulary comes\n"
            "                        from the data's manifest\n"
            "  --d-model N --layers N --heads N --kv-heads N --d-ff N --tied 0|1   override the preset\n"
            "batch and schedule\n"
            "  --batch N [%d]  --seq N [%d]  --accum N [%d]  --steps N [%llu]  --seed N [%llu]\n"
            "  --schedule cosine|wsd|constant [cosine]  --warmup N [5%% of --steps]  --min-lr-frac F [%g]\n"
            "  --decay-frac F (WSD) [%g]  --clip F (global norm, 0 = off) [%g]\n"
            "optimizer for hidden matrices\n"
            "  --optim spectra|adamw|muon|dion [spectra]\n"
            "  --matrix-opt-on hidden|all-2d   all-2d also puts embedding and head under it [hidden]\n"
            "  --lr F                spectra %g, muon %g, dion %g, adamw %g\n"
            "  --momentum F          spectra %g, muon %g, dion %g\n"
            "  --nesterov 0|1        spectra %d, muon %d\n"
            "  --weight-decay F      spectra %g, muon %g, dion %g, adamw %g\n"
            "  --rank-ratio F [%g]  --power-iters N [%d]  --scale F [%g]  --eps F [%g]  --oversample N [%d]   (Spectra)\n"
            "  --ns-steps N [%d]  --muon-lr-adjust original|match-rms-adamw [original]   (Muon)\n"
            "  --rank-fraction F [%g]   (Dion)\n"
            "AdamW for embeddings, head and norm gains (norm gains without weight decay)\n"
            "  --adamw-lr F [%g]  --beta1 F [%g]  --beta2 F [%g]  --adamw-eps F [%g]  --adamw-weight-decay F [%g]\n"
            "Ctrl-C writes a checkpoint and exits; rerun with --resume to continue.\n",
            d.val_batches, d.batch_size, d.seq_len, d.grad_accum, (unsigned long long)d.max_steps,
            (unsigned long long)d.seed, d.min_lr_frac, d.decay_frac, d.grad_clip, sp.lr, mu.lr,
            di.lr, spectra_hparams_default(SPECTRA_ALGO_ADAMW).lr, sp.momentum, mu.momentum, di.momentum, sp.nesterov,
            mu.nesterov, sp.weight_decay, mu.weight_decay, di.weight_decay, spectra_hparams_default(SPECTRA_ALGO_ADAMW).weight_decay,
            sp.rank_ratio, sp.power_iters, sp.scale, sp.eps, sp.oversample, mu.ns_steps, di.rank_fraction, d.adamw.lr,
            d.adamw.beta1, d.adamw.beta2, d.adamw.eps, d.adamw.weight_decay);
}

/* Matrix-group hyperparameter flags are applied after --optim is known. */
typedef struct pending {
    const char *name, *value;
} pending;

/* The config a new run with these flags would have (preset, overrides, optimizer, matrix
 * flags); 2 with a message if the flags are invalid. The vocabulary comes later, from the data. */
static int build_run_config(spectra_train_config *cfg, const char *preset, const char *algo_name, const char *matrix_on,
                            const pending *hp_flags, int n_hp, const int model_override[6]) {
    spectra_algo algo;
    if (spectra_algo_from_name(algo_name, &algo) != SPECTRA_OK || algo == SPECTRA_ALGO_SGD) {
        fprintf(stderr, "spectra train: --optim must be spectra, adamw, muon or dion (got '%s')\n", algo_name);
        return 2;
    }
    cfg->matrix = spectra_hparams_default(algo);
    for (int i = 0; i < n_hp; i++)
        if (!cli_apply_matrix_flag(&cfg->matrix, hp_flags[i].name, hp_flags[i].value)) return 2;
    /* Flags the chosen optimizer does not read are accepted (plan defaults set them for every
     * run) but said, instead of being ignored without a word. */
    static const struct {
        const char *flag, *users;
    } scope[] = {{"--rank-ratio", "spectra"},       {"--power-iters", "spectra"},     {"--scale", "spectra"},
                 {"--oversample", "spectra"},       {"--eps", "spectra muon adamw"},  {"--ns-steps", "muon"},
                 {"--muon-lr-adjust", "muon"},      {"--rank-fraction", "dion"},      {"--nesterov", "spectra muon"},
                 {"--momentum", "spectra muon dion"}};
    for (int i = 0; i < n_hp; i++)
        for (size_t q = 0; q < sizeof scope / sizeof scope[0]; q++)
            if (!strcmp(hp_flags[i].name, scope[q].flag) && !strstr(scope[q].users, spectra_algo_name(algo)))
                fprintf(stderr, "spectra train: note: %s has no effect with --optim %s (it is read by %s)\n",
                        hp_flags[i].name, spectra_algo_name(algo), scope[q].users);
    if (!strcmp(matrix_on, "all-2d")) cfg->matrix_on_all_2d = 1;
    else if (strcmp(matrix_on, "hidden")) {
        fprintf(stderr, "spectra train: --matrix-opt-on must be hidden or all-2d (got '%s')\n", matrix_on);
        return 2;
    }
    if (spectra_model_config_from_preset(preset, &cfg->model) != SPECTRA_OK) {
        fprintf(stderr, "spectra train: %s\n", spectra_last_error());
        return 2;
    }
    int *fields[6] = {&cfg->model.d_model, &cfg->model.n_layers, &cfg->model.n_heads, &cfg->model.n_kv_heads,
                      &cfg->model.d_ff, &cfg->model.tied_embeddings};
    for (int i = 0; i < 6; i++)
        if (model_override[i] >= 0) *fields[i] = model_override[i];
    if (model_override[2] >= 0 && model_override[3] < 0) cfg->model.n_kv_heads = model_override[2];
    return 0;
}

/* Whether a flag given with --resume asks for other settings than the checkpoint's (want: the
 * config the flags would give a new run). Those flags used to be dropped without a word. */
static int differs_on_resume(const char *flag, const char *value, const spectra_train_config *want,
                             const spectra_train_config *ck) {
    const spectra_model_config *a = &want->model, *b = &ck->model;
    if (!strcmp(flag, "--batch")) return want->batch_size != ck->batch_size;
    if (!strcmp(flag, "--seq")) return want->seq_len != ck->seq_len;
    if (!strcmp(flag, "--accum")) return want->grad_accum != ck->grad_accum;
    if (!strcmp(flag, "--seed")) return want->seed != ck->seed;
    if (!strcmp(flag, "--warmup")) return want->warmup_steps != ck->warmup_steps;
    if (!strcmp(flag, "--min-lr-frac")) return want->min_lr_frac != ck->min_lr_frac;
    if (!strcmp(flag, "--decay-frac")) return want->decay_frac != ck->decay_frac;
    if (!strcmp(flag, "--clip")) return want->grad_clip != ck->grad_clip;
    if (!strcmp(flag, "--schedule")) return want->schedule != ck->schedule;
    if (!strcmp(flag, "--val-batches")) return want->val_batches != ck->val_batches;
    if (!strcmp(flag, "--adamw-lr")) return want->adamw.lr != ck->adamw.lr;
    if (!strcmp(flag, "--beta1")) return want->adamw.beta1 != ck->adamw.beta1;
    if (!strcmp(flag, "--beta2")) return want->adamw.beta2 != ck->adamw.beta2;
    if (!strcmp(flag, "--adamw-eps")) return want->adamw.eps != ck->adamw.eps;
    if (!strcmp(flag, "--adamw-weight-decay")) return want->adamw.weight_decay != ck->adamw.weight_decay;
    if (!strcmp(flag, "--optim")) return want->matrix.algo != ck->matrix.algo;
    if (!strcmp(flag, "--matrix-opt-on")) return want->matrix_on_all_2d != ck->matrix_on_all_2d;
    if (cli_is_matrix_flag(flag)) { /* the flag applied to the checkpoint's own hyperparameters */
        spectra_hparams hp;
        memcpy(&hp, &ck->matrix, sizeof hp);
        return !cli_apply_matrix_flag(&hp, flag, value) || memcmp(&hp, &ck->matrix, sizeof hp) != 0;
    }
    /* --preset and the model overrides */
    return a->d_model != b->d_model || a->n_layers != b->n_layers || a->n_heads != b->n_heads ||
           a->n_kv_heads != b->n_kv_heads || a->d_ff != b->d_ff || a->tied_embeddings != b->tied_embeddings;
}

/* Flags that set the run's config carry this tag: on --resume they are compared with the
 * checkpoint's settings. The others (data, output, how far to go) may change on resume. */
enum { TRAIN_OUTPUT = 0, TRAIN_CONFIG = 1 };

/* What the flag callback collects: the config flags as given (last occurrence counts), and
 * the matrix optimizer's flags, applied once --optim is known. */
typedef struct train_flags {
    pending given[128], hp[64];
    int n_given, n_hp;
} train_flags;

static int on_train_flag(void *ctx, const cli_flag *f, const char *value) {
    train_flags *t = ctx;
    if (f->tag == TRAIN_CONFIG) {
        int q = 0;
        while (q < t->n_given && strcmp(t->given[q].name, f->name)) q++;
        if (q == 128) return 1; /* more distinct config flags than exist */
        t->given[q] = (pending){f->name, value};
        if (q == t->n_given) t->n_given++;
    }
    if (f->kind == CLI_CALL) { /* a matrix optimizer flag */
        if (t->n_hp == 64) {
            fprintf(stderr, "spectra train: more than 64 optimizer flags\n");
            return 0;
        }
        t->hp[t->n_hp++] = (pending){f->name, value};
    }
    return 1;
}

int cmd_train(int argc, char **argv) {
    train_opts o;
    memset(&o, 0, sizeof o);
    o.cfg = spectra_train_config_default();
    o.data = "data/default-bpe8k";
    o.out = "runs/train";
    o.preset = "small";
    o.val_every = 100;
    o.ckpt_every = 200;
    o.print_every = 10;
    o.sample_tokens = 64;
    int resume = 0, steps_set = 0, warmup_set = 0, check_only = 0, no_memory_check = 0, schedule = (int)o.cfg.schedule;
    const char *algo_name = "spectra", *matrix_on = "hidden";
    int model_override[6] = {-1, -1, -1, -1, -1, -1};
    spectra_train_config *c = &o.cfg;
    cli_flag flags[64] = {
        {CLI_FLAG("--resume", CLI_OPT_STRING, &o.resume), .given = &resume},
        {CLI_FLAG("--quiet", CLI_ON, &o.quiet)},
        {CLI_FLAG("--check", CLI_ON, &check_only)},
        {CLI_FLAG("--no-memory-check", CLI_ON, &no_memory_check)},
        {CLI_FLAG("--data", CLI_STRING, &o.data)},
        {CLI_FLAG("--out", CLI_STRING, &o.out)},
        {CLI_FLAG("--log", CLI_STRING, &o.log)},
        {CLI_FLAG("--ckpt-every", CLI_U64, &o.ckpt_every), .lo = 1},
        {CLI_FLAG("--val-every", CLI_U64, &o.val_every), .lo = 1},
        {CLI_FLAG("--print-every", CLI_U64, &o.print_every), .lo = 1},
        {CLI_FLAG("--stop-at", CLI_U64, &o.stop_at), .lo = 1},
        {CLI_FLAG("--sample-tokens", CLI_INT, &o.sample_tokens), .lo = 0, .hi = 1 << 16},
        {CLI_FLAG("--steps", CLI_U64, &c->max_steps), .lo = 1, .given = &steps_set},
        {CLI_FLAG("--preset", CLI_STRING, &o.preset), .tag = TRAIN_CONFIG},
        {CLI_FLAG("--optim", CLI_STRING, &algo_name), .tag = TRAIN_CONFIG},
        {CLI_FLAG("--matrix-opt-on", CLI_STRING, &matrix_on), .tag = TRAIN_CONFIG},
        {CLI_FLAG("--val-batches", CLI_INT, &c->val_batches), .lo = 0, .hi = 1 << 20, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--batch", CLI_INT, &c->batch_size), .lo = 1, .hi = 65536, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--seq", CLI_INT, &c->seq_len), .lo = 1, .hi = 1 << 20, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--accum", CLI_INT, &c->grad_accum), .lo = 1, .hi = 65536, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--seed", CLI_U64, &c->seed), .lo = 0, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--warmup", CLI_U64, &c->warmup_steps), .lo = 0, .given = &warmup_set, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--min-lr-frac", CLI_DOUBLE, &c->min_lr_frac), .lo = 0, .hi = 1, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--decay-frac", CLI_DOUBLE, &c->decay_frac), .lo = 1e-9, .hi = 1, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--clip", CLI_DOUBLE, &c->grad_clip), .lo = 0, .hi = 1e30, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--schedule", CLI_CHOICE, &schedule), .choices = "cosine|wsd|constant", .tag = TRAIN_CONFIG},
        {CLI_FLAG("--adamw-lr", CLI_DOUBLE, &c->adamw.lr), .lo = 0, .hi = 10, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--beta1", CLI_DOUBLE, &c->adamw.beta1), .lo = 0, .hi = 0.999999, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--beta2", CLI_DOUBLE, &c->adamw.beta2), .lo = 0, .hi = 0.999999, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--adamw-eps", CLI_DOUBLE, &c->adamw.eps), .lo = 1e-30, .hi = 1, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--adamw-weight-decay", CLI_DOUBLE, &c->adamw.weight_decay), .lo = 0, .hi = 10, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--d-model", CLI_INT, &model_override[0]), .lo = 1, .hi = 1 << 16, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--layers", CLI_INT, &model_override[1]), .lo = 1, .hi = 1024, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--heads", CLI_INT, &model_override[2]), .lo = 1, .hi = 1024, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--kv-heads", CLI_INT, &model_override[3]), .lo = 1, .hi = 1024, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--d-ff", CLI_INT, &model_override[4]), .lo = 1, .hi = 1 << 20, .tag = TRAIN_CONFIG},
        {CLI_FLAG("--tied", CLI_INT, &model_override[5]), .lo = 0, .hi = 1, .tag = TRAIN_CONFIG},
    };
    size_t n_flags = 0;
    while (flags[n_flags].name) n_flags++;
    /* the matrix optimizer's flags, checked once --optim is known (build_run_config) */
    for (const char *const *m = cli_matrix_flag_names(); *m && n_flags < sizeof flags / sizeof flags[0]; m++)
        flags[n_flags++] = (cli_flag){CLI_FLAG(*m, CLI_CALL, NULL), .tag = TRAIN_CONFIG};
    train_flags tf = {.n_given = 0};
    int prc = cli_parse_flags("train", argc, argv, 1, flags, n_flags, on_train_flag, &tf, NULL);
    if (prc == CLI_FLAGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    o.cfg.schedule = (spectra_lr_schedule)schedule;

    char ckpt_path[1100];
    snprintf(ckpt_path, sizeof ckpt_path, "%s/checkpoint.bin", o.out);
    if (resume && !o.resume) o.resume = ckpt_path;
    spectra_train_config want = o.cfg;
    cli_set_parse_command("train"); /* the optimizer flags are checked here, once --optim is known */
    int brc = build_run_config(&want, o.preset, algo_name, matrix_on, tf.hp, tf.n_hp, model_override);
    cli_set_parse_command(NULL);
    if (brc) return brc;
    if (resume) {
        if (spectra_checkpoint_read_config(o.resume, &o.cfg) != SPECTRA_OK) {
            fprintf(stderr, "spectra train: cannot resume: %s\n", spectra_last_error());
            return 1;
        }
        for (int i = 0; i < tf.n_given; i++)
            if (differs_on_resume(tf.given[i].name, tf.given[i].value, &want, &o.cfg)) {
                fprintf(stderr,
                        "spectra train: --resume continues the checkpoint's run, and '%s %s' differs from its settings;\n"
                        "  drop the flag, or start a new run with another --out (only --steps, --stop-at and the\n"
                        "  output options may change on resume)\n",
                        tf.given[i].name, tf.given[i].value);
                return 2;
            }
        if (steps_set) o.cfg.max_steps = want.max_steps;
    } else {
        o.cfg = want;
    }

    if (!resume && !warmup_set) o.cfg.warmup_steps = o.cfg.max_steps / 20; /* 5% */

    /* Data: shards and vocabulary. */
    data_shards ds;
    if (cli_find_shards(o.data, &ds) != 0) return 1;
    if (!resume) o.cfg.model.vocab_size = (int)ds.vocab_size;
    if (o.cfg.seq_len > o.cfg.model.max_seq_len) o.cfg.model.max_seq_len = o.cfg.seq_len;
    char log_path[1100];
    if (!o.log) {
        snprintf(log_path, sizeof log_path, "%s/log.jsonl", o.out);
        o.log = log_path;
    }
    /* Everything the trainer would refuse is refused here, before --out is created. */
    if (spectra_train_config_validate(&o.cfg) != SPECTRA_OK) {
        fprintf(stderr, "spectra train: %s\n", spectra_last_error());
        cli_free_shards(&ds);
        return 2;
    }
    if (check_memory(&o.cfg, !no_memory_check, check_only && !o.quiet) != 0) {
        cli_free_shards(&ds);
        return 1;
    }
    if (check_only) {
        if (!o.quiet)
            printf("spectra train --check: options valid (%s, %llu steps, %zu training shards)\n",
                   spectra_algo_name(o.cfg.matrix.algo), (unsigned long long)o.cfg.max_steps, ds.n_train);
        cli_free_shards(&ds);
        return 0;
    }

    spectra_trainer *tr;
    if (spectra_trainer_create(&tr, &o.cfg, (const char *const *)ds.train, ds.n_train, (const char *const *)ds.val, ds.n_val) !=
        SPECTRA_OK) {
        fprintf(stderr, "spectra train: %s\n", spectra_last_error());
        cli_free_shards(&ds);
        return 1;
    }
    if (resume) {
        if (spectra_trainer_load(tr, o.resume) != SPECTRA_OK) {
            fprintf(stderr, "spectra train: cannot resume: %s\n", spectra_trainer_last_error(tr));
            spectra_trainer_destroy(tr);
            cli_free_shards(&ds);
            return 1;
        }
        /* A target at or before the checkpoint used to "train 0 steps" and report success. A
         * finished run resumed without --steps is fine: it just reports. */
        uint64_t done = spectra_trainer_steps_done(tr);
        const char *bad = steps_set && o.cfg.max_steps < done ? "--steps" : o.stop_at && o.stop_at <= done ? "--stop-at" : NULL;
        if (bad) {
            fprintf(stderr, "spectra train: %s %llu is not after the checkpoint's step %llu\n", bad,
                    (unsigned long long)(!strcmp(bad, "--steps") ? o.cfg.max_steps : o.stop_at), (unsigned long long)done);
            spectra_trainer_destroy(tr);
            cli_free_shards(&ds);
            return 2;
        }
    }
    /* Created only now: nothing above writes, and a refused resume leaves no directory behind. */
    if (cli_mkdir_p(o.out) != 0) {
        fprintf(stderr, "spectra train: cannot create output directory '%s': %s\n", o.out, strerror(errno));
        spectra_trainer_destroy(tr);
        cli_free_shards(&ds);
        return 1;
    }
    int rc = cli_run_training(tr, &o.cfg, o.out, o.log, ckpt_path, o.val_every, o.ckpt_every, o.print_every, o.stop_at,
                              o.quiet, o.sample_tokens, ds.tokenizer_dir, resume, &g_interrupted, on_sigint);
    spectra_trainer_destroy(tr);
    cli_free_shards(&ds);
    return rc;
}
