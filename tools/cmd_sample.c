/* `spectra sample`: text from a training checkpoint, with temperature and top-k. */
#include "cli.h"
#include "cli_flags.h"
#include "data_cli.h"
#include "train_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: spectra sample --checkpoint FILE [--prompt TEXT] [--tokens N] [--temperature F] [--top-k K]\n"
               "                      [--seed N] [--tokenizer gpt2|DIR]\n"
               "  defaults: --tokens 128 --temperature 0.8 --top-k 40 --seed 1; the tokenizer is the one the run\n"
               "  recorded next to its checkpoint (tokenizer.txt), else gpt2\n");
}

int cmd_sample(int argc, char **argv) {
    const char *ckpt = NULL, *prompt = "", *tokarg = NULL;
    int n = 128, top_k = 40;
    double temp = 0.8;
    uint64_t seed = 1;
    const cli_flag flags[] = {
        {CLI_FLAG("--checkpoint", CLI_STRING, &ckpt)},
        {CLI_FLAG("--prompt", CLI_STRING, &prompt)},
        {CLI_FLAG("--tokenizer", CLI_STRING, &tokarg)},
        {CLI_FLAG("--tokens", CLI_INT, &n), .lo = 1, .hi = 1 << 20},
        {CLI_FLAG("--top-k", CLI_INT, &top_k), .lo = 0, .hi = 1 << 24},
        {CLI_FLAG("--temperature", CLI_DOUBLE, &temp), .lo = 0, .hi = 100},
        {CLI_FLAG("--seed", CLI_U64, &seed), .lo = 0},
    };
    int prc = cli_parse_flags("sample", argc, argv, 1, flags, sizeof flags / sizeof flags[0], NULL, NULL, NULL);
    if (prc == CLI_FLAGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    if (!ckpt) {
        fprintf(stderr, "spectra sample: --checkpoint is required\n");
        usage(stderr);
        return 2;
    }
    char recorded[1100] = "gpt2";
    if (!tokarg) {
        char path[1100];
        snprintf(path, sizeof path, "%s", ckpt);
        char *slash = strrchr(path, '/');
        if (slash) snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "tokenizer.txt");
        else snprintf(path, sizeof path, "tokenizer.txt");
        FILE *f = fopen(path, "r");
        if (f) {
            if (fgets(recorded, sizeof recorded, f)) recorded[strcspn(recorded, "\n")] = '\0';
            fclose(f);
        }
        tokarg = recorded;
    }
    spectra_model *model;
    if (spectra_checkpoint_load_model(ckpt, &model) != SPECTRA_OK) {
        fprintf(stderr, "spectra sample: %s\n", spectra_last_error());
        return 1;
    }
    spectra_tokenizer *tok = data_load_tokenizer(tokarg, 0, NULL, 0);
    if (!tok) {
        /* runs before 2026-11-30 recorded the path relative to where they were trained */
        fprintf(stderr, "spectra sample: pass the run's tokenizer directory with --tokenizer DIR\n");
        spectra_model_destroy(model);
        return 1;
    }
    if (spectra_tokenizer_vocab_size(tok) > (uint32_t)spectra_model_get_config(model)->vocab_size) {
        fprintf(stderr, "spectra sample: tokenizer '%s' has %u ids but the model only %d; pass the run's --tokenizer\n", tokarg,
                spectra_tokenizer_vocab_size(tok), spectra_model_get_config(model)->vocab_size);
        spectra_tokenizer_free(tok);
        spectra_model_destroy(model);
        return 1;
    }
    spectra_token_buf ids = {0};
    int rc = 0;
    if (spectra_tokenizer_encode(tok, prompt, strlen(prompt), &ids) != SPECTRA_OK) {
        fprintf(stderr, "spectra sample: %s\n", spectra_last_error());
        rc = 1;
    } else {
        fputs(prompt, stdout);
        rc = cli_generate(model, tok, ids.ids, ids.len, n, temp, top_k, seed, stdout) ? 1 : 0;
    }
    spectra_token_buf_free(&ids);
    spectra_tokenizer_free(tok);
    spectra_model_destroy(model);
    return rc;
}
