/* `spectra bench <what>`: benchmarks, one subcommand per library part. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_bench(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "model")) return cmd_bench_model(argc - 1, argv + 1);
    fprintf(stderr, "usage: spectra bench model [options]   (spectra bench model --help)\n");
    return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
}
