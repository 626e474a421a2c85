/* Trainer contracts on the tiny preset with synthetic shards:
 *  - resume: 2N steps in one run equal N steps + checkpoint + new trainer + load + N steps,
 *    bit for bit (parameters and the whole optimizer state), for every matrix optimizer;
 *  - a non-finite loss stops the step with SPECTRA_ERR_NONFINITE and changes nothing;
 *  - a checkpoint from a different model or batch geometry is refused and changes nothing;
 *  - truncated / corrupted checkpoints are refused;
 *  - the schedules have the documented shape. */
#include "spectra/spectra.h"
#include "test_util.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"

static const char *TRAIN = "test_trainer_train.bin", *VAL = "test_trainer_val.bin";

static void write_shards(void) {
    /* A learnable stream: mostly t+1 mod 128 with 10% random tokens. */
    size_t n = 20000;
    int32_t *ids = malloc(n * sizeof *ids);
    spectra_rng rng;
    spectra_rng_seed(&rng, 3);
    for (size_t i = 0; i < n; i++)
        ids[i] = spectra_rng_uniform(&rng) < 0.1 ? (int32_t)(spectra_rng_next(&rng) % 128) : (int32_t)((i * 7) % 128);
    spectra_shard_write(TRAIN, ids, n, 128);
    spectra_shard_write(VAL, ids, 4000, 128);
    free(ids);
}

static spectra_train_config tiny_config(spectra_algo algo) {
    spectra_train_config c = spectra_train_config_default();
    spectra_model_config_from_preset("tiny", &c.model);
    c.model.vocab_size = 128;
    c.batch_size = 4;
    c.seq_len = 16;
    c.grad_accum = 2;
    c.max_steps = 12;
    c.warmup_steps = 2;
    c.matrix = spectra_hparams_default(algo);
    c.val_batches = 4;
    return c;
}

static spectra_trainer *make(const spectra_train_config *c) {
    const char *tr[1] = {TRAIN}, *va[1] = {VAL};
    spectra_trainer *t = NULL;
    spectra_status st = spectra_trainer_create(&t, c, tr, 1, va, 1);
    if (st != SPECTRA_OK) fprintf(stderr, "trainer_create: %s\n", spectra_last_error());
    return t;
}

static void *state_bytes(spectra_trainer *t, size_t *len) {
    void *b = NULL;
    spectra_optim_serialize(spectra_trainer_optim(t), &b, len);
    return b;
}

static void test_resume(spectra_algo algo) {
    spectra_train_config c = tiny_config(algo);
    const char *ck = "test_trainer_ckpt.bin";
    spectra_trainer *a = make(&c);
    for (int i = 0; i < 12; i++) CHECK_OK(spectra_trainer_step(a, NULL));
    spectra_trainer *b = make(&c);
    for (int i = 0; i < 6; i++) CHECK_OK(spectra_trainer_step(b, NULL));
    CHECK_OK(spectra_trainer_save(b, ck));
    spectra_trainer_destroy(b);
    b = make(&c);
    CHECK_OK(spectra_trainer_load(b, ck));
    CHECK(spectra_trainer_steps_done(b) == 6);
    for (int i = 0; i < 6; i++) CHECK_OK(spectra_trainer_step(b, NULL));
    size_t np = spectra_model_num_params(spectra_trainer_model(a));
    CHECK_MSG(memcmp(spectra_model_params(spectra_trainer_model(a)), spectra_model_params(spectra_trainer_model(b)),
                     np * sizeof(float)) == 0,
              "%s: resumed parameters differ from the uninterrupted run", spectra_algo_name(algo));
    size_t la, lb;
    void *sa = state_bytes(a, &la), *sb = state_bytes(b, &lb);
    CHECK(la == lb && memcmp(sa, sb, la) == 0);
    double va, vb;
    CHECK_OK(spectra_trainer_evaluate(a, &va));
    CHECK_OK(spectra_trainer_evaluate(b, &vb));
    CHECK(va == vb);
    printf("  resume %-7s: 12 steps == 6 + resume + 6, bit-exact (val loss %.4f)\n", spectra_algo_name(algo), va);
    free(sa);
    free(sb);
    spectra_trainer_destroy(a);
    spectra_trainer_destroy(b);
    unlink(ck);
}

