/* libFuzzer target: optimizer state images, the parser behind spectra_optim_load,
 * spectra_optim_deserialize and the optimizer part of trainer checkpoints.
 *
 * The trailing CRC-32 would refuse nearly every mutated image before the parser sees it, so
 * the harness appends the right CRC to the image it builds. Input byte 0 picks how:
 *   even: the rest of the input is the image itself;
 *   odd:  a valid image of the harness's optimizer (all five algorithms, after two steps)
 *         patched by the rest of the input as (offset high, offset low, value) triples, and,
 *         with bit 1 set, cut to the length in the first triple: every field deep inside a
 *         well-formed file is reached without a seed corpus.
 * Properties: no crash or sanitizer report; a refused image changes nothing (the optimizer
 * serializes to the same bytes before and after); after an accepted one the optimizer steps.
 * Each input starts from the same state: the optimizer and its weights are restored after
 * every accepted image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "spectra/spectra.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NP 5
static const size_t ROWS[NP] = {12, 16, 12, 12, 1}, COLS[NP] = {16, 12, 16, 8, 16};
static const spectra_algo ALGO[NP] = {SPECTRA_ALGO_SPECTRA, SPECTRA_ALGO_MUON, SPECTRA_ALGO_DION, SPECTRA_ALGO_SGD,
                                      SPECTRA_ALGO_ADAMW};
static spectra_optim *opt;
static float *w[NP], *w0[NP], *g[NP];
static void *valid; /* the image of the initial state, CRC included */
static size_t valid_len;

static void setup(void) {
    if (spectra_optim_create(&opt, 5)) __builtin_trap();
    uint64_t s = 88172645463325252ULL;
    for (int i = 0; i < NP; i++) {
        size_t n = ROWS[i] * COLS[i];
        w[i] = malloc(n * sizeof(float)), w0[i] = malloc(n * sizeof(float)), g[i] = malloc(n * sizeof(float));
        for (size_t j = 0; j < n; j++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            w[i][j] = (float)(s % 1000) / 1000.0f - 0.5f;
            g[i][j] = (float)((s >> 20) % 1000) / 1000.0f - 0.5f;
        }
        spectra_hparams hp = spectra_hparams_default(ALGO[i]);
        if (ALGO[i] == SPECTRA_ALGO_SPECTRA) hp.rank_ratio = 0.2;
        int grp;
        char name[8] = {'p', (char)('0' + i), 0};
        if (spectra_optim_add_group(opt, &hp, &grp) || spectra_optim_add_param(opt, grp, name, w[i], g[i], ROWS[i], COLS[i]))
            __builtin_trap();
    }
    if (spectra_optim_step(opt) || spectra_optim_step(opt)) __builtin_trap();
    for (int i = 0; i < NP; i++) memcpy(w0[i], w[i], ROWS[i] * COLS[i] * sizeof(float));
    if (spectra_optim_serialize(opt, &valid, &valid_len) || valid_len < 8) __builtin_trap();
}

static int same_state(const void *a, size_t na) {
    void *b = NULL;
    size_t nb = 0;
    if (spectra_optim_serialize(opt, &b, &nb)) __builtin_trap();
    int same = na == nb && !memcmp(a, b, na);
    free(b);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!opt) setup();
    if (size == 0) return 0;
    size_t len;
    unsigned char *img = fuzz_crc_image(data, size, valid, valid_len, 2, &len);
    spectra_status st = spectra_optim_deserialize(opt, img, len);
    if (st != SPECTRA_OK) {
        if (!same_state(valid, valid_len)) __builtin_trap(); /* a refused image changed the optimizer */
    } else {
        (void)spectra_optim_step(opt); /* any status, but no crash */
        if (spectra_optim_deserialize(opt, valid, valid_len)) __builtin_trap();
        for (int i = 0; i < NP; i++) memcpy(w[i], w0[i], ROWS[i] * COLS[i] * sizeof(float));
    }
    free(img);
    return 0;
}
