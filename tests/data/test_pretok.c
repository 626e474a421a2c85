/* The pre-tokenizer's ASCII fast path must cut text exactly where PCRE2 alone does with
 * GPT-2's pattern: 50,000 random strings built from the characters that matter to the
 * pattern (contraction parts, letters, digits, punctuation, ASCII and Unicode spaces,
 * non-ASCII letters/digits/symbols next to ASCII ones). Also: the pieces tile the input,
 * and a few cuts written out by hand. */
#include "data/bpe_internal.h"
#include "spectra/spectra.h"
#include "test_util.h"

#include <string.h>

static const char *alphabet[] = {"a", "Z", "'", "s", "t", "re", "ve", "ll", "d", "m", " ", "  ", "\n", "\t", "\r",
                                 "\x0b", "\x0c", "1", "9", ".", "!", "\"", "-", "\x1c", "\x7f", "\xc3\xa9", "\xc2\xb2",
                                 "\xc2\xa0", "\xe2\x80\xa8", "\xef\xbb\xbf", "\xe6\x97\xa5", "\xf0\x9f\x98\x80",
                                 "\xd9\xa1", "\xc2\x85", "\xe3\x80\x80", "\xe2\x80\x8b"};

static size_t cuts(spectra_pretok *p, const unsigned char *s, size_t n, size_t *out, int *tiles) {
    size_t pos = 0, a, b, k = 0, prev = 0;
    *tiles = 1;
    while (spectra_pretok_next(p, s, n, &pos, &a, &b) == 1) {
        *tiles &= a == prev && b > a;
        prev = b;
        out[k++] = b;
    }
    *tiles &= prev == n;
    return k;
}

int main(void) {
    spectra_pretok *p = NULL;
    spectra_status st = spectra_pretok_create(&p);
    if (st == SPECTRA_ERR_UNSUPPORTED) {
        fprintf(stderr, "test_pretok: SKIP: built without PCRE2\n");
        return 77;
    }
    CHECK_OK(st);
    /* by hand: GPT-2's pattern on "Hello  world's 42\n\n" */
    const char *h = "Hello  world's 42\n\nx";
    size_t c[64];
    int tiles;
    size_t k = cuts(p, (const unsigned char *)h, strlen(h), c, &tiles);
    const size_t want[] = {5, 6, 12, 14, 17, 18, 19, 20}; /* Hello|" "|" world"|'s|" 42"|\n|\n|x */
    CHECK(tiles && k == 8 && !memcmp(c, want, sizeof want));

    uint64_t s = 99;
    unsigned char buf[400];
    size_t c1[400], c2[400];
    int diffs = 0, badtile = 0;
    for (int it = 0; it < 50000; it++) {
        size_t n = 0;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int pieces = 1 + (int)((s >> 40) % 40);
        for (int j = 0; j < pieces; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *a = alphabet[(s >> 33) % (sizeof alphabet / sizeof *alphabet)];
            memcpy(buf + n, a, strlen(a));
            n += strlen(a);
        }
        int t1, t2;
        spectra_pretok_set_fast_path(p, 1);
        size_t k1 = cuts(p, buf, n, c1, &t1);
        spectra_pretok_set_fast_path(p, 0);
        size_t k2 = cuts(p, buf, n, c2, &t2);
        badtile += !t1 || !t2;
        if (k1 != k2 || memcmp(c1, c2, k1 * sizeof *c1)) {
            if (!diffs++) {
                fprintf(stderr, "fast path and PCRE2 differ on:");
                for (size_t i = 0; i < n; i++) fprintf(stderr, " %02x", buf[i]);
                fprintf(stderr, "\n");
            }
        }
    }
    CHECK_MSG(diffs == 0, "%d strings cut differently", diffs);
    CHECK(badtile == 0);
    spectra_pretok_free(p);
    return test_finish("test_pretok");
}
