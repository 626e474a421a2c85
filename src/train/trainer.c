/* The trainer: model + optimizer + loaders, one optimizer step at a time (see train.h). */
#include "core/alloc.h"
#include "core/error.h"
#include "linalg/linalg.h"
#include "spectra/data.h"
#include "spectra/train.h"
#include "train/train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

spectra_train_config spectra_train_config_default(void) {
    spectra_train_config c;
    memset(&c, 0, sizeof c);
    spectra_model_config_from_preset("small", &c.model);
    c.seed = 1;
    c.batch_size = 8;
    c.seq_len = 256;
    c.grad_accum = 1;
    c.max_steps = 1000;
    c.matrix = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    c.adamw = spectra_hparams_default(SPECTRA_ALGO_ADAMW);
    c.adamw.lr = 3e-3;
    c.schedule = SPECTRA_SCHED_COSINE;
    c.warmup_steps = 50;
    c.min_lr_frac = 0.1;
    c.decay_frac = 0.2;
    c.grad_clip = 1.0;
    c.val_batches = 20;
    return c;
}

double spectra_lr_schedule_factor(const spectra_train_config *c, uint64_t step) {
    if (c->warmup_steps > 0 && step < c->warmup_steps) return (double)(step + 1) / (double)c->warmup_steps;
    double lo = c->min_lr_frac;
    switch (c->schedule) {
    case SPECTRA_SCHED_CONSTANT: return 1.0;
    case SPECTRA_SCHED_WSD: {
        double start = (double)c->max_steps * (1.0 - c->decay_frac);
        if ((double)step < start) return 1.0;
        double p = ((double)step - start) / fmax(1.0, (double)c->max_steps - start);
        return 1.0 - (1.0 - lo) * fmin(1.0, p);
    }
    case SPECTRA_SCHED_COSINE:
    default: {
        double span = (double)(c->max_steps > c->warmup_steps ? c->max_steps - c->warmup_steps : 1);
        double p = fmin(1.0, (double)(step - c->warmup_steps) / span);
        return lo + (1.0 - lo) * 0.5 * (1.0 + cos(3.14159265358979323846 * p));
    }
    }
}

#define REQ(cond, ...)                                                                 \
    do {                                                                               \
        if (!(cond)) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, __VA_ARGS__);   \
    } while (0)

spectra_status spectra_train_config_validate(const spectra_train_config *c) {
    REQ(c, "train config is NULL");
    spectra_status st = spectra_model_config_validate(&c->model);
    if (st != SPECTRA_OK) return st;
    REQ(c->batch_size >= 1 && c->batch_size <= 65536, "batch size must be in [1, 65536] (got %d)", c->batch_size);
    REQ(c->seq_len >= 1 && c->seq_len <= c->model.max_seq_len, "sequence length must be in [1, %d] (the model's max_seq_len), got %d",
        c->model.max_seq_len, c->seq_len);
    REQ(c->grad_accum >= 1 && c->grad_accum <= 65536, "grad_accum must be in [1, 65536] (got %d)", c->grad_accum);
    REQ(c->max_steps >= 1, "max_steps must be >= 1");
    REQ(c->warmup_steps <= c->max_steps, "warm-up (%llu steps) is longer than the run (%llu)", (unsigned long long)c->warmup_steps,
        (unsigned long long)c->max_steps);
    REQ(c->min_lr_frac >= 0.0 && c->min_lr_frac <= 1.0, "min_lr_frac must be in [0, 1] (got %g)", c->min_lr_frac);
    REQ(c->decay_frac > 0.0 && c->decay_frac <= 1.0, "decay_frac must be in (0, 1] (got %g)", c->decay_frac);
    REQ(isfinite(c->grad_clip) && c->grad_clip >= 0.0, "grad_clip must be >= 0 (got %g)", c->grad_clip);
    REQ(c->val_batches >= 0, "val_batches must be >= 0");
    REQ((unsigned)c->schedule <= SPECTRA_SCHED_CONSTANT, "unknown schedule %d", (int)c->schedule);
    REQ(c->adamw.algo == SPECTRA_ALGO_ADAMW, "the non-matrix group must be AdamW");
    st = spectra_hparams_validate(&c->matrix);
    if (st != SPECTRA_OK) return st;
    return spectra_hparams_validate(&c->adamw);
}

static spectra_status fail(spectra_trainer *t, spectra_status st) {
    if (t) spectra_copy_error(t->err, sizeof t->err);
    return st;
}

const char *spectra_trainer_last_error(const spectra_trainer *t) { return t ? t->err : "trainer is NULL"; }

void spectra_trainer_destroy(spectra_trainer *t) {
    if (!t) return;
    spectra_optim_destroy(t->optim);
    spectra_model_destroy(t->model);
    spectra_loader_free(t->train);
    spectra_loader_free(t->val);
    spectra_free(t->inputs);
    spectra_free(t->targets);
    free(t);
}

