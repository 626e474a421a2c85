#include "cli_flags.h"

#include "train_cli.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int is_option(const char *a) { return !strncmp(a, "--", 2) || !strcmp(a, "-h"); }

static const cli_flag *find_flag(const cli_flag *flags, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(flags[i].name, name)) return &flags[i];
    return NULL;
}

/* The index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value) {
    size_t len = strlen(value);
    int index = 0;
    for (const char *p = choices;; index++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, value, len)) return index;
        if (!bar) return -1;
        p = bar + 1;
    }
}

static int store(const char *cmd, const cli_flag *f, const char *v) {
    switch (f->kind) {
    case CLI_ON: *(int *)f->dst = 1; return 1;
    case CLI_OFF: *(int *)f->dst = 0; return 1;
    case CLI_STRING:
    case CLI_OPT_STRING:
        if (f->dst && v) *(const char **)f->dst = v;
        return 1;
    case CLI_INT: return cli_parse_int(f->name, v, (int)f->lo, (int)f->hi, (int *)f->dst);
    case CLI_U64: return cli_parse_u64(f->name, v, (uint64_t)f->lo, (uint64_t *)f->dst);
    case CLI_DOUBLE: return cli_parse_double(f->name, v, f->lo, f->hi, (double *)f->dst);
    case CLI_CHOICE: {
        int k = choice_index(f->choices, v);
        if (k < 0) {
            fprintf(stderr, "spectra %s: %s must be one of %s (got '%s')\n", cmd, f->name, f->choices, v);
            return 0;
        }
        *(int *)f->dst = k;
        return 1;
    }
    case CLI_CALL: return 1;
    }
    return 0;
}

static int parse_flags(const char *cmd, int argc, char **argv, int first, const cli_flag *flags, size_t n, cli_flag_fn on_flag,
                       void *ctx, int *positional) {
    int i = first;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!is_option(a)) {
            if (positional) break;
            fprintf(stderr, "spectra %s: unexpected argument '%s'; see spectra %s --help\n", cmd, a, cmd);
            return CLI_FLAGS_USAGE;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return CLI_FLAGS_HELP;
        const cli_flag *f = find_flag(flags, n, a);
        if (!f) {
            fprintf(stderr, "spectra %s: unknown option '%s'; see spectra %s --help\n", cmd, a, cmd);
            return CLI_FLAGS_USAGE;
        }
        const char *v = NULL;
        if (f->kind == CLI_OPT_STRING) {
            if (i + 1 < argc && !is_option(argv[i + 1])) v = argv[++i];
        } else if (f->kind != CLI_ON && f->kind != CLI_OFF) {
            if (i + 1 >= argc) {
                fprintf(stderr, "spectra %s: option '%s' needs a value; see spectra %s --help\n", cmd, a, cmd);
                return CLI_FLAGS_USAGE;
            }
            v = argv[++i];
        }
        if (!store(cmd, f, v)) return CLI_FLAGS_USAGE;
        if (f->given) *f->given = 1;
        if (on_flag && !on_flag(ctx, f, v)) return CLI_FLAGS_USAGE;
    }
    if (positional) *positional = i;
    return CLI_FLAGS_OK;
}

int cli_parse_flags(const char *cmd, int argc, char **argv, int first, const cli_flag *flags, size_t n, cli_flag_fn on_flag,
                    void *ctx, int *positional) {
    cli_set_parse_command(cmd); /* number messages name the subcommand too */
    int rc = parse_flags(cmd, argc, argv, first, flags, n, on_flag, ctx, positional);
    cli_set_parse_command(NULL);
    return rc;
}