static void test_learning_and_nan(void) {
    spectra_train_config c = tiny_config(SPECTRA_ALGO_SPECTRA);
    c.max_steps = 60;
    spectra_trainer *t = make(&c);
    double v0, v1;
    CHECK_OK(spectra_trainer_evaluate(t, &v0));
    CHECK_NEAR(v0, log(128.0), 0.15); /* loss at init ≈ ln(vocab) */
    for (int i = 0; i < 60; i++) CHECK_OK(spectra_trainer_step(t, NULL));
    CHECK_OK(spectra_trainer_evaluate(t, &v1));
    CHECK_MSG(v1 < 0.75 * v0, "validation loss %.3f -> %.3f did not fall by 25%%", v0, v1);
    printf("  learning: val loss %.3f -> %.3f in 60 Spectra steps\n", v0, v1);

    /* Poison one embedding weight: the loss turns NaN, the step refuses, nothing changes. */
    spectra_model *m = spectra_trainer_model(t);
    size_t np = spectra_model_num_params(m);
    float *p = spectra_model_params(m);
    const spectra_tensor_info *emb = spectra_model_find_tensor(m, "tok_emb");
    CHECK(emb != NULL);
    for (size_t j = 0; j < emb->rows * emb->cols; j++) p[emb->offset + j] = NAN; /* every token's embedding */
    float *before = malloc(np * sizeof *before);
    memcpy(before, p, np * sizeof *before);
    size_t l0, l1;
    void *s0 = state_bytes(t, &l0);
    uint64_t steps = spectra_trainer_steps_done(t);
    CHECK(spectra_trainer_step(t, NULL) == SPECTRA_ERR_NONFINITE);
    CHECK(strstr(spectra_trainer_last_error(t), "non-finite") != NULL);
    CHECK(memcmp(before, p, np * sizeof *before) == 0);
    void *s1 = state_bytes(t, &l1);
    CHECK(l0 == l1 && memcmp(s0, s1, l0) == 0);
    CHECK(spectra_trainer_steps_done(t) == steps);
    free(s0);
    free(s1);
    free(before);

    /* The data position is untouched too: a checkpoint written after the failed step is the
     * one written before it (the loader used to have moved on by a batch per micro-step). */
    const char *c0 = "test_trainer_nan0.bin", *c1 = "test_trainer_nan1.bin";
    CHECK_OK(spectra_trainer_save(t, c0));
    CHECK(spectra_trainer_step(t, NULL) == SPECTRA_ERR_NONFINITE);
    CHECK_OK(spectra_trainer_save(t, c1));
    size_t n0, n1;
    void *b0 = test_read_file(c0, &n0), *b1 = test_read_file(c1, &n1);
    CHECK_MSG(b0 && b1 && n0 == n1 && memcmp(b0, b1, n0) == 0, "a failed step changed the checkpoint");
    free(b0);
    free(b1);
    unlink(c0);
    unlink(c1);
    spectra_trainer_destroy(t);
}

/* A finite loss with a gradient beyond fp32's safe range (the final norm's gain scaled to
 * 1e25 makes the logits, and the head's gradient, ~1e24): without clipping the step refuses
 * it and changes nothing (the optimizer's own scan is off in the trainer, so this check is
 * the only one); with clipping it is scaled down and the step goes through. */
static void test_huge_gradient(void) {
    for (int clip = 0; clip < 2; clip++) {
        spectra_train_config c = tiny_config(SPECTRA_ALGO_SPECTRA);
        c.grad_clip = clip ? 1.0 : 0.0;
        spectra_trainer *t = make(&c);
        spectra_model *m = spectra_trainer_model(t);
        const spectra_tensor_info *fn = spectra_model_find_tensor(m, "final_norm");
        CHECK(fn != NULL);
        float *p = spectra_model_params(m);
        for (size_t j = 0; j < fn->cols; j++) p[fn->offset + j] = 1e25f;
        size_t np = spectra_model_num_params(m), l0, l1;
        float *before = malloc(np * sizeof *before);
        memcpy(before, p, np * sizeof *before);
        void *s0 = state_bytes(t, &l0);
        spectra_status st = spectra_trainer_step(t, NULL);
        if (!clip) {
            CHECK_MSG(st == SPECTRA_ERR_NONFINITE && strstr(spectra_trainer_last_error(t), "too large"), "status %d: %s",
                      (int)st, spectra_trainer_last_error(t));
            CHECK(memcmp(before, p, np * sizeof *before) == 0 && spectra_trainer_steps_done(t) == 0);
            void *s1 = state_bytes(t, &l1);
            CHECK(l0 == l1 && memcmp(s0, s1, l0) == 0);
            free(s1);
        } else {
            CHECK_MSG(st == SPECTRA_OK, "clipped step: %s", spectra_trainer_last_error(t));
            int finite = 1;
            for (size_t j = 0; j < np; j++) finite &= isfinite(p[j]);
            CHECK(finite);
        }
        free(s0);
        free(before);
        spectra_trainer_destroy(t);
    }
}

