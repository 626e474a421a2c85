/* One table-driven parser for every subcommand's flags. A subcommand lists its flags once, as
 * {name, kind, destination, range}, and the parser gives every command the same behaviour:
 * "unknown option" for a name not in the table, "needs a value" for a listed flag at the end,
 * ranges checked by the shared number parsers (train_cli.h), -h/--help, and positional
 * arguments refused unless the command takes them. Before this, each command kept an if/else
 * chain and, to tell "unknown" from "missing its value", a second list of its valued flags. */
#ifndef SPECTRA_TOOLS_CLI_FLAGS_H
#define SPECTRA_TOOLS_CLI_FLAGS_H

#include <stddef.h>

typedef enum cli_kind {
    CLI_ON,         /* no value: *(int *)dst = 1 */
    CLI_OFF,        /* no value: *(int *)dst = 0 (--no-x) */
    CLI_STRING,     /* *(const char **)dst = the value (argv's own string) */
    CLI_OPT_STRING, /* like CLI_STRING, but the value is optional: taken only if the next
                       argument exists and is not an option (--resume [CKPT]) */
    CLI_INT,        /* *(int *)dst, an integer in [lo, hi] */
    CLI_U64,        /* *(uint64_t *)dst, an integer >= lo */
    CLI_DOUBLE,     /* *(double *)dst, a finite number in [lo, hi] */
    CLI_CHOICE,     /* *(int *)dst = the index of the value in choices, "a|b|c" */
    CLI_CALL,       /* a value, handed to the callback only (dst unused) */
} cli_kind;

typedef struct cli_flag {
    const char *name;
    cli_kind kind;
    void *dst;
    double lo, hi;
    const char *choices; /* CLI_CHOICE */
    int *given;          /* if not NULL: set to 1 when the flag appears */
    int tag;             /* the command's own use (train: which flags set the run's config) */
} cli_flag;

/* The fields every entry has, for a designated initializer that names only the rest:
 *   {CLI_FLAG("--batch", CLI_INT, &batch), .lo = 1, .hi = 65536} */
#define CLI_FLAG(flag_name, flag_kind, flag_dst) .name = (flag_name), .kind = (flag_kind), .dst = (flag_dst)

/* Called after each flag has been stored, with its value (NULL for CLI_ON/CLI_OFF and for an
 * absent optional value). Returns 1 to go on, 0 to stop with a usage error (it said why). */
typedef int (*cli_flag_fn)(void *ctx, const cli_flag *flag, const char *value);

enum { CLI_FLAGS_OK = 0, CLI_FLAGS_HELP = -1, CLI_FLAGS_USAGE = 2 };

/* Parses argv[first..argc) against flags[0..n). An argument is an option when it starts with
 * "--" or is "-h". positional == NULL: the command takes no positional arguments and one is a
 * usage error. Else parsing stops at the first argument that is not an option and *positional
 * is its index (argc if none): options come before positional arguments.
 * Returns CLI_FLAGS_OK, CLI_FLAGS_HELP (-h or --help seen: print the usage to stdout, exit 0),
 * or CLI_FLAGS_USAGE with the message printed to stderr ("spectra <cmd>: ..."). The last
 * occurrence of a flag wins. */
int cli_parse_flags(const char *cmd, int argc, char **argv, int first, const cli_flag *flags, size_t n, cli_flag_fn on_flag,
                    void *ctx, int *positional);

#endif