/* Registers every model tensor with its optimizer group. */
static spectra_status build_optimizer(spectra_trainer *t) {
    const spectra_train_config *c = &t->cfg;
    spectra_status st = spectra_optim_create(&t->optim, c->seed);
    if (st != SPECTRA_OK) return st;
    spectra_hparams nodecay = c->adamw;
    nodecay.weight_decay = 0.0;
    if ((st = spectra_optim_add_group(t->optim, &c->matrix, &t->group_matrix)) != SPECTRA_OK) return st;
    if ((st = spectra_optim_add_group(t->optim, &c->adamw, &t->group_adamw)) != SPECTRA_OK) return st;
    if ((st = spectra_optim_add_group(t->optim, &nodecay, &t->group_norm)) != SPECTRA_OK) return st;
    float *params = spectra_model_params(t->model), *grads = spectra_model_grads(t->model);
    size_t n = spectra_model_num_tensors(t->model);
    for (size_t i = 0; i < n; i++) {
        const spectra_tensor_info *ti = spectra_model_tensor(t->model, i);
        int group = t->group_adamw;
        int two_d = ti->rows >= 2 && ti->cols >= 2;
        if (ti->kind == SPECTRA_TENSOR_NORM || !two_d) group = t->group_norm;
        else if (ti->kind == SPECTRA_TENSOR_HIDDEN || c->matrix_on_all_2d) group = t->group_matrix;
        st = spectra_optim_add_param(t->optim, group, ti->name, params + ti->offset, grads + ti->offset, ti->rows, ti->cols);
        if (st != SPECTRA_OK) return st;
    }
    /* The trainer checks the global gradient norm itself (NaN/Inf and clipping). */
    spectra_optim_set_check_finite(t->optim, 0);
    return SPECTRA_OK;
}

spectra_status spectra_trainer_create(spectra_trainer **out, const spectra_train_config *cfg,
                                      const char *const *train_shards, size_t n_train,
                                      const char *const *val_shards, size_t n_val) {
    if (!out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "trainer_create: out is NULL");
    *out = NULL;
    spectra_status st = spectra_train_config_validate(cfg);
    if (st != SPECTRA_OK) return st;
    if (!train_shards || n_train == 0) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "no training shards given");
    spectra_trainer *t = spectra_zalloc(1, sizeof *t);
    if (!t) return spectra_set_error(SPECTRA_ERR_NOMEM, "out of memory");
    t->cfg = *cfg;
    size_t bt = (size_t)cfg->batch_size * (size_t)cfg->seq_len;
    spectra_loader_config lc = {(size_t)cfg->batch_size, (size_t)cfg->seq_len, (uint32_t)cfg->model.vocab_size, cfg->seed, 1, 0, 1};
    if ((st = spectra_loader_open(train_shards, n_train, &lc, &t->train)) != SPECTRA_OK) goto fail;
    if (spectra_loader_steps_per_epoch(t->train) == 0) {
        st = spectra_set_error(SPECTRA_ERR_INVALID_ARG, "the training shards hold fewer than one batch of %d x %d tokens",
                               cfg->batch_size, cfg->seq_len);
        goto fail;
    }
    if (n_val > 0) {
        lc.shuffle = 0;
        if ((st = spectra_loader_open(val_shards, n_val, &lc, &t->val)) != SPECTRA_OK) goto fail;
        if (spectra_loader_steps_per_epoch(t->val) == 0) {
            st = spectra_set_error(SPECTRA_ERR_INVALID_ARG, "the validation shards hold fewer than one batch of %d x %d tokens",
                                   cfg->batch_size, cfg->seq_len);
            goto fail;
        }
    }
    if ((st = spectra_model_create(&t->model, &cfg->model, cfg->seed)) != SPECTRA_OK) goto fail;
    if ((st = spectra_model_reserve(t->model, cfg->batch_size, cfg->seq_len)) != SPECTRA_OK) goto fail;
    if ((st = build_optimizer(t)) != SPECTRA_OK) goto fail;
    t->inputs = spectra_alloc(bt, sizeof(int32_t));
    t->targets = spectra_alloc(bt, sizeof(int32_t));
    if (!t->inputs || !t->targets) {
        st = SPECTRA_ERR_NOMEM;
        goto fail;
    }
    *out = t;
    return SPECTRA_OK;
fail:
    spectra_trainer_destroy(t);
    return st;
}

/* fail(), after putting the training loader back at pos. A position the loader gave itself
 * cannot be refused, and a successful seek leaves the message alone. */
static spectra_status step_fail(spectra_trainer *t, spectra_loader_pos pos, spectra_status st) {
    spectra_loader_seek(t->train, pos);
    return fail(t, st);
}

