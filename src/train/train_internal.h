#ifndef SPECTRA_TRAIN_INTERNAL_H
#define SPECTRA_TRAIN_INTERNAL_H

#include "spectra/data.h"
#include "spectra/train.h"

struct spectra_trainer {
    spectra_train_config cfg;
    spectra_model *model;
    spectra_optim *optim;
    spectra_loader *train, *val;
    int32_t *inputs, *targets;
    int group_matrix, group_adamw, group_norm;
    uint64_t steps_done;
    char err[512];
};

spectra_status spectra_hparams_validate(const spectra_hparams *hp);

#endif
