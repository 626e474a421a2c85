/* spectra/optim.h — optimizers over named fp32 parameter matrices.
 *
 * Usage:
 *   spectra_optim *opt;
 *   spectra_optim_create(&opt, seed);
 *   spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
 *   int g; spectra_optim_add_group(opt, &hp, &g);
 *   spectra_optim_add_param(opt, g, "layer0.mlp.up", w, dw, rows, cols);
 *   for (...) { compute dw; spectra_optim_step(opt); }
 *   spectra_optim_destroy(opt);
 *
 * Matrices are row-major `rows x cols` fp32 arrays owned by the caller; the optimizer
 * owns its state. Each group has one algorithm and one set of hyperparameters. The math
 * of every algorithm is defined in SPEC.md (sections 1, 2, 5, 6) and docs/OPTIMIZERS.md.
 *
 * Failure contract: a call that returns an error changes nothing (parameters and state
 * are bit-identical to before). spectra_optim_last_error() says why. */
#ifndef SPECTRA_OPTIM_H
#define SPECTRA_OPTIM_H

#include "spectra/status.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum spectra_algo {
    SPECTRA_ALGO_SPECTRA = 0, /* spike-aware spectral shaping (the paper's optimizer) */
    SPECTRA_ALGO_ADAMW = 1,   /* torch.optim.AdamW semantics */
    SPECTRA_ALGO_MUON = 2,    /* Newton–Schulz orthogonalized momentum */
    SPECTRA_ALGO_DION = 3,    /* low-rank orthonormal updates with error feedback */
    SPECTRA_ALGO_SGD = 4      /* SGD with momentum, torch.optim.SGD semantics */
} spectra_algo;

typedef enum spectra_muon_lr_adjust {
    SPECTRA_MUON_LR_ORIGINAL = 0,       /* lr * sqrt(max(1, rows/cols)) (Keller Jordan) */
    SPECTRA_MUON_LR_MATCH_RMS_ADAMW = 1 /* 0.2 * lr * sqrt(max(rows, cols)) (Moonlight) */
} spectra_muon_lr_adjust;

/* Hyperparameters of one group. Fields that an algorithm does not use are ignored.
 * Real-valued fields are double, as Python floats are in PyTorch: scalars such as 1 − β1
 * are formed in double and rounded once to fp32, which is what makes AdamW match
 * torch.optim.AdamW element by element.
 * Always start from spectra_hparams_default(algo) and change what you need. */
typedef struct spectra_hparams {
    spectra_algo algo;
    double lr;           /* learning rate (all) */
    double weight_decay; /* decoupled (Spectra, AdamW, Muon, Dion); L2 added to g (SGD) */
    double momentum;     /* Spectra mu, Muon beta, Dion mu, SGD momentum */
    int nesterov;       /* Spectra, Muon, SGD */
    double beta1, beta2; /* AdamW */
    double eps;          /* AdamW eps, Spectra eps, Muon normalization eps */
    double rank_ratio;   /* Spectra rho: k = max(1, round(rho * min(m,n))), k <= min(m,n)-1 */
    int power_iters;    /* Spectra T */
    double scale;        /* Spectra c in eta' = c * eta / (RMS + eps) */
    int oversample;     /* Spectra: randomized-SVD oversampling p for the bootstrap */
    int ns_steps;       /* Muon Newton–Schulz iterations */
    spectra_muon_lr_adjust lr_adjust; /* Muon */
    double rank_fraction; /* Dion: r = max(1, round(fraction * min(m,n))) */
} spectra_hparams;

/* Documented defaults (SPEC.md):
 *   SPECTRA: lr 0.02, momentum 0.95, nesterov 0, rank_ratio 0.015, power_iters 1,
 *            eps 1e-8, scale 0.2, weight_decay 0, oversample 8
 *   ADAMW:   lr 1e-3, beta1 0.9, beta2 0.95, eps 1e-8, weight_decay 0.1
 *   MUON:    lr 0.02, momentum 0.95, nesterov 1, ns_steps 5, eps 1e-7, weight_decay 0,
 *            lr_adjust ORIGINAL
 *   DION:    lr 0.01, momentum 0.95, rank_fraction 0.25, weight_decay 0.01
 *   SGD:     lr 0.01, momentum 0.9, nesterov 0, weight_decay 0 */
