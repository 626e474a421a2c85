/* File helpers shared by the libFuzzer harnesses that hand their inputs to the library as
 * files (tokenizer files, checkpoints). Harness failures trap: they are not findings. */
#ifndef SPECTRA_FUZZ_UTIL_H
#define SPECTRA_FUZZ_UTIL_H
#include <stdio.h>
#include <stdlib.h>

/* The whole file (malloc'ed, *n its length), or NULL if it cannot be read or is empty. */
static unsigned char *fuzz_slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = NULL;
    long len = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
    if (len > 0 && !fseek(f, 0, SEEK_SET) && (b = malloc((size_t)len)) && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = len > 0 ? (size_t)len : 0;
    return b;
}

static void fuzz_spill(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) __builtin_trap();
}
#endif
