/* Helpers shared by the libFuzzer harnesses: file read/write for those that hand their inputs
 * to the library as files (tokenizer files, checkpoints), and images with their CRC fixed up
 * for the CRC-checked formats (optimizer state, checkpoints). Harness failures trap: they are
 * not findings. */
#ifndef SPECTRA_FUZZ_UTIL_H
#define SPECTRA_FUZZ_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

/* The whole file (malloc'ed, *n its length), or NULL if it cannot be read or is empty. */
static inline unsigned char *fuzz_slurp(const char *path, size_t *n) {
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

static inline void fuzz_spill(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) __builtin_trap();
}

/* An image for a CRC-checked format, built from the fuzzer's input and ended with the right
 * CRC-32 (little-endian) so that mutations reach the parser instead of the checksum test.
 * `valid` is a valid image (CRC included), `ob` the width in bytes of the patch offsets
 * (enough to address it). Input byte 0 picks how:
 *   even: the rest of the input is the image body;
 *   odd:  the valid body patched by the rest of the input as (offset, ob bytes big-endian;
 *         value) records and, with bit 1 set, first cut to the length in the first record's
 *         offset (that record patches nothing).
 * Returns the malloc'ed image and its length with the CRC in *len; size must be >= 1. */
static inline unsigned char *fuzz_crc_image(const uint8_t *data, size_t size, const unsigned char *valid, size_t valid_len,
                                            int ob, size_t *len) {
    const size_t body_max = valid_len - 4, rec = (size_t)ob + 1;
    size_t n;
    unsigned char *img;
    if (data[0] & 1) {
        img = malloc(body_max + 4);
        memcpy(img, valid, body_max);
        n = body_max;
        size_t t = 1;
        for (int first = 1; t + rec <= size; t += rec, first = 0) {
            size_t off = 0;
            for (int b = 0; b < ob; b++) off = off << 8 | data[t + (size_t)b];
            if (first && (data[0] & 2)) n = off % (body_max + 1);
            else img[off % body_max] = data[t + (size_t)ob];
        }
    } else {
        n = size - 1;
        img = malloc(n + 4);
        memcpy(img, data + 1, n);
    }
    uint32_t crc = spectra_crc32(0, img, n);
    for (int i = 0; i < 4; i++) img[n + (size_t)i] = (unsigned char)(crc >> (8 * i));
    *len = n + 4;
    return img;
}
#endif
