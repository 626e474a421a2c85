/* Allocation. All large buffers (state, workspaces, activations) are 64-byte aligned so
 * vector loops and BLAS see cache-line aligned rows (spectra_alloc). The library's small
 * structures use the plain wrappers below instead of malloc & co directly, so that every
 * allocation the library makes passes one place: the fault hook that the test suite uses to
 * make each allocation fail in turn (tests/core/test_faults.c). Everything allocated
 * here is released with free() (or spectra_free). */
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

/* malloc, calloc, realloc and strdup through the fault hook. They record no error: the
 * caller says what it was allocating. */
void *spectra_malloc(size_t bytes);
void *spectra_zalloc(size_t n, size_t size);
void *spectra_realloc(void *p, size_t bytes);
char *spectra_strdup(const char *s);

/* Fault injection, for tests only: allocation number `n` counted from this call (0 = the
 * next one) returns NULL, once; n < 0 disarms. spectra_fault_alloc_count() gives the number
 * of allocations made since the last call of spectra_fault_alloc_at. */
void spectra_fault_alloc_at(long n);
long spectra_fault_alloc_count(void);

#endif
