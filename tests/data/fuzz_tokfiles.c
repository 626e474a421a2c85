/* libFuzzer target: the tokenizer's file parsers, encoder.json (a JSON object of strings to
 * ids) and vocab.bpe (merge lines), behind spectra_tokenizer_load.
 *
 * The files start from a small BPE trained at start-up (fuzz_small_bpe.h). Input byte 0 picks
 * what the fuzzer changes:
 *   even: the rest of the input is encoder.json up to its first NUL byte and vocab.bpe after
 *         it (the trained vocab.bpe when there is no NUL);
 *   odd:  one of the trained files (bit 1: 0 encoder.json, 1 vocab.bpe) patched by the rest of
 *         the input as (offset high, offset low, value) triples, each overwriting a byte or,
 *         with bit 3 set, inserting one; with bit 2 set, first cut to the length given by
 *         the first two bytes. Every field of a well-formed file is reached this way.
 * Properties: no crash or sanitizer report; a refused pair of files gives no tokenizer and a
 * message; an accepted one is a lossless tokenizer: <|endoftext|> decodes to its 13 bytes,
 * and, with and without the JS-compatible merge ranks, encoding the built-in text followed by
 * the input itself and decoding the ids gives back that text with ill-formed UTF-8 replaced
 * by U+FFFD (spectra_utf8_repair, as fuzz_encode checks for the shipped tokenizer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/bpe_internal.h"
#include "fuzz_small_bpe.h"
#include "fuzz_util.h"
#include "spectra/data.h"
#include "spectra/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *base[2]; /* the trained encoder.json and vocab.bpe */
static size_t base_len[2];
static char path[2][600];      /* where each input's pair is written */

static char work[] = "/tmp/spectra_fuzz_tokfiles_XXXXXX";

static void cleanup(void) {
    remove(path[0]);
    remove(path[1]);
    remove(work);
}

static void setup(void) {
    char dir[] = "/tmp/spectra_fuzz_tokfiles_XXXXXX";
    if (!mkdtemp(dir) || !mkdtemp(work) || fuzz_train_small_bpe(dir, 400)) __builtin_trap();
    static const char *names[2] = {"encoder.json", "vocab.bpe"};
    for (int i = 0; i < 2; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (!(base[i] = fuzz_slurp(p, &base_len[i])) || base_len[i] < 2) __builtin_trap();
        remove(p);
        snprintf(path[i], sizeof path[i], "%s/%s", work, names[i]);
    }
    remove(dir);
    atexit(cleanup);
}

/* encode(text) then decode must give text with ill-formed UTF-8 replaced. */
static void round_trip(spectra_tokenizer *t, const unsigned char *text, size_t n) {
    spectra_token_buf ids = {0};
    spectra_byte_buf out = {0};
    unsigned char *fixed = NULL;
    size_t flen = n;
    int r = spectra_utf8_repair(text, n, &fixed, &flen);
    const unsigned char *want = r > 0 ? fixed : text;
    if (r < 0 || spectra_tokenizer_encode(t, text, n, &ids) || spectra_tokenizer_decode(t, ids.ids, ids.len, &out))
        __builtin_trap();
    if (out.len != flen || (flen && memcmp(out.data, want, flen))) __builtin_trap();
    free(fixed);
    spectra_token_buf_free(&ids);
    spectra_byte_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!base[0]) setup();
    if (size == 0) return 0;
    const uint8_t mode = data[0];
    unsigned char *file[2] = {NULL, NULL};
    size_t len[2];
    if (!(mode & 1)) {
        const uint8_t *z = memchr(data + 1, 0, size - 1);
        len[0] = z ? (size_t)(z - data - 1) : size - 1;
        file[0] = malloc(len[0] + 1);
        memcpy(file[0], data + 1, len[0]);
        len[1] = z ? size - 1 - len[0] - 1 : base_len[1];
        file[1] = malloc(len[1] + 1);
        memcpy(file[1], z ? z + 1 : base[1], len[1]);
    } else {
        const int which = (mode >> 1) & 1;
        const size_t ntrip = size / 3 + 1;
        for (int i = 0; i < 2; i++) {
            file[i] = malloc(base_len[i] + (i == which ? ntrip : 0) + 1);
            memcpy(file[i], base[i], base_len[i]);
            len[i] = base_len[i];
        }
        unsigned char *f = file[which];
        size_t t = 1;
        if ((mode & 4) && size >= 3) len[which] = ((size_t)data[1] << 8 | data[2]) % (len[which] + 1), t = 3;
        for (; t + 3 <= size; t += 3) {
            size_t at = ((size_t)data[t] << 8 | data[t + 1]) % (len[which] + 1);
            if (mode & 8) {
                memmove(f + at + 1, f + at, len[which] - at);
                f[at] = data[t + 2];
                len[which]++;
            } else if (at < len[which]) {
                f[at] = data[t + 2];
            }
        }
    }
    fuzz_spill(path[0], file[0], len[0]);
    fuzz_spill(path[1], file[1], len[1]);
    free(file[0]);
    free(file[1]);

    spectra_tokenizer *t = NULL;
    spectra_status st = spectra_tokenizer_load(path[0], path[1], &t);
    if (st != SPECTRA_OK) {
        if (t || !spectra_last_error()[0]) __builtin_trap(); /* refused: no tokenizer, and a reason */
        return 0;
    }
    const int32_t eot = spectra_tokenizer_eot(t);
    spectra_byte_buf out = {0};
    if (eot < 0 || spectra_tokenizer_decode(t, &eot, 1, &out) || out.len != 13 || memcmp(out.data, "<|endoftext|>", 13))
        __builtin_trap();
    spectra_byte_buf_free(&out);
    const size_t tl = sizeof fuzz_bpe_text - 1;
    unsigned char *text = malloc(tl + size);
    memcpy(text, fuzz_bpe_text, tl);
    memcpy(text + tl, data, size);
    for (int js = 1; js >= 0; js--) {
        spectra_tokenizer_set_js_compat(t, js);
        round_trip(t, text, tl + size);
    }
    free(text);
    spectra_tokenizer_free(t);
    return 0;
}
