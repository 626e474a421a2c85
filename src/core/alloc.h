/* Aligned allocation. All large buffers (state, workspaces, activations) are 64-byte
 * aligned so vector loops and BLAS see cache-line aligned rows. */
#ifndef SPECTRA_CORE_ALLOC_H
#define SPECTRA_CORE_ALLOC_H

#include <stddef.h>

/* Returns NULL (and records SPECTRA_ERR_NOMEM) on failure or overflow of n*size. */
void *spectra_alloc(size_t n, size_t size);
/* Same, zero-filled. */
void *spectra_calloc(size_t n, size_t size);
void spectra_free(void *p);
/* n*size without overflow; returns 0 and sets *out on success, -1 on overflow. */
int spectra_mul_overflow(size_t n, size_t size, size_t *out);

#endif
