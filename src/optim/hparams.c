/* Hyperparameter defaults (SPEC.md sections 1, 2, 5, 6), names and validation. */
#include "core/error.h"
#include "optim/optim_internal.h"

#include <math.h>
#include <string.h>

spectra_hparams spectra_hparams_default(spectra_algo algo) {
    spectra_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.algo = algo;
    /* Shared fields get sensible values even where unused so a group can switch fields
     * without surprises. */
    hp.beta1 = 0.9f;
    hp.beta2 = 0.95f;
    hp.eps = 1e-8f;
    hp.rank_ratio = 0.015f;
    hp.power_iters = 1;
    hp.scale = 0.2f;
    hp.oversample = 8;
    hp.ns_steps = 5;
    hp.lr_adjust = SPECTRA_MUON_LR_ORIGINAL;
    hp.rank_fraction = 0.25f;
    switch (algo) {
    case SPECTRA_ALGO_SPECTRA:
        hp.lr = 0.02f;
        hp.momentum = 0.95f;
        hp.weight_decay = 0.0f;
        break;
    case SPECTRA_ALGO_ADAMW:
        hp.lr = 1e-3f;
        hp.weight_decay = 0.1f;
        break;
    case SPECTRA_ALGO_MUON:
        hp.lr = 0.02f;
        hp.momentum = 0.95f;
        hp.nesterov = 1;
        hp.eps = 1e-7f;
        hp.weight_decay = 0.0f;
        break;
    case SPECTRA_ALGO_DION:
        hp.lr = 0.01f;
        hp.momentum = 0.95f;
        hp.weight_decay = 0.01f;
        break;
    case SPECTRA_ALGO_SGD:
        hp.lr = 0.01f;
        hp.momentum = 0.9f;
        break;
    }
    return hp;
}

static const char *const algo_names[] = {"spectra", "adamw", "muon", "dion", "sgd"};

const char *spectra_algo_name(spectra_algo algo) {
    if ((unsigned)algo < sizeof algo_names / sizeof algo_names[0]) return algo_names[algo];
    return "unknown";
}

spectra_status spectra_algo_from_name(const char *name, spectra_algo *out) {
    if (!name || !out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "algorithm name is NULL");
    for (unsigned i = 0; i < sizeof algo_names / sizeof algo_names[0]; i++) {
        if (!strcmp(name, algo_names[i])) {
            *out = (spectra_algo)i;
            return SPECTRA_OK;
        }
    }
    return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "unknown optimizer '%s' (expected spectra, adamw, muon, dion or sgd)", name);
}

#define REQUIRE(cond, ...)                                                                 \
    do {                                                                                   \
        if (!(cond)) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, __VA_ARGS__);       \
    } while (0)

spectra_status spectra_hparams_validate(const spectra_hparams *hp) {
    REQUIRE(hp, "hyperparameters are NULL");
    REQUIRE((unsigned)hp->algo <= SPECTRA_ALGO_SGD, "unknown algorithm id %d", (int)hp->algo);
    const char *a = spectra_algo_name(hp->algo);
    REQUIRE(isfinite(hp->lr) && hp->lr >= 0.0f, "%s: lr must be finite and >= 0 (got %g)", a, (double)hp->lr);
    REQUIRE(isfinite(hp->weight_decay) && hp->weight_decay >= 0.0f, "%s: weight_decay must be finite and >= 0 (got %g)", a,
            (double)hp->weight_decay);
    switch (hp->algo) {
    case SPECTRA_ALGO_SPECTRA:
        REQUIRE(hp->momentum >= 0.0f && hp->momentum < 1.0f, "spectra: momentum must be in [0, 1) (got %g)", (double)hp->momentum);
        REQUIRE(hp->rank_ratio > 0.0f && hp->rank_ratio < 1.0f, "spectra: rank_ratio must be in (0, 1) (got %g)", (double)hp->rank_ratio);
        REQUIRE(hp->power_iters >= 1 && hp->power_iters <= 1000, "spectra: power_iters must be in [1, 1000] (got %d)", hp->power_iters);
        REQUIRE(isfinite(hp->scale) && hp->scale > 0.0f, "spectra: scale must be > 0 (got %g)", (double)hp->scale);
        REQUIRE(isfinite(hp->eps) && hp->eps > 0.0f, "spectra: eps must be > 0 (got %g)", (double)hp->eps);
        REQUIRE(hp->oversample >= 0 && hp->oversample <= 1000, "spectra: oversample must be in [0, 1000] (got %d)", hp->oversample);
        REQUIRE(hp->nesterov == 0 || hp->nesterov == 1, "spectra: nesterov must be 0 or 1");
        break;
    case SPECTRA_ALGO_ADAMW:
        REQUIRE(hp->beta1 >= 0.0f && hp->beta1 < 1.0f, "adamw: beta1 must be in [0, 1) (got %g)", (double)hp->beta1);
        REQUIRE(hp->beta2 >= 0.0f && hp->beta2 < 1.0f, "adamw: beta2 must be in [0, 1) (got %g)", (double)hp->beta2);
        REQUIRE(isfinite(hp->eps) && hp->eps > 0.0f, "adamw: eps must be > 0 (got %g)", (double)hp->eps);
        break;
    case SPECTRA_ALGO_MUON:
        REQUIRE(hp->momentum >= 0.0f && hp->momentum < 1.0f, "muon: momentum must be in [0, 1) (got %g)", (double)hp->momentum);
        REQUIRE(hp->ns_steps >= 1 && hp->ns_steps <= 100, "muon: ns_steps must be in [1, 100] (got %d)", hp->ns_steps);
        REQUIRE(isfinite(hp->eps) && hp->eps > 0.0f, "muon: eps must be > 0 (got %g)", (double)hp->eps);
        REQUIRE(hp->lr_adjust == SPECTRA_MUON_LR_ORIGINAL || hp->lr_adjust == SPECTRA_MUON_LR_MATCH_RMS_ADAMW,
                "muon: unknown lr_adjust %d", (int)hp->lr_adjust);
        REQUIRE(hp->nesterov == 0 || hp->nesterov == 1, "muon: nesterov must be 0 or 1");
        break;
    case SPECTRA_ALGO_DION:
        REQUIRE(hp->momentum >= 0.0f && hp->momentum < 1.0f, "dion: momentum must be in [0, 1) (got %g)", (double)hp->momentum);
        REQUIRE(hp->rank_fraction > 0.0f && hp->rank_fraction <= 1.0f, "dion: rank_fraction must be in (0, 1] (got %g)",
                (double)hp->rank_fraction);
        break;
    case SPECTRA_ALGO_SGD:
        REQUIRE(hp->momentum >= 0.0f && hp->momentum < 1.0f, "sgd: momentum must be in [0, 1) (got %g)", (double)hp->momentum);
        REQUIRE(hp->nesterov == 0 || hp->nesterov == 1, "sgd: nesterov must be 0 or 1");
        REQUIRE(!hp->nesterov || hp->momentum > 0.0f, "sgd: nesterov needs momentum > 0");
        break;
    }
    return SPECTRA_OK;
}
