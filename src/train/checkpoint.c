/* Trainer checkpoints.
 *
 * Layout (little-endian), version 1:
 *   "SPCTRCKP" | u32 version | config (fields in put_config order)
 *   | u64 steps_done | u64 loader epoch | u64 loader step
 *   | u64 n_params | n_params floats | u64 optimizer blob length | blob (spectra_optim_serialize)
 *   | u32 CRC-32 of everything before
 * Written atomically; loading validates everything before changing the trainer. */
#include "core/alloc.h"
#include "core/error.h"
#include "core/fileio.h"
#include "optim/optim_internal.h"
#include "spectra/train.h"
#include "train/train_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_MAGIC "SPCTRCKP"
#define CKPT_VERSION 1u

static void put_config(spectra_buf *b, const spectra_train_config *c) {
    const spectra_model_config *m = &c->model;
    int32_t mi[9] = {m->vocab_size, m->max_seq_len, m->d_model, m->n_layers, m->n_heads, m->n_kv_heads, m->head_dim, m->d_ff,
                     m->tied_embeddings};
    for (int i = 0; i < 9; i++) spectra_buf_u32(b, (uint32_t)mi[i]);
    spectra_buf_f64(b, m->rope_theta);
    spectra_buf_f64(b, m->norm_eps);
    spectra_buf_u64(b, c->seed);
    spectra_buf_u32(b, (uint32_t)c->batch_size);
    spectra_buf_u32(b, (uint32_t)c->seq_len);
    spectra_buf_u32(b, (uint32_t)c->grad_accum);
    spectra_buf_u64(b, c->max_steps);
    spectra_hparams_write(b, &c->matrix);
    spectra_hparams_write(b, &c->adamw);
    spectra_buf_u32(b, (uint32_t)c->matrix_on_all_2d);
    spectra_buf_u32(b, (uint32_t)c->schedule);
    spectra_buf_u64(b, c->warmup_steps);
    spectra_buf_f64(b, c->min_lr_frac);
    spectra_buf_f64(b, c->decay_frac);
    spectra_buf_f64(b, c->grad_clip);
    spectra_buf_u32(b, (uint32_t)c->val_batches);
}

static void get_config(spectra_reader *r, spectra_train_config *c) {
    memset(c, 0, sizeof *c);
    spectra_model_config *m = &c->model;
    int32_t mi[9];
    for (int i = 0; i < 9; i++) mi[i] = (int32_t)spectra_read_u32(r);
    m->vocab_size = mi[0], m->max_seq_len = mi[1], m->d_model = mi[2], m->n_layers = mi[3], m->n_heads = mi[4];
    m->n_kv_heads = mi[5], m->head_dim = mi[6], m->d_ff = mi[7], m->tied_embeddings = mi[8];
    m->rope_theta = (float)spectra_read_f64(r);
    m->norm_eps = (float)spectra_read_f64(r);
    c->seed = spectra_read_u64(r);
    c->batch_size = (int)spectra_read_u32(r);
    c->seq_len = (int)spectra_read_u32(r);
    c->grad_accum = (int)spectra_read_u32(r);
    c->max_steps = spectra_read_u64(r);
    spectra_hparams_read(r, &c->matrix);
    spectra_hparams_read(r, &c->adamw);
    c->matrix_on_all_2d = (int)spectra_read_u32(r);
    c->schedule = (spectra_lr_schedule)spectra_read_u32(r);
    c->warmup_steps = spectra_read_u64(r);
    c->min_lr_frac = spectra_read_f64(r);
    c->decay_frac = spectra_read_f64(r);
    c->grad_clip = spectra_read_f64(r);
    c->val_batches = (int)spectra_read_u32(r);
}

