#include "core/alloc.h"
#include "core/error.h"
#include "core/fault.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static spectra_fault_point alloc_faults = SPECTRA_FAULT_POINT_INIT;

void spectra_fault_alloc_at(long n) { spectra_fault_point_arm(&alloc_faults, n); }
long spectra_fault_alloc_count(void) { return spectra_fault_point_count(&alloc_faults); }
static int alloc_fault(void) { return spectra_fault_point_hit(&alloc_faults); }

void *spectra_malloc(size_t bytes) { return alloc_fault() ? NULL : malloc(bytes ? bytes : 1); }

void *spectra_zalloc(size_t n, size_t size) {
    return alloc_fault() ? NULL : calloc(n && size ? n : 1, n && size ? size : 1);
}

void *spectra_realloc(void *p, size_t bytes) { return alloc_fault() ? NULL : realloc(p, bytes ? bytes : 1); }

char *spectra_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = spectra_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int spectra_mul_overflow(size_t n, size_t size, size_t *out) {
    if (size != 0 && n > SIZE_MAX / size) return -1;
    *out = n * size;
    return 0;
}

void *spectra_alloc(size_t n, size_t size) {
    size_t bytes;
    if (spectra_mul_overflow(n, size, &bytes)) {
        spectra_set_error(SPECTRA_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    if (bytes == 0) bytes = 64;
    /* Beyond 2^47 bytes (x86-64's user address space; malloc never maps above it) no request
     * can succeed: refused here, also so that sanitizers and valgrind, which treat such a
     * request as an error of the caller, see the same NOMEM. This also keeps the rounding
     * below from wrapping to a tiny block. */
    if (bytes > ((size_t)1 << 47)) {
        spectra_set_error(SPECTRA_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    bytes = (bytes + 63) & ~(size_t)63; /* aligned_alloc needs a multiple of the alignment */
    void *p = alloc_fault() ? NULL : aligned_alloc(64, bytes);
    if (!p) spectra_set_error(SPECTRA_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *spectra_calloc(size_t n, size_t size) {
    void *p = spectra_alloc(n, size);
    if (p && n && size) memset(p, 0, n * size);
    return p;
}

void spectra_free(void *p) { free(p); }
