/* Shared by the tokenizer fuzz targets: a small byte-level BPE (256 byte tokens, a few
 * hundred merges, <|endoftext|>) trained on built-in text and saved into `dir`, so the
 * targets run without the network or the GPT-2 files. Returns 0 on success. */
#ifndef SPECTRA_FUZZ_SMALL_BPE_H
#define SPECTRA_FUZZ_SMALL_BPE_H
#include "spectra/data.h"

static const char fuzz_bpe_text[] =
    "It's the fuzzer's text: 123 4567, caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80!\n\n"
    "  spaces   and\ttabs. The quick brown fox jumps over the lazy dog; we'll see.";

static int fuzz_train_small_bpe(const char *dir, int vocab) {
    spectra_bpe_trainer *tr = NULL;
    if (spectra_bpe_trainer_create(&tr)) return -1;
    int bad = 0;
    for (int i = 0; i < 20 && !bad; i++) bad = spectra_bpe_trainer_add_text(tr, fuzz_bpe_text, sizeof fuzz_bpe_text - 1) != 0;
    bad = bad || spectra_bpe_trainer_train(tr, (uint32_t)vocab, NULL, NULL) || spectra_bpe_trainer_save(tr, dir);
    spectra_bpe_trainer_free(tr);
    return bad ? -1 : 0;
}
#endif
