#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void spectra_rng_seed(spectra_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t spectra_rng_next(spectra_rng *rng) {
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double spectra_rng_uniform(spectra_rng *rng) {
    return (double)(spectra_rng_next(rng) >> 11) * 0x1.0p-53;
}

double spectra_rng_normal(spectra_rng *rng) {
    /* 1 - u lies in (0, 1], so the log is finite. */
    double u1 = 1.0 - spectra_rng_uniform(rng);
    double u2 = spectra_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void spectra_rng_fill_normal(spectra_rng *rng, float *x, size_t n, float stddev) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(stddev * spectra_rng_normal(rng));
}
