/* spectra.h — the whole public API of libspectra. */
#ifndef SPECTRA_SPECTRA_H
#define SPECTRA_SPECTRA_H

#include "spectra/status.h"
#include "spectra/optim.h"
#include "spectra/data.h"
#include "spectra/model.h"
#include "spectra/train.h"
#include "spectra/analysis.h"
#include "spectra/cuda.h"

#endif
