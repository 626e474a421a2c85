/* libFuzzer target: trainer checkpoints, the files behind spectra_checkpoint_read_config,
 * spectra_checkpoint_load_model and spectra_trainer_load (`spectra train --resume`,
 * `spectra sample`, `spectra analyze`).
 *
 * As in fuzz_state, the harness appends the right CRC-32 so that mutations reach the parser.
 * Input byte 0 picks how the image is built:
 *   even: the rest of the input is the image;
 *   odd:  a valid checkpoint of the harness's trainer (a small model after two Spectra steps)
 *         patched by the rest of the input as (offset, 3 bytes big-endian; value) quads and,
 *         with bit 1 set, first cut to the length in the first quad's offset.
 * Properties: no crash or sanitizer report; read_config accepts exactly what load_model
 * accepts, and what it accepts is a valid config whose model has the stored parameter
 * count; a refused trainer_load changes nothing (the trainer saves the same bytes as before);
 * after an accepted one the trainer steps (any status), and loading the valid checkpoint
 * back restores it exactly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "spectra/spectra.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static spectra_trainer *tr;
static unsigned char *valid; /* the trainer's checkpoint, CRC included */
static size_t valid_len;
static char dir[64], shard[96], valid_path[96], img_path[96], save_path[96];

/* The trainer's state, as its own checkpoint, must equal the valid image. */
static int trainer_is_valid_state(void) {
    size_t n = 0;
    if (spectra_trainer_save(tr, save_path)) __builtin_trap();
    unsigned char *b = fuzz_slurp(save_path, &n);
    int same = b && n == valid_len && !memcmp(b, valid, n);
    free(b);
    return same;
}

static void cleanup(void) {
    const char *files[4] = {shard, valid_path, img_path, save_path};
    for (int i = 0; i < 4; i++) remove(files[i]);
    remove(dir);
}

static void setup(void) {
    /* tmpfs when there is one: the atomic writer fsyncs every save */
    snprintf(dir, sizeof dir, "%s", access("/dev/shm", W_OK) ? "/tmp/spectra_fuzz_ckpt_XXXXXX" : "/dev/shm/spectra_fuzz_ckpt_XXXXXX");
    if (!mkdtemp(dir)) __builtin_trap();
    snprintf(shard, sizeof shard, "%s/train.bin", dir);
    snprintf(valid_path, sizeof valid_path, "%s/valid.ckpt", dir);
    snprintf(img_path, sizeof img_path, "%s/input.ckpt", dir);
    snprintf(save_path, sizeof save_path, "%s/save.ckpt", dir);
    enum { VOCAB = 32, NTOK = 2000 };
    int32_t ids[NTOK];
    for (int i = 0; i < NTOK; i++) ids[i] = (int32_t)((i * 7 + i / 13) % VOCAB);
    if (spectra_shard_write(shard, ids, NTOK, VOCAB)) __builtin_trap();
    spectra_train_config c = spectra_train_config_default();
    spectra_model_config_from_preset("tiny", &c.model);
    c.model.vocab_size = VOCAB;
    c.model.d_model = 16;
    c.model.n_layers = 1;
    c.model.n_heads = 2;
    c.model.n_kv_heads = 1;
    c.model.d_ff = 32;
    c.model.max_seq_len = 8;
    c.batch_size = 2;
    c.seq_len = 8;
    c.max_steps = 10;
    c.warmup_steps = 2;
    c.val_batches = 1;
    c.matrix.rank_ratio = 0.2;
    const char *sh[1] = {shard};
    if (spectra_trainer_create(&tr, &c, sh, 1, NULL, 0) || spectra_trainer_step(tr, NULL) ||
        spectra_trainer_step(tr, NULL) || spectra_trainer_save(tr, valid_path))
        __builtin_trap();
    if (!(valid = fuzz_slurp(valid_path, &valid_len)) || valid_len < 16) __builtin_trap();
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tr) setup();
    if (size == 0) return 0;
    size_t len;
    unsigned char *img = fuzz_crc_image(data, size, valid, valid_len, 3, &len);
    fuzz_spill(img_path, img, len);
    free(img);

    spectra_train_config cfg;
    spectra_model *m = NULL;
    const spectra_status rc = spectra_checkpoint_read_config(img_path, &cfg);
    const spectra_status lm = spectra_checkpoint_load_model(img_path, &m);
    if ((rc == SPECTRA_OK) != (lm == SPECTRA_OK)) __builtin_trap();
    if (rc == SPECTRA_OK) {
        if (spectra_train_config_validate(&cfg) || !m ||
            spectra_model_num_params(m) != spectra_model_config_num_params(&cfg.model))
            __builtin_trap();
        spectra_model_destroy(m);
    } else if (m) {
        __builtin_trap();
    }
    if (spectra_trainer_load(tr, img_path) != SPECTRA_OK) {
        if (!spectra_trainer_last_error(tr)[0] || !trainer_is_valid_state()) __builtin_trap();
        return 0;
    }
    (void)spectra_trainer_step(tr, NULL); /* any status, but no crash */
    if (spectra_trainer_load(tr, valid_path) || !trainer_is_valid_state()) __builtin_trap();
    return 0;
}
