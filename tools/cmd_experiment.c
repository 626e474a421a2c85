/* `spectra experiment`: runs a plan of training runs one after another and summarizes them.
 *
 * A plan is a text file; `#` starts a comment. Lines:
 *   defaults KEY=VALUE ...        flags every run gets (any `spectra train` flag, without --)
 *   run NAME KEY=VALUE ...        one run; its flags override the defaults
 * Each run is a child process `spectra train --out OUT/NAME ...`, so its peak memory
 * (getrusage of the child) is its own. A run whose OUT/NAME/done.json exists is skipped; a
 * run with a checkpoint but no done.json is resumed. `summary` (also run after `run`)
 * writes OUT/summary.csv, OUT/summary.md and gnuplot plots (loss vs step and vs time,
 * one line per run; final validation loss vs learning rate per optimizer). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "cli_flags.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_RUNS 256
#define MAX_ARGS 96

typedef struct plan_run {
    char name[128];
    char *args[MAX_ARGS]; /* "--key", "value" pairs, defaults first */
    int nargs;
} plan_run;

typedef struct plan {
    plan_run runs[MAX_RUNS];
    int n;
} plan;

static void usage(FILE *f) {
    fprintf(f, "usage: spectra experiment run PLAN [--out DIR] [--dry-run]\n"
               "       spectra experiment summary DIR\n"
               "  PLAN lines:  defaults key=value ...   |   run NAME key=value ...   (keys are spectra train flags)\n"
               "  Runs each plan entry as `spectra train --out DIR/NAME ...` in order; completed runs\n"
               "  (DIR/NAME/done.json) are skipped, interrupted ones resumed. Then writes DIR/summary.csv,\n"
               "  DIR/summary.md and plots (DIR/loss_vs_step.png, loss_vs_time.png, lr_sweep.png).\n"
               "  Default DIR: runs/<plan file name without extension>.\n");
}

static int add_kv(plan_run *r, const char *tok, const char *file, int line) {
    const char *eq = strchr(tok, '=');
    if (!eq || eq == tok) {
        fprintf(stderr, "spectra experiment: %s:%d: expected key=value, got '%s'\n", file, line, tok);
        return -1;
    }
    if (r->nargs + 2 > MAX_ARGS) {
        fprintf(stderr, "spectra experiment: %s:%d: too many flags\n", file, line);
        return -1;
    }
    char key[128];
    snprintf(key, sizeof key, "--%.*s", (int)(eq - tok), tok);
    if (!strcmp(key, "--out") || !strcmp(key, "--resume")) {
        fprintf(stderr, "spectra experiment: %s:%d: '%s' is set by the plan runner\n", file, line, key + 2);
        return -1;
    }
    r->args[r->nargs++] = strdup(key);
    r->args[r->nargs++] = strdup(eq + 1);
    return 0;
}

static int parse_plan(const char *path, plan *p) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "spectra experiment: cannot open plan '%s': %s\n", path, strerror(errno));
        return -1;
    }
    plan_run defaults;
    memset(&defaults, 0, sizeof defaults);
    memset(p, 0, sizeof *p);
    char line[4096];
    int ln = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        ln++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
        if (!tok) continue;
        if (!strcmp(tok, "defaults")) {
            while (rc == 0 && (tok = strtok_r(NULL, " \t\r\n", &save))) rc = add_kv(&defaults, tok, path, ln);
        } else if (!strcmp(tok, "run")) {
            char *name = strtok_r(NULL, " \t\r\n", &save);
            /* The name is a directory under DIR and a title in the plots' gnuplot script: letters,
             * digits, '.', '_' and '-', not starting with '.' (".." was accepted once). */
            int name_ok = name && name[0] != '.' && strlen(name) < sizeof p->runs[0].name;
            for (const char *c = name; name_ok && *c; c++)
                name_ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                          *c == '_' || *c == '-';
            if (!name_ok) {
                fprintf(stderr,
                        "spectra experiment: %s:%d: 'run' needs a NAME first: letters, digits, '.', '_', '-', "
                        "not starting with '.' (got '%s')\n",
                        path, ln, name ? name : "");
                rc = -1;
                break;
            }
            if (p->n == MAX_RUNS) {
                fprintf(stderr, "spectra experiment: %s: more than %d runs\n", path, MAX_RUNS);
                rc = -1;
                break;
            }
            for (int i = 0; i < p->n; i++)
                if (!strcmp(p->runs[i].name, name)) {
                    fprintf(stderr, "spectra experiment: %s:%d: duplicate run name '%s'\n", path, ln, name);
                    rc = -1;
                }
            plan_run *r = &p->runs[p->n++];
            snprintf(r->name, sizeof r->name, "%s", name);
            for (int i = 0; i < defaults.nargs; i++) r->args[r->nargs++] = strdup(defaults.args[i]);
            while (rc == 0 && (tok = strtok_r(NULL, " \t\r\n", &save))) rc = add_kv(r, tok, path, ln);
        } else {
            fprintf(stderr, "spectra experiment: %s:%d: unknown directive '%s' (expected defaults or run)\n", path, ln, tok);
            rc = -1;
        }
    }
    fclose(f);
    for (int i = 0; i < defaults.nargs; i++) free(defaults.args[i]);
    if (rc == 0 && p->n == 0) {
        fprintf(stderr, "spectra experiment: plan '%s' has no runs\n", path);
        rc = -1;
    }
    return rc;
}

