/* Internal layout of the optimizer handle and the per-algorithm entry points.
 * One file per algorithm (spectra.c, adamw.c, muon.c, dion.c, sgd.c); optimizer.c owns
 * registration, validation and dispatch; state_io.c owns (de)serialization. */
#ifndef SPECTRA_OPTIM_INTERNAL_H
#define SPECTRA_OPTIM_INTERNAL_H

#include "core/rng.h"
#include "spectra/optim.h"

#include <stddef.h>
#include <stdint.h>

#define SPECTRA_NAME_MAX 255

/* Diagnostics of the last Spectra step of a matrix (what the step "saw"). */
typedef struct spectra_step_diag {
    double norm_sq;    /* ‖X‖² of the shaped matrix (M, or G + μM with Nesterov) */
    double spike_sq;   /* Σ s_i² */
    double sigma_tail; /* σ_tail */
    double rms;        /* RMS of O */
    double lr_eff;     /* η' */
    int bootstrapped;  /* 1 if this step ran the randomized-SVD bootstrap */
    double phase_s[SPECTRA_STEP_PHASES]; /* wall seconds per phase (spectra_step_phase) */
} spectra_step_diag;

typedef struct optim_param {
    char *name;
    int group;
    float *data;
    const float *grad;
    size_t rows, cols;
    size_t rank; /* Spectra k, Dion r; 0 for the others */
    uint64_t step;
    int cache_valid; /* Spectra: V holds a valid subspace */
    uint64_t rng_seed;
    spectra_rng rng;
    float *buf0; /* momentum / exp_avg (rows*cols) */
    float *buf1; /* AdamW exp_avg_sq (rows*cols); Spectra V (cols*k); Dion Q (b*r) */
    size_t buf0_len, buf1_len; /* in floats */
    float *spike_s;            /* Spectra: singular values of the last step (k), not persistent */
    int fused_threads;         /* Spectra: threads the fused passes use (workspace sized for them) */
    spectra_step_diag diag;
} optim_param;

typedef struct optim_group {
    spectra_hparams hp;
    /* Spectra: the largest oversampling every registered parameter's workspace fits: the
     * group's oversample when created, lowered to the value each later parameter is sized
     * with. set_hparams and loading may go up to it (not only to the current value), so a
     * state saved with the original oversampling loads back after one with a smaller. */
    int oversample_cap;
} optim_group;

/* Scratch memory shared by all parameters (steps run one parameter at a time). Sized at
 * registration so that step() never allocates. */
typedef struct optim_workspace {
    float *f;
    size_t nf;
    double *d;
    size_t nd;
    int *i;
    size_t ni;
} optim_workspace;

struct spectra_optim {
    optim_group *groups;
    int n_groups, cap_groups;
    optim_param *params;
    int n_params, cap_params;
    uint64_t seed;
    int check_finite;
    optim_workspace ws;
    char err[512];
};

/* Workspace needs of one parameter under an algorithm. */
typedef struct ws_need {
    size_t nf, nd, ni;
} ws_need;

/* Rank k for Spectra: max(1, round(rho*r)) clamped to r-1. */
size_t spectra_algo_rank(size_t rows, size_t cols, double rank_ratio);
/* Rank r for Dion. */
size_t dion_algo_rank(size_t rows, size_t cols, double rank_fraction);

ws_need spectra_algo_ws(const optim_param *p, const spectra_hparams *hp);
ws_need muon_algo_ws(const optim_param *p, const spectra_hparams *hp);
ws_need dion_algo_ws(const optim_param *p, const spectra_hparams *hp);

spectra_status spectra_algo_step(optim_param *p, const spectra_hparams *hp, optim_workspace *ws);
spectra_status adamw_algo_step(optim_param *p, const spectra_hparams *hp);
spectra_status muon_algo_step(optim_param *p, const spectra_hparams *hp, optim_workspace *ws);
spectra_status dion_algo_step(optim_param *p, const spectra_hparams *hp, optim_workspace *ws);
spectra_status sgd_algo_step(optim_param *p, const spectra_hparams *hp);

/* Tests: 0 selects the straightforward (unfused) Spectra passes, 1 (default) the fused ones. */
void spectra_internal_set_fused(int on);
/* Tests, A/B bench: 1 (default) fuses the momentum pass with the first P = MV on the panel
 * path, 0 keeps it separate. */
void spectra_internal_set_panel_momentum(int on);

/* Dion's Q is initialized from the parameter's RNG at registration and on reset. */
void dion_algo_init_q(optim_param *p);

/* Hyperparameters as u32 algo + 14 f64 fields, shared by optimizer state files and trainer
 * checkpoints. */
struct spectra_buf;
struct spectra_reader;
void spectra_hparams_write(struct spectra_buf *b, const spectra_hparams *hp);
void spectra_hparams_read(struct spectra_reader *r, spectra_hparams *hp);

/* Hyperparameter validation, shared by add_group, set_hparams and state loading. */
spectra_status spectra_hparams_validate(const spectra_hparams *hp);

/* Number of persistent state floats of a parameter under its algorithm. */
void optim_state_lengths(const optim_param *p, const spectra_hparams *hp, size_t *len0, size_t *len1);

/* Transposes src (rows x cols row-major) into dst (cols x rows row-major). */
void spectra_transpose(const float *src, float *dst, size_t rows, size_t cols);

#endif