/* Loading takes the checkpoint's state and keeps the trainer's hyperparameters, for every
 * group (they used to come from the file, while the learning rates came from the trainer). */
static void test_load_keeps_hparams(void) {
    spectra_train_config c = tiny_config(SPECTRA_ALGO_SPECTRA);
    const char *ck = "test_trainer_hp.bin";
    spectra_trainer *a = make(&c);
    CHECK_OK(spectra_trainer_step(a, NULL));
    CHECK_OK(spectra_trainer_save(a, ck));
    spectra_trainer_destroy(a);
    spectra_train_config d = c;
    d.matrix.weight_decay = 0.37;
    d.matrix.momentum = 0.81;
    d.adamw.beta2 = 0.9;
    d.adamw.weight_decay = 0.23;
    spectra_trainer *b = make(&d);
    CHECK_OK(spectra_trainer_load(b, ck));
    CHECK(spectra_trainer_steps_done(b) == 1);
    spectra_hparams hm, ha, hn;
    spectra_optim *o = spectra_trainer_optim(b);
    CHECK_OK(spectra_optim_get_hparams(o, 0, &hm));
    CHECK_OK(spectra_optim_get_hparams(o, 1, &ha));
    CHECK_OK(spectra_optim_get_hparams(o, 2, &hn));
    CHECK(hm.weight_decay == 0.37 && hm.momentum == 0.81);
    CHECK(ha.beta2 == 0.9 && ha.weight_decay == 0.23);
    CHECK(hn.beta2 == 0.9 && hn.weight_decay == 0.0); /* norm gains: AdamW without decay */
    spectra_trainer_destroy(b);
    unlink(ck);
}