spectra_status spectra_trainer_save(const spectra_trainer *t, const char *path) {
    if (!t || !path) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "trainer_save: NULL argument");
    void *ob = NULL;
    size_t olen = 0;
    spectra_status st = spectra_optim_serialize(t->optim, &ob, &olen);
    if (st != SPECTRA_OK) return st;
    spectra_buf b;
    spectra_buf_init(&b);
    spectra_buf_append(&b, CKPT_MAGIC, 8);
    spectra_buf_u32(&b, CKPT_VERSION);
    put_config(&b, &t->cfg);
    spectra_buf_u64(&b, t->steps_done);
    spectra_loader_pos pos = spectra_loader_tell(t->train);
    spectra_buf_u64(&b, pos.epoch);
    spectra_buf_u64(&b, pos.step);
    size_t np = spectra_model_num_params(t->model);
    spectra_buf_u64(&b, np);
    spectra_buf_append(&b, spectra_model_params(t->model), np * sizeof(float));
    spectra_buf_u64(&b, olen);
    spectra_buf_append(&b, ob, olen);
    free(ob);
    spectra_buf_u32(&b, spectra_crc32(0, b.data, b.len));
    if (b.failed) {
        spectra_buf_free(&b);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "checkpoint: out of memory");
    }
    st = spectra_write_file_atomic(path, b.data, b.len);
    spectra_buf_free(&b);
    return st;
}

/* Parsed checkpoint: views into the file bytes. */
typedef struct parsed_ckpt {
    spectra_train_config cfg;
    uint64_t steps, epoch, lstep, np, olen;
    const float *params;
    const void *optim;
} parsed_ckpt;

static spectra_status parse(const char *path, const unsigned char *d, size_t len, parsed_ckpt *p) {
    if (len < 8 + 4 + 4 || memcmp(d, CKPT_MAGIC, 8) != 0)
        return spectra_set_error(SPECTRA_ERR_FORMAT, "'%s' is not a spectra checkpoint (bad magic or too short)", path);
    spectra_reader r;
    spectra_reader_init(&r, d, len - 4);
    spectra_read_span(&r, 8);
    uint32_t version = spectra_read_u32(&r);
    if (version != CKPT_VERSION)
        return spectra_set_error(SPECTRA_ERR_FORMAT, "'%s': checkpoint version %u, this build reads %u", path, version, CKPT_VERSION);
    uint32_t crc = (uint32_t)d[len - 4] | (uint32_t)d[len - 3] << 8 | (uint32_t)d[len - 2] << 16 | (uint32_t)d[len - 1] << 24;
    if (spectra_crc32(0, d, len - 4) != crc)
        return spectra_set_error(SPECTRA_ERR_FORMAT, "'%s': checksum mismatch — the checkpoint is corrupted or truncated", path);
    get_config(&r, &p->cfg);
    p->steps = spectra_read_u64(&r);
    p->epoch = spectra_read_u64(&r);
    p->lstep = spectra_read_u64(&r);
    p->np = spectra_read_u64(&r);
    p->params = p->np <= len / 4 ? spectra_read_span(&r, p->np * 4) : NULL;
    p->olen = spectra_read_u64(&r);
    p->optim = p->olen <= len ? spectra_read_span(&r, p->olen) : NULL;
    if (r.failed || !p->params || !p->optim || r.pos != r.len)
        return spectra_set_error(SPECTRA_ERR_FORMAT, "'%s': malformed checkpoint body", path);
    if (spectra_train_config_validate(&p->cfg) != SPECTRA_OK)
        return spectra_set_error(SPECTRA_ERR_FORMAT, "'%s': invalid stored config: %s", path, spectra_last_error());
    /* Checked here, before anything is built from the config: a model is only ever sized
     * by a config whose parameters the file actually holds. */
    if (p->np != spectra_model_config_num_params(&p->cfg.model))
        return spectra_set_error(SPECTRA_ERR_FORMAT, "'%s': %llu parameters stored, its config has %zu", path,
                                 (unsigned long long)p->np, spectra_model_config_num_params(&p->cfg.model));
    return SPECTRA_OK;
}

static spectra_status read_parse(const char *path, void **data, parsed_ckpt *p) {
    size_t len;
    spectra_status st = spectra_read_file(path, data, &len);
    if (st != SPECTRA_OK) return st;
    st = parse(path, *data, len, p);
    if (st != SPECTRA_OK) {
        spectra_free(*data);
        *data = NULL;
    }
    return st;
}

