/* `spectra sample`: text from a training checkpoint, with temperature and top-k. */
#include "cli.h"
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
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            static const char *const valued[] = {"--checkpoint", "--prompt", "--tokenizer", "--tokens", "--top-k",
                                                 "--temperature", "--seed"};
            int known = 0;
            for (size_t q = 0; q < sizeof valued / sizeof valued[0]; q++) known |= !strcmp(a, valued[q]);
            if (known) fprintf(stderr, "spectra sample: option '%s' needs a value\n", a);
            else fprintf(stderr, "spectra sample: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        int ok = 1;
        if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--tokenizer")) tokarg = v;
        else if (!strcmp(a, "--tokens")) ok = cli_parse_int(a, v, 1, 1 << 20, &n);
        else if (!strcmp(a, "--top-k")) ok = cli_parse_int(a, v, 0, 1 << 24, &top_k);
        else if (!strcmp(a, "--temperature")) ok = cli_parse_double(a, v, 0, 100, &temp);
        else if (!strcmp(a, "--seed")) ok = cli_parse_u64(a, v, 0, &seed);
        else {
            fprintf(stderr, "spectra sample: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }
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
