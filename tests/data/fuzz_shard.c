/* libFuzzer target: the shard header/size/token validator must accept or reject any
 * bytes without reading out of bounds, and accept only what matches the format. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard.h"
#include "spectra/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Copy into an exact-size heap block so ASan catches any overread. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    uint32_t vocab = size > 12 ? (uint32_t)copy[size - 1] << 8 | copy[size - 2] : 50257;
    uint64_t n = 0;
    spectra_status st = spectra_shard_parse(copy, size, vocab, "fuzz", &n);
    if (st == SPECTRA_OK) {
        /* an accepted image has exactly the layout it claims */
        if (size != SPECTRA_SHARD_HEADER_BYTES + 2 * n) __builtin_trap();
        if (memcmp(copy, "\x88\xd8\x34\x01\x01\x00\x00\x00", 8) != 0) __builtin_trap();
    }
    free(copy);
    return 0;
}