spectra_status spectra_trainer_load(spectra_trainer *t, const char *path) {
    if (!t || !path) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "trainer_load: NULL argument");
    void *data = NULL;
    parsed_ckpt p;
    spectra_status st = read_parse(path, &data, &p);
    if (st != SPECTRA_OK) goto out;
    const spectra_train_config *c = &t->cfg;
    if (memcmp(&p.cfg.model, &c->model, sizeof c->model) != 0 || p.np != spectra_model_num_params(t->model)) {
        st = spectra_set_error(SPECTRA_ERR_MISMATCH, "'%s': the checkpoint's model (d %d, %d layers, vocab %d) differs from this one (d %d, %d layers, vocab %d)",
                               path, p.cfg.model.d_model, p.cfg.model.n_layers, p.cfg.model.vocab_size, c->model.d_model,
                               c->model.n_layers, c->model.vocab_size);
        goto out;
    }
    if (p.cfg.batch_size != c->batch_size || p.cfg.seq_len != c->seq_len || p.cfg.grad_accum != c->grad_accum ||
        p.cfg.seed != c->seed) {
        st = spectra_set_error(SPECTRA_ERR_MISMATCH, "'%s': batch %dx%d, accum %d, seed %llu in the checkpoint; %dx%d, %d, %llu here — the data order would not continue",
                               path, p.cfg.batch_size, p.cfg.seq_len, p.cfg.grad_accum, (unsigned long long)p.cfg.seed,
                               c->batch_size, c->seq_len, c->grad_accum, (unsigned long long)c->seed);
        goto out;
    }
    /* The optimizer validates its own layout and only commits when everything matches;
     * the loader seek and the parameter copy below cannot fail after that. */
    spectra_loader_pos pos = {p.epoch, p.lstep};
    spectra_loader_pos old = spectra_loader_tell(t->train);
    if ((st = spectra_loader_seek(t->train, pos)) != SPECTRA_OK) goto out;
    if ((st = spectra_optim_deserialize(t->optim, p.optim, p.olen)) != SPECTRA_OK) {
        spectra_set_error(st, "'%s': %s", path, spectra_optim_last_error(t->optim));
        spectra_loader_seek(t->train, old);
        goto out;
    }
    memcpy(spectra_model_params(t->model), p.params, p.np * sizeof(float));
    t->steps_done = p.steps;
    /* The checkpoint brings the state; the hyperparameters stay the trainer's, as its learning
     * rates do (set every step from its config). Taking the file's would mix the two: its
     * weight decay and betas with this trainer's rates. These cannot be refused: the file
     * was just checked against these very groups (same algorithm, rank, oversampling). */
    spectra_hparams nodecay = c->adamw;
    nodecay.weight_decay = 0.0;
    spectra_optim_set_hparams(t->optim, t->group_matrix, &c->matrix);
    spectra_optim_set_hparams(t->optim, t->group_adamw, &c->adamw);
    spectra_optim_set_hparams(t->optim, t->group_norm, &nodecay);
out:
    spectra_free(data);
    if (st != SPECTRA_OK) spectra_copy_error(t->err, sizeof t->err);
    return st;
}

spectra_status spectra_checkpoint_read_config(const char *path, spectra_train_config *cfg) {
    if (!path || !cfg) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "checkpoint_read_config: NULL argument");
    void *data = NULL;
    parsed_ckpt p;
    spectra_status st = read_parse(path, &data, &p);
    if (st == SPECTRA_OK) *cfg = p.cfg;
    spectra_free(data);
    return st;
}

spectra_status spectra_checkpoint_load_model(const char *path, spectra_model **out) {
    if (!path || !out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "checkpoint_load_model: NULL argument");
    void *data = NULL;
    parsed_ckpt p;
    spectra_status st = read_parse(path, &data, &p);
    if (st != SPECTRA_OK) return st;
    spectra_model *m = NULL;
    st = spectra_model_create(&m, &p.cfg.model, p.cfg.seed); /* p.np is its parameter count (parse) */
    if (st == SPECTRA_OK) {
        memcpy(spectra_model_params(m), p.params, p.np * sizeof(float));
        *out = m;
    } else {
        spectra_model_destroy(m);
    }
    spectra_free(data);
    return st;
}
