/* Deterministic random numbers: xoshiro256** seeded through splitmix64. The state is a
 * plain struct so it can be saved in checkpoints and restored bit-exactly. */
#ifndef SPECTRA_CORE_RNG_H
#define SPECTRA_CORE_RNG_H

#include <stdint.h>
#include <stddef.h>

typedef struct spectra_rng {
    uint64_t s[4];
} spectra_rng;

void spectra_rng_seed(spectra_rng *rng, uint64_t seed);
uint64_t spectra_rng_next(spectra_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double spectra_rng_uniform(spectra_rng *rng);
/* Standard normal (Box–Muller, one draw per call; no hidden cached value so the state is
 * fully described by s[]). */
double spectra_rng_normal(spectra_rng *rng);
void spectra_rng_fill_normal(spectra_rng *rng, float *x, size_t n, float stddev);

#endif