static void free_plan(plan *p) {
    for (int i = 0; i < p->n; i++)
        for (int j = 0; j < p->runs[i].nargs; j++) free(p->runs[i].args[j]);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Value of a flag in a run (the last occurrence wins, as in `spectra train`). */
static const char *run_flag(const plan_run *r, const char *key) {
    const char *v = NULL;
    for (int i = 0; i + 1 < r->nargs; i += 2)
        if (!strcmp(r->args[i], key)) v = r->args[i + 1];
    return v;
}

static int run_one(const char *self, const char *dir, const plan_run *r, int resume, long *maxrss_kb) {
    char out[1200];
    snprintf(out, sizeof out, "%s/%s", dir, r->name);
    char *argv[MAX_ARGS + 10];
    int a = 0;
    argv[a++] = (char *)self;
    argv[a++] = "train";
    argv[a++] = "--out";
    argv[a++] = out;
    argv[a++] = "--quiet";
    if (resume) argv[a++] = "--resume";
    for (int i = 0; i < r->nargs; i++) {
        /* On resume the checkpoint's config wins; pass only what may change. */
        if (resume && i % 2 == 0 && strcmp(r->args[i], "--steps") && strcmp(r->args[i], "--data") &&
            strcmp(r->args[i], "--val-every") && strcmp(r->args[i], "--ckpt-every") && strcmp(r->args[i], "--sample-tokens")) {
            i++;
            continue;
        }
        argv[a++] = r->args[i];
    }
    argv[a] = NULL;
    int rc = cli_run_program(argv, NULL, NULL, maxrss_kb);
    if (rc == -1) fprintf(stderr, "spectra experiment: fork failed: %s\n", strerror(errno));
    else if (rc == 127) fprintf(stderr, "spectra experiment: cannot run %s\n", self);
    return rc;
}

/* Parses a run's log.jsonl: final/best validation loss, steps, wall time, tokens, and the
 * median step time. Time axes use steps × median step time rather than wall-clock: on a
 * shared or paused machine wall-clock measures the neighbours, while the median step time is
 * what this optimizer and model cost (validation passes excluded; docs/EXPERIMENTS.md). */
typedef struct run_summary {
    int ok;
    double final_val, best_val, final_train, wall, tokens, lr, step_s;
    long steps;
    double *val_steps, *val_losses;
    int nval;
} run_summary;

static double json_num(const char *line, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int summarize_run(const char *dir, const char *name, run_summary *s) {
    memset(s, 0, sizeof *s);
    s->final_val = s->best_val = s->final_train = s->step_s = NAN;
    char path[1300];
    snprintf(path, sizeof path, "%s/%s/log.jsonl", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[2048];
    int cap = 0, ncap = 0, nt = 0;
    double *times = NULL;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "{\"step\"", 7)) continue;
        s->steps = (long)json_num(line, "step");
        double t = json_num(line, "step_s");
        if (isfinite(t)) {
            if (nt == ncap) {
                ncap = ncap ? 2 * ncap : 256;
                double *grown = realloc(times, (size_t)ncap * sizeof *times);
                if (!grown) break;
                times = grown;
            }
            times[nt++] = t;
        }
        s->final_train = json_num(line, "loss");
        s->wall = json_num(line, "wall_s");
        s->tokens = json_num(line, "tokens");
        double v = json_num(line, "val_loss");
        if (isfinite(v)) {
            if (s->nval == cap) {
                cap = cap ? 2 * cap : 64;
                s->val_steps = realloc(s->val_steps, (size_t)cap * sizeof(double));
                s->val_losses = realloc(s->val_losses, (size_t)cap * sizeof(double));
            }
            s->val_steps[s->nval] = (double)s->steps;
            s->val_losses[s->nval] = v;
            s->nval++;
            s->final_val = v;
            if (!(v >= s->best_val)) s->best_val = v;
        }
    }
    fclose(f);
    s->step_s = NAN;
    if (nt) {
        qsort(times, (size_t)nt, sizeof *times, cmp_double);
        s->step_s = nt % 2 ? times[nt / 2] : 0.5 * (times[nt / 2 - 1] + times[nt / 2]);
    }
    free(times);
    s->ok = s->steps > 0;
    return s->ok ? 0 : -1;
}