static void test_refusals(void) {
    spectra_train_config c = tiny_config(SPECTRA_ALGO_SPECTRA);
    const char *ck = "test_trainer_ckpt2.bin";
    spectra_trainer *t = make(&c);
    CHECK_OK(spectra_trainer_step(t, NULL));
    CHECK_OK(spectra_trainer_save(t, ck));
    /* different geometry */
    spectra_train_config c2 = c;
    c2.batch_size = 2;
    spectra_trainer *u = make(&c2);
    size_t np = spectra_model_num_params(spectra_trainer_model(u));
    float *before = malloc(np * sizeof *before);
    memcpy(before, spectra_model_params(spectra_trainer_model(u)), np * sizeof *before);
    CHECK(spectra_trainer_load(u, ck) == SPECTRA_ERR_MISMATCH);
    CHECK(strstr(spectra_trainer_last_error(u), "batch") != NULL);
    CHECK(memcmp(before, spectra_model_params(spectra_trainer_model(u)), np * sizeof *before) == 0);
    CHECK(spectra_trainer_steps_done(u) == 0);
    spectra_trainer_destroy(u);
    free(before);
    /* different model */
    c2 = c;
    c2.model.d_model = 48;
    c2.model.d_ff = 128;
    u = make(&c2);
    CHECK(spectra_trainer_load(u, ck) == SPECTRA_ERR_MISMATCH);
    spectra_trainer_destroy(u);
    /* different optimizer for the matrices */
    c2 = c;
    c2.matrix = spectra_hparams_default(SPECTRA_ALGO_MUON);
    u = make(&c2);
    CHECK(spectra_trainer_load(u, ck) == SPECTRA_ERR_MISMATCH);
    spectra_trainer_destroy(u);
    /* truncated and flipped */
    size_t blen = 0;
    unsigned char *bytes = test_read_file(ck, &blen);
    CHECK(bytes != NULL);
    long len = (long)blen;
    const char *bad = "test_trainer_bad.bin";
    CHECK(test_write_file(bad, bytes, (size_t)len - 100) == 0);
    CHECK(spectra_trainer_load(t, bad) == SPECTRA_ERR_FORMAT);
    bytes[len / 2] ^= 1;
    CHECK(test_write_file(bad, bytes, (size_t)len) == 0);
    CHECK(spectra_trainer_load(t, bad) == SPECTRA_ERR_FORMAT);
    CHECK(strstr(spectra_trainer_last_error(t), "checksum") != NULL);
    bytes[len / 2] ^= 1;
    /* A well-formed file (right checksum) whose config asks for a much larger model than the
     * parameters it holds: refused before any model is built from that config. d_ff is the
     * 8th u32 of the config, after the magic and the version. */
    {
        const uint32_t dff = 1u << 20;
        memcpy(bytes + 12 + 7 * 4, &dff, 4);
        uint32_t crc = spectra_test_crc32(bytes, (size_t)len - 4);
        memcpy(bytes + len - 4, &crc, 4);
        CHECK(test_write_file(bad, bytes, (size_t)len) == 0);
        spectra_train_config rc;
        spectra_model *big = NULL;
        CHECK(spectra_checkpoint_read_config(bad, &rc) == SPECTRA_ERR_FORMAT);
        CHECK(strstr(spectra_last_error(), "parameters stored") != NULL);
        CHECK(spectra_checkpoint_load_model(bad, &big) == SPECTRA_ERR_FORMAT && big == NULL);
        CHECK(spectra_trainer_load(t, bad) == SPECTRA_ERR_FORMAT);
    }
    spectra_model *m = NULL;
    CHECK_OK(spectra_checkpoint_load_model(ck, &m));
    CHECK(m && memcmp(spectra_model_params(m), spectra_model_params(spectra_trainer_model(t)),
                      spectra_model_num_params(m) * sizeof(float)) == 0);
    spectra_model_destroy(m);
    free(bytes);
    unlink(bad);
    unlink(ck);
    /* invalid configs */
    spectra_trainer *x = NULL;
    const char *tr[1] = {TRAIN};
    c2 = c;
    c2.seq_len = 1000; /* beyond the model's max_seq_len */
    CHECK(spectra_trainer_create(&x, &c2, tr, 1, NULL, 0) == SPECTRA_ERR_INVALID_ARG);
    c2 = c;
    c2.warmup_steps = 100;
    CHECK(spectra_trainer_create(&x, &c2, tr, 1, NULL, 0) == SPECTRA_ERR_INVALID_ARG);
    const char *missing[1] = {"no_such_shard.bin"};
    CHECK(spectra_trainer_create(&x, &c, missing, 1, NULL, 0) != SPECTRA_OK);
    CHECK(strstr(spectra_last_error(), "no_such_shard.bin") != NULL);
    c2 = c;
    c2.model.vocab_size = 64; /* shard holds ids up to 127 */
    CHECK(spectra_trainer_create(&x, &c2, tr, 1, NULL, 0) != SPECTRA_OK);
    CHECK(x == NULL);
    spectra_trainer_destroy(t);
}

static void test_schedules(void) {
    spectra_train_config c = spectra_train_config_default();
    c.max_steps = 100;
    c.warmup_steps = 10;
    c.min_lr_frac = 0.1;
    CHECK_NEAR(spectra_lr_schedule_factor(&c, 0), 0.1, 1e-12);
    CHECK_NEAR(spectra_lr_schedule_factor(&c, 9), 1.0, 1e-12);
    CHECK_NEAR(spectra_lr_schedule_factor(&c, 10), 1.0, 1e-12);
    CHECK_NEAR(spectra_lr_schedule_factor(&c, 55), 0.1 + 0.9 * 0.5, 1e-12); /* cosine midpoint */
    CHECK_NEAR(spectra_lr_schedule_factor(&c, 100), 0.1, 1e-12);
    c.schedule = SPECTRA_SCHED_WSD;
    c.decay_frac = 0.2;
    CHECK_NEAR(spectra_lr_schedule_factor(&c, 79), 1.0, 1e-12);
    CHECK_NEAR(spectra_lr_schedule_factor(&c, 90), 0.55, 1e-12);
    c.schedule = SPECTRA_SCHED_CONSTANT;
    CHECK_NEAR(spectra_lr_schedule_factor(&c, 99), 1.0, 1e-12);
}

int main(void) {
    write_shards();
    test_load_keeps_hparams();
    test_huge_gradient();
    test_schedules();
    test_resume(SPECTRA_ALGO_SPECTRA);
    test_resume(SPECTRA_ALGO_ADAMW);
    test_resume(SPECTRA_ALGO_MUON);
    test_resume(SPECTRA_ALGO_DION);
    test_learning_and_nan();
    test_refusals();
    unlink(TRAIN);
    unlink(VAL);
    return test_finish("test_trainer");
}