spectra_hparams spectra_hparams_default(spectra_algo algo);

/* "spectra", "adamw", "muon", "dion", "sgd". */
const char *spectra_algo_name(spectra_algo algo);
/* Parses a name as above; SPECTRA_ERR_INVALID_ARG for an unknown one. */
spectra_status spectra_algo_from_name(const char *name, spectra_algo *out);

typedef struct spectra_optim spectra_optim;

/* `seed` drives every random draw (Spectra's bootstrap test matrices, Dion's Q). */
spectra_status spectra_optim_create(spectra_optim **out, uint64_t seed);
void spectra_optim_destroy(spectra_optim *opt);

/* Message of the last failed call on this optimizer ("" if none). */
const char *spectra_optim_last_error(const spectra_optim *opt);

/* Adds a group; its index is written to *group (0, 1, ...). Hyperparameters are
 * validated (finite lr >= 0, 0 <= momentum < 1, 0 < rank_ratio < 1, T >= 1, ...). */
spectra_status spectra_optim_add_group(spectra_optim *opt, const spectra_hparams *hp, int *group);

/* Registers a parameter: `data` (updated in place) and `grad` (read by step), both
 * rows x cols row-major. Names must be unique and non-empty. Spectra and Muon refuse
 * vectors (min(rows, cols) < 2); put those in an AdamW group. State is allocated here,
 * so step() never allocates. Any alignment works; 64-byte aligned `data` and `grad` are
 * fastest (a buffer 16 bytes off a cache line made AdamW's step 1.5x slower at 4096 x 14336,
 * docs/BENCHMARKS.md). */
spectra_status spectra_optim_add_param(spectra_optim *opt, int group, const char *name, float *data,
                                       const float *grad, size_t rows, size_t cols);

/* Changes where a parameter's data/gradient live (e.g. after the caller reallocates). */
spectra_status spectra_optim_rebind_param(spectra_optim *opt, const char *name, float *data, const float *grad);

/* Gradient values at or above this magnitude (2^64) are refused like NaN/Inf: the step's
 * momenta and panel products would overflow fp32 (a diverged run, not a gradient). */
#define SPECTRA_GRAD_LIMIT 18446744073709551616.0f

/* One step over every parameter. Unless disabled with spectra_optim_set_check_finite,
 * every gradient is first checked for NaN/Inf and values of magnitude >= SPECTRA_GRAD_LIMIT:
 * if any is found, SPECTRA_ERR_NONFINITE is returned naming the parameter and the element,
 * and nothing is modified. */
spectra_status spectra_optim_step(spectra_optim *opt);

/* Skips the pre-step scan (one read of every gradient) when the caller has already checked,
 * e.g. while computing the global gradient norm for clipping. */
void spectra_optim_set_check_finite(spectra_optim *opt, int enabled);

/* Group hyperparameters: read, or replace (validated; the algorithm, Spectra's rank ratio and
 * Dion's rank fraction cannot change, and Spectra's oversampling cannot exceed what the
 * group's workspaces were sized for when its parameters were registered). */
spectra_status spectra_optim_get_hparams(const spectra_optim *opt, int group, spectra_hparams *out);
spectra_status spectra_optim_set_hparams(spectra_optim *opt, int group, const spectra_hparams *hp);
/* Shorthand for schedules. */
spectra_status spectra_optim_set_lr(spectra_optim *opt, int group, double lr);

/* Zeroes all state (momenta, caches, step counts) as if freshly created. */
void spectra_optim_reset_state(spectra_optim *opt);

int spectra_optim_num_groups(const spectra_optim *opt);
int spectra_optim_num_params(const spectra_optim *opt);

