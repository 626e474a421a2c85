/* The `spectra` command: a thin dispatcher over subcommands, each in its own file. */
#include "bench_util.h"
#include "cli.h"

#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "spectra/spectra.h"

static const spectra_cli_command commands[] = {
    {"train", "train the transformer on prepared shards with Spectra, AdamW, Muon or Dion", cmd_train},
    {"sample", "generate text from a checkpoint", cmd_sample},
    {"experiment", "run a plan of training runs and summarize them (tables, plots)", cmd_experiment},
    {"demo", "run Spectra on a synthetic spiked problem and show what it did", cmd_demo},
    {"bench", "benchmarks: optimizer steps (optim), model forward/backward (model)", cmd_bench},
    {"prepare", "fetch/read a corpus, tokenize it and write llm.c token shards", cmd_prepare},
    {"tokenizer", "GPT-2 BPE: encode, decode, bench, train a new vocabulary", cmd_tokenizer},
    {"analyze", "gradient-spectrum analysis of checkpoints (paper section 2): spectrum, moments, relvar, ns-align, intervene", cmd_analyze},
};

static void usage(FILE *out) {
    fprintf(out, "usage: spectra <command> [options]   (spectra <command> --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-12s %s\n", "version", "print the library version and the BLAS kernels in use");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        cli_fix_blas_core(argv);
        printf("spectra %s\n", spectra_version());
        printf("OpenBLAS core %s (%s)%s\n", bench_openblas_core(), bench_openblas_config(), cli_blas_core_note());
        int bound, cpus = cli_omp_cpus(&bound);
        int threads = omp_get_max_threads();
        char rt[256];
        int nrt = cli_omp_runtimes(rt, sizeof rt);
        printf("OpenMP %d thread%s on %d CPU%s (%s); runtime %s%s\n", threads, threads == 1 ? "" : "s", cpus, cpus == 1 ? "" : "s",
               bound ? "bound to places" : "unbound", nrt ? rt : "unknown",
               nrt > 1 ? " (two runtimes: OpenBLAS's threads and ours are separate pools; docs/TRAINING.md)" : "");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            cli_fix_blas_core(argv);
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "spectra: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