static int summary(const char *dir, const plan *p) {
    run_summary *rs = calloc((size_t)p->n, sizeof *rs);
    /* Target: the best final validation loss among AdamW runs (the paper's "time to AdamW's loss"). */
    double target = NAN;
    for (int i = 0; i < p->n; i++) {
        summarize_run(dir, p->runs[i].name, &rs[i]);
        const char *opt = run_flag(&p->runs[i], "--optim");
        if (rs[i].ok && opt && !strcmp(opt, "adamw") && isfinite(rs[i].final_val) && !(rs[i].final_val >= target))
            target = rs[i].final_val;
    }
    char path[1300];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    FILE *csv = fopen(path, "w");
    snprintf(path, sizeof path, "%s/summary.md", dir);
    FILE *md = fopen(path, "w");
    if (!csv || !md) {
        fprintf(stderr, "spectra experiment: cannot write the summary in '%s'\n", dir);
        if (csv) fclose(csv);
        if (md) fclose(md);
        free(rs);
        return 1;
    }
    fprintf(csv, "run,optim,lr,seed,steps,final_val_loss,best_val_loss,final_train_loss,wall_s,tokens,peak_rss_mb,steps_to_target,"
                 "seconds_to_target,median_step_s\n");
    fprintf(md, "| run | optim | lr | seed | steps | final val | best val | s/step (median) | wall s | peak RSS MB | steps to target | s to target |\n");
    fprintf(md, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    printf("%-28s %-8s %-8s %6s %10s %10s %8s %10s %10s\n", "run", "optim", "lr", "steps", "final val", "best val", "s/step",
           "to target", "s to tgt");
    for (int i = 0; i < p->n; i++) {
        const plan_run *r = &p->runs[i];
        run_summary *s = &rs[i];
        const char *opt = run_flag(r, "--optim"), *lr = run_flag(r, "--lr"), *seed = run_flag(r, "--seed");
        double peak = NAN;
        snprintf(path, sizeof path, "%s/%s/done.json", dir, r->name);
        FILE *d = fopen(path, "r");
        if (d) {
            char buf[512] = {0};
            if (fread(buf, 1, sizeof buf - 1, d) > 0) peak = json_num(buf, "peak_rss_mb");
            fclose(d);
        }
        double st_target = NAN, sec_target = NAN;
        for (int j = 0; isfinite(target) && j < s->nval; j++)
            if (s->val_losses[j] <= target) {
                st_target = s->val_steps[j];
                sec_target = s->val_steps[j] * s->step_s;
                break;
            }
        fprintf(csv, "%s,%s,%s,%s,%ld,%.6f,%.6f,%.6f,%.2f,%.0f,%.1f,%.0f,%.2f,%.5f\n", r->name, opt ? opt : "spectra",
                lr ? lr : "default", seed ? seed : "1", s->steps, s->final_val, s->best_val, s->final_train, s->wall, s->tokens, peak,
                st_target, sec_target, s->step_s);
        char tgt_steps[32] = "—", tgt_secs[32] = "—";
        if (isfinite(st_target)) {
            snprintf(tgt_steps, sizeof tgt_steps, "%.0f", st_target);
            snprintf(tgt_secs, sizeof tgt_secs, "%.1f", sec_target);
        }
        fprintf(md, "| %s | %s | %s | %s | %ld | %.4f | %.4f | %.3f | %.1f | %.0f | %s | %s |\n", r->name, opt ? opt : "spectra",
                lr ? lr : "default", seed ? seed : "1", s->steps, s->final_val, s->best_val, s->step_s, s->wall, peak, tgt_steps,
                tgt_secs);
        printf("%-28s %-8s %-8s %6ld %10.4f %10.4f %8.3f %10.0f %10.1f%s\n", r->name, opt ? opt : "spectra", lr ? lr : "default",
               s->steps, s->final_val, s->best_val, s->step_s, st_target, sec_target, s->ok ? "" : "  (no log yet)");
    }
    fclose(csv);
    fclose(md);
    /* Plot data: one file per run with step, steps × median step time, val. */
    for (int i = 0; i < p->n; i++) {
        snprintf(path, sizeof path, "%s/%s/val.dat", dir, p->runs[i].name);
        FILE *f = fopen(path, "w");
        if (!f) continue;
        for (int j = 0; j < rs[i].nval; j++) fprintf(f, "%g %g %g\n", rs[i].val_steps[j], rs[i].val_steps[j] * rs[i].step_s, rs[i].val_losses[j]);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/plots.gp", dir);
    FILE *gp = fopen(path, "w");
    if (gp) {
        fprintf(gp, "set terminal pngcairo size 900,600\nset key outside right\nset grid\nset ylabel 'validation loss'\n");
        const char *xs[2][3] = {{"loss_vs_step.png", "step", "1"}, {"loss_vs_time.png", "seconds (steps x median step time)", "2"}};
        for (int k = 0; k < 2; k++) {
            fprintf(gp, "set output '%s'\nset xlabel '%s'\nplot ", xs[k][0], xs[k][1]);
            int first = 1;
            for (int i = 0; i < p->n; i++) {
                if (!rs[i].nval) continue;
                fprintf(gp, "%s'%s/val.dat' using %s:3 with linespoints title '%s'", first ? "" : ", \\\n     ", p->runs[i].name,
                        xs[k][2], p->runs[i].name);
                first = 0;
            }
            fprintf(gp, "%s\n", first ? "NaN notitle" : "");
        }
        /* LR sweep: final val loss vs lr, one series per optimizer. */
        fprintf(gp, "set output 'lr_sweep.png'\nset logscale x\nset xlabel 'learning rate'\nset ylabel 'final validation loss'\nplot ");
        const char *opts[4] = {"adamw", "spectra", "muon", "dion"};
        int first = 1;
        for (int o = 0; o < 4; o++) {
            char dat[1400];
            snprintf(dat, sizeof dat, "%s/lr_%s.dat", dir, opts[o]);
            FILE *f = fopen(dat, "w");
            int n = 0;
            for (int i = 0; f && i < p->n; i++) {
                const char *opt = run_flag(&p->runs[i], "--optim"), *lr = run_flag(&p->runs[i], "--lr");
                if (!opt) opt = "spectra";
                if (lr && !strcmp(opt, opts[o]) && isfinite(rs[i].final_val)) fprintf(f, "%s %g\n", lr, rs[i].final_val), n++;
            }
            if (f) fclose(f);
            if (n) {
                fprintf(gp, "%s'lr_%s.dat' using 1:2 with points pointsize 1.5 title '%s'", first ? "" : ", ", opts[o], opts[o]);
                first = 0;
            }
        }
        fprintf(gp, "%s\n", first ? "NaN notitle" : "");
        fclose(gp);
        char *gargv[] = {"gnuplot", "plots.gp", NULL}, glog[1200];
        snprintf(glog, sizeof glog, "%s/gnuplot.log", dir);
        if (cli_run_program(gargv, dir, glog, NULL) != 0)
            fprintf(stderr, "spectra experiment: gnuplot failed or is missing (see %s); the CSV is complete\n", glog);
    }
    printf("summary: %s/summary.csv, %s/summary.md; plots %s/loss_vs_step.png, loss_vs_time.png, lr_sweep.png\n", dir, dir, dir);
    if (isfinite(target)) printf("target (best final AdamW validation loss): %.4f\n", target);
    for (int i = 0; i < p->n; i++) free(rs[i].val_steps), free(rs[i].val_losses);
    free(rs);
    return 0;
}

static void default_dir(const char *plan_path, char *out, size_t cap) {
    const char *base = strrchr(plan_path, '/');
    base = base ? base + 1 : plan_path;
    const char *dot = strrchr(base, '.');
    int len = dot ? (int)(dot - base) : (int)strlen(base);
    snprintf(out, cap, "runs/%.*s", len, base);
}

int cmd_experiment(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "run") && strcmp(sub, "summary")) {
        fprintf(stderr, "spectra experiment: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    if (argc < 3) {
        fprintf(stderr, "spectra experiment %s: missing %s\n", sub, strcmp(sub, "run") ? "DIR" : "PLAN");
        return 2;
    }
    char dir[1024] = "";
    int dry = 0;
    const char *plan_path = argv[2], *out_arg = NULL;
    const cli_flag flags[] = {
        {CLI_FLAG("--out", CLI_STRING, &out_arg)},
        {CLI_FLAG("--dry-run", CLI_ON, &dry)},
    };
    char cmd[32];
    snprintf(cmd, sizeof cmd, "experiment %s", sub);
    size_t n_flags = strcmp(sub, "run") ? 0 : sizeof flags / sizeof flags[0]; /* summary DIR takes none */
    int prc = cli_parse_flags(cmd, argc, argv, 3, flags, n_flags, NULL, NULL, NULL);
    if (prc == CLI_FLAGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    if (out_arg) snprintf(dir, sizeof dir, "%s", out_arg);
    if (!strcmp(sub, "summary")) {
        /* summary DIR: the plan is the copy the runner saved there. */
        snprintf(dir, sizeof dir, "%s", argv[2]);
        char saved[1100];
        snprintf(saved, sizeof saved, "%s/plan.txt", dir);
        plan *p = calloc(1, sizeof *p);
        int rc = parse_plan(saved, p) ? 1 : summary(dir, p);
        free_plan(p);
        free(p);
        return rc;
    }
    plan *p = calloc(1, sizeof *p);
    if (parse_plan(plan_path, p) != 0) {
        free_plan(p);
        free(p);
        return 2;
    }
    if (!dir[0]) default_dir(plan_path, dir, sizeof dir);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "spectra experiment: cannot find my own executable\n");
        return 1;
    }
    self[n] = '\0';
    /* Every entry's flags through spectra train's own checks (in this process, nothing written)
     * before anything runs: a typo in the last entry used to surface after the others trained. */
    for (int i = 0; i < p->n; i++) {
        const plan_run *r = &p->runs[i];
        char done[1300], out[1200];
        snprintf(out, sizeof out, "%s/%s", dir, r->name);
        snprintf(done, sizeof done, "%s/done.json", out);
        if (file_exists(done)) continue;
        char *targv[MAX_ARGS + 8];
        int a = 0;
        targv[a++] = "train";
        targv[a++] = "--check";
        targv[a++] = "--quiet";
        targv[a++] = "--out";
        targv[a++] = out;
        for (int j = 0; j < r->nargs; j++) targv[a++] = r->args[j];
        targv[a] = NULL;
        if (cmd_train(a, targv) != 0) {
            fprintf(stderr, "spectra experiment: %s: run '%s' has bad settings (above); nothing was run\n", plan_path, r->name);
            free_plan(p);
            free(p);
            return 2;
        }
    }
    char saved[1300];
    snprintf(saved, sizeof saved, "%s/plan.txt", dir);
    if (!dry && (cli_mkdir_p(dir) != 0 || cli_copy_file(plan_path, saved) != 0)) {
        fprintf(stderr, "spectra experiment: cannot create '%s' with the plan in it: %s\n", saved, strerror(errno));
        free_plan(p);
        free(p);
        return 1;
    }
    int failures = 0;
    for (int i = 0; i < p->n; i++) {
        const plan_run *r = &p->runs[i];
        char done[1300], ckpt[1300];
        snprintf(done, sizeof done, "%s/%s/done.json", dir, r->name);
        snprintf(ckpt, sizeof ckpt, "%s/%s/checkpoint.bin", dir, r->name);
        if (file_exists(done)) {
            printf("[%d/%d] %s: complete, skipped\n", i + 1, p->n, r->name);
            continue;
        }
        int resume = file_exists(ckpt);
        printf("[%d/%d] %s: %s", i + 1, p->n, r->name, resume ? "resuming" : "running");
        for (int j = 0; j < r->nargs; j++) printf(" %s", r->args[j]);
        printf("\n");
        if (dry) continue;
        long rss = 0;
        int rc = run_one(self, dir, r, resume, &rss);
        if (rc != 0) {
            printf("[%d/%d] %s: FAILED (exit %d); see %s/%s/\n", i + 1, p->n, r->name, rc, dir, r->name);
            failures++;
            if (rc == 130) break; /* interrupted: stop the plan, it resumes next time */
            continue;
        }
        FILE *f = fopen(done, "w");
        if (f) {
            fprintf(f, "{\"run\": \"%s\", \"peak_rss_mb\": %.1f}\n", r->name, (double)rss / 1024.0);
            fclose(f);
        }
    }
    int rc = dry ? 0 : summary(dir, p);
    free_plan(p);
    free(p);
    return failures ? 1 : rc;
}