/* Facts about parameter i (0-based, in registration order). Any out pointer may be NULL. */
typedef struct spectra_param_info {
    const char *name;
    int group;
    spectra_algo algo;
    size_t rows, cols;
    size_t rank;        /* Spectra k or Dion r; 0 otherwise */
    uint64_t step;      /* steps taken by this parameter */
    size_t state_bytes; /* persistent optimizer state (momenta, caches) */
} spectra_param_info;
spectra_status spectra_optim_param_info(const spectra_optim *opt, int index, spectra_param_info *out);
/* Index of a parameter by name, or -1. */
int spectra_optim_find_param(const spectra_optim *opt, const char *name);

/* Total persistent state bytes over all parameters. */
size_t spectra_optim_state_bytes(const spectra_optim *opt);

/* Read-only view of a state buffer of a parameter, for analysis and tests. Buffer names:
 *   Spectra: "momentum" (rows x cols), "V" (cols x k, column-major: column i contiguous)
 *   AdamW:   "exp_avg", "exp_avg_sq" (rows x cols)
 *   Muon:    "momentum"; SGD: "momentum"
 *   Dion:    "momentum" (rows x cols), "Q" (b x r column-major, b = min(rows, cols))
 * *data is NULL while the buffer holds no value yet (e.g. V before the first step). */
spectra_status spectra_optim_get_state(const spectra_optim *opt, const char *param, const char *buffer,
                                       const float **data, size_t *rows, size_t *cols);

/* Phases of a Spectra step, for the per-phase wall times of spectra_spike_diag. With T > 1
 * the power-iteration phases are summed over the T rounds; on the bootstrap step
 * SPECTRA_PHASE_PROJECT holds the whole randomized SVD. */
typedef enum spectra_step_phase {
    SPECTRA_PHASE_MOMENTUM,  /* M ← μM + G fused with ‖X‖² */
    SPECTRA_PHASE_PROJECT,   /* P = XV */
    SPECTRA_PHASE_QR,        /* thin QR of P */
    SPECTRA_PHASE_BACK,      /* Z = XᵀU */
    SPECTRA_PHASE_NORMALIZE, /* V = Z's normalized columns, s = their norms */
    SPECTRA_PHASE_UPDATE,    /* W ← (1−ηλ)W − η'X + U_s Vᵀ */
    SPECTRA_STEP_PHASES
} spectra_step_phase;

/* What the last Spectra step saw on parameter i: the k spike singular values of the
 * shaped matrix X (M, or G + μM with Nesterov), the tail's RMS singular value σ_tail, the
 * RMS of the shaped update O, the effective rate η' = c·η/(RMS+ε), ‖X‖, and the wall time
 * of each phase of the step. `s` points into the optimizer and is valid until the next
 * step. Only for Spectra parameters that have stepped at least once. */
typedef struct spectra_spike_diag {
    size_t k;
    const float *s;
    double norm;          /* ‖X‖ */
    double spike_energy;  /* Σ s_i² / ‖X‖² */
    double sigma_tail;
    double rms;
    double lr_eff;
    int bootstrapped;     /* 1 if the step ran the randomized-SVD bootstrap */
    double phase_s[SPECTRA_STEP_PHASES]; /* wall seconds of each phase of the last step */
} spectra_spike_diag;
spectra_status spectra_optim_spike_diag(const spectra_optim *opt, int index, spectra_spike_diag *out);

/* Serialization of the complete optimizer state: a versioned little-endian header,
 * groups (algorithm, hyperparameters), parameters (name, shape, step count, RNG state,
 * buffers) and a CRC-32 trailer. Loading validates everything first and fails with a
 * message naming the first mismatch (name, shape, algorithm, group count, and the rules of
 * spectra_optim_set_hparams: the same rank ratio / fraction, an oversampling no larger than
 * the group's workspaces were sized for at registration); on failure the optimizer is
 * unchanged. The file's hyperparameters
 * replace the optimizer's on success. */
spectra_status spectra_optim_save(const spectra_optim *opt, const char *path); /* atomic */
spectra_status spectra_optim_load(spectra_optim *opt, const char *path);
/* In-memory variants, for embedding in a larger checkpoint. *buf is malloc'ed; free(). */
spectra_status spectra_optim_serialize(const spectra_optim *opt, void **buf, size_t *len);
spectra_status spectra_optim_deserialize(spectra_optim *opt, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
