/* spectra/train.h — training loop pieces: a trainer owning a model, its optimizer and the
 * data loaders; learning-rate schedules; checkpoints that resume bit-exactly.
 *
 * One step: grad_accum micro-batches of B x T tokens (forward + backward), gradients
 * averaged, their global norm checked (a NaN/Inf loss or gradient stops the step before
 * anything is updated) and clipped, the schedule's learning rate set, one optimizer step.
 * Hidden matrices go to the matrix optimizer (Spectra, Muon, Dion or AdamW), everything
 * else to AdamW (embeddings/head with weight decay, norm gains without); with
 * matrix_on_all_2d the embedding and head go to the matrix optimizer too. */
#ifndef SPECTRA_TRAIN_H
#define SPECTRA_TRAIN_H

#include "spectra/model.h"
#include "spectra/optim.h"
#include "spectra/status.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum spectra_lr_schedule {
    SPECTRA_SCHED_COSINE = 0,   /* linear warm-up, cosine decay to min_lr_frac at max_steps */
    SPECTRA_SCHED_WSD = 1,      /* warm-up, stable, linear decay over the last decay_frac of steps */
    SPECTRA_SCHED_CONSTANT = 2  /* warm-up, then constant */
} spectra_lr_schedule;

typedef struct spectra_train_config {
    spectra_model_config model;
    uint64_t seed;         /* model init, data order, optimizer randomness */
    int batch_size;        /* B */
    int seq_len;           /* T */
    int grad_accum;        /* micro-batches per step */
    uint64_t max_steps;
    spectra_hparams matrix; /* hidden matrices (its .algo picks the optimizer) */
    spectra_hparams adamw;  /* embeddings, head, norm gains (norm gains get no weight decay) */
    int matrix_on_all_2d;
    spectra_lr_schedule schedule;
    uint64_t warmup_steps;
    double min_lr_frac;    /* final lr as a fraction of the peak (cosine, WSD) */
    double decay_frac;     /* WSD: fraction of max_steps spent decaying */
    double grad_clip;      /* global-norm clipping threshold; 0 = off */
    int val_batches;       /* batches per evaluation; 0 = the whole validation split */
} spectra_train_config;

/* Defaults: preset "small", seed 1, B 8, T 256, accum 1, 1000 steps, Spectra (SPEC
 * defaults) for hidden matrices, AdamW lr 3e-3 (beta 0.9/0.95, wd 0.1) for the rest,
 * cosine schedule with 5% warm-up (min 10%), clip 1.0, 20 validation batches. */
spectra_train_config spectra_train_config_default(void);

/* Checks a config as spectra_trainer_create does (model shape, batch geometry, schedule,
 * both optimizer groups) without building anything: SPECTRA_ERR_INVALID_ARG naming the
 * problem. The vocabulary must already be set. */
spectra_status spectra_train_config_validate(const spectra_train_config *cfg);

/* Learning-rate multiplier in [0, 1] for `step` (0-based) under the config's schedule. */
double spectra_lr_schedule_factor(const spectra_train_config *cfg, uint64_t step);

typedef struct spectra_trainer spectra_trainer;

/* Validates the config, opens the shards (validation shards optional: n_val may be 0),
 * builds the model and optimizer. Shards are checked against the model's vocabulary. */
spectra_status spectra_trainer_create(spectra_trainer **out, const spectra_train_config *cfg,
                                      const char *const *train_shards, size_t n_train,
                                      const char *const *val_shards, size_t n_val);
void spectra_trainer_destroy(spectra_trainer *t);
const char *spectra_trainer_last_error(const spectra_trainer *t);

typedef struct spectra_step_stats {
    uint64_t step;          /* steps completed after this one */
    double loss;            /* mean training loss over the step's micro-batches */
    double grad_norm;       /* global gradient norm before clipping */
    double lr_factor;       /* schedule multiplier */
    double lr_matrix, lr_adamw;
    double seconds, seconds_model, seconds_optim; /* wall time: total, forward+backward, optimizer */
    uint64_t tokens;        /* tokens processed by this step */
} spectra_step_stats;

/* One optimizer step. SPECTRA_ERR_NONFINITE (message names the step) if the loss or the
 * gradient is NaN/Inf. On any failure the parameters, the optimizer state, the step count
 * and the data position are untouched (the model's gradient buffer is scratch). */
spectra_status spectra_trainer_step(spectra_trainer *t, spectra_step_stats *stats);

/* Mean validation loss over cfg.val_batches batches, always the same batches. */
spectra_status spectra_trainer_evaluate(spectra_trainer *t, double *val_loss);

uint64_t spectra_trainer_steps_done(const spectra_trainer *t);
const spectra_train_config *spectra_trainer_config(const spectra_trainer *t);
spectra_model *spectra_trainer_model(spectra_trainer *t);
spectra_optim *spectra_trainer_optim(spectra_trainer *t);

/* Checkpoint: config, step count, data position, model parameters and the whole optimizer
 * state, versioned and CRC-checked, written atomically. Loading refuses a checkpoint whose
 * model shape, batch geometry or optimizer layout differs, and changes nothing then. Loading
 * takes the state (parameters, moments, step count, data position); the hyperparameters
 * stay the trainer's own config's. For a bit-exact resume, create the trainer with the
 * checkpoint's config (spectra_checkpoint_read_config), as `spectra train --resume` does. */
spectra_status spectra_trainer_save(const spectra_trainer *t, const char *path);
spectra_status spectra_trainer_load(spectra_trainer *t, const char *path);

/* Reads only the config stored in a checkpoint (e.g. to rebuild the model for sampling). */
spectra_status spectra_checkpoint_read_config(const char *path, spectra_train_config *cfg);
/* Builds a model from a checkpoint's config and loads its parameters. */
spectra_status spectra_checkpoint_load_model(const char *path, spectra_model **out);

#ifdef __cplusplus
}
#endif
#endif