spectra_status spectra_trainer_step(spectra_trainer *t, spectra_step_stats *stats) {
    if (!t) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "trainer_step: trainer is NULL");
    const spectra_train_config *c = &t->cfg;
    double t0 = now_s();
    /* A failed step leaves the data position where it was, as it leaves the parameters and
     * the optimizer state: a caller that retries, or checkpoints after the failure, reads
     * the same batches an uninterrupted run would. */
    const spectra_loader_pos pos0 = spectra_loader_tell(t->train);
    spectra_model_zero_grad(t->model);
    double loss_sum = 0.0;
    spectra_status st;
    for (int a = 0; a < c->grad_accum; a++) {
        float loss = 0.0f;
        if ((st = spectra_loader_next(t->train, t->inputs, t->targets)) != SPECTRA_OK) return step_fail(t, pos0, st);
        if ((st = spectra_model_forward(t->model, t->inputs, t->targets, NULL, c->batch_size, c->seq_len, &loss)) != SPECTRA_OK)
            return step_fail(t, pos0, st);
        if (!isfinite(loss))
            return step_fail(t, pos0, spectra_set_error(SPECTRA_ERR_NONFINITE, "non-finite loss (%g) at step %llu; parameters were not updated",
                                             (double)loss, (unsigned long long)t->steps_done + 1));
        if ((st = spectra_model_backward(t->model)) != SPECTRA_OK) return step_fail(t, pos0, st);
        loss_sum += loss;
    }
    double t1 = now_s();
    float *grads = spectra_model_grads(t->model);
    size_t np = spectra_model_num_params(t->model);
    double inv = 1.0 / c->grad_accum;
    double norm = sqrt(spectra_sumsq(grads, np)) * inv;
    if (!isfinite(norm))
        return step_fail(t, pos0, spectra_set_error(SPECTRA_ERR_NONFINITE, "non-finite gradient norm at step %llu; parameters were not updated",
                                         (unsigned long long)t->steps_done + 1));
    double scale = inv;
    if (c->grad_clip > 0.0 && norm > c->grad_clip) scale *= c->grad_clip / norm;
    /* The optimizer's own scan is off (this norm is the check); its limit on the magnitude of
     * gradient values holds for every element once the norm after clipping is below it. */
    if (norm * (scale / inv) >= (double)SPECTRA_GRAD_LIMIT)
        return step_fail(t, pos0, spectra_set_error(SPECTRA_ERR_NONFINITE,
                                                    "gradient norm %g at step %llu is too large (>= 2^64 after clipping); "
                                                    "parameters were not updated",
                                                    norm, (unsigned long long)t->steps_done + 1));
    if (scale != 1.0) {
        float s = (float)scale;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < np; i++) grads[i] *= s;
    }
    double f = spectra_lr_schedule_factor(c, t->steps_done);
    spectra_optim_set_lr(t->optim, t->group_matrix, c->matrix.lr * f);
    spectra_optim_set_lr(t->optim, t->group_adamw, c->adamw.lr * f);
    spectra_optim_set_lr(t->optim, t->group_norm, c->adamw.lr * f);
    if ((st = spectra_optim_step(t->optim)) != SPECTRA_OK) {
        spectra_set_error(st, "%s", spectra_optim_last_error(t->optim));
        return step_fail(t, pos0, st);
    }
    double t2 = now_s();
    t->steps_done++;
    if (stats) {
        stats->step = t->steps_done;
        stats->loss = loss_sum * inv;
        stats->grad_norm = norm;
        stats->lr_factor = f;
        stats->lr_matrix = c->matrix.lr * f;
        stats->lr_adamw = c->adamw.lr * f;
        stats->seconds = t2 - t0;
        stats->seconds_model = t1 - t0;
        stats->seconds_optim = t2 - t1;
        stats->tokens = (uint64_t)c->batch_size * (uint64_t)c->seq_len * (uint64_t)c->grad_accum;
    }
    return SPECTRA_OK;
}

spectra_status spectra_trainer_evaluate(spectra_trainer *t, double *val_loss) {
    if (!t || !val_loss) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "evaluate: NULL argument");
    if (!t->val) return fail(t, spectra_set_error(SPECTRA_ERR_STATE, "evaluate: no validation shards were given"));
    uint64_t n = spectra_loader_steps_per_epoch(t->val);
    if (t->cfg.val_batches > 0 && (uint64_t)t->cfg.val_batches < n) n = (uint64_t)t->cfg.val_batches;
    spectra_loader_pos start = {0, 0};
    spectra_status st = spectra_loader_seek(t->val, start);
    if (st != SPECTRA_OK) return fail(t, st);
    double sum = 0.0;
    for (uint64_t i = 0; i < n; i++) {
        float loss;
        if ((st = spectra_loader_next(t->val, t->inputs, t->targets)) != SPECTRA_OK) return fail(t, st);
        if ((st = spectra_model_forward(t->model, t->inputs, t->targets, NULL, t->cfg.batch_size, t->cfg.seq_len, &loss)) !=
            SPECTRA_OK)
            return fail(t, st);
        sum += loss;
    }
    *val_loss = sum / (double)n;
    return SPECTRA_OK;
}

uint64_t spectra_trainer_steps_done(const spectra_trainer *t) { return t ? t->steps_done : 0; }
const spectra_train_config *spectra_trainer_config(const spectra_trainer *t) { return t ? &t->cfg : NULL; }
spectra_model *spectra_trainer_model(spectra_trainer *t) { return t ? t->model : NULL; }
spectra_optim *spectra_trainer_optim(spectra_trainer *t) { return t ? t->optim : NULL; }
