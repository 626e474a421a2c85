/* A fault point for the test suite's injection hooks (spectra_fault_alloc_at in alloc.h,
 * spectra_fault_io_at in fileio.h): every operation of its kind takes a sequence number, and
 * the one numbered fail_at (-1: none) fails, once. Relaxed atomics: operations may come from
 * OpenMP threads, and one add per operation costs nothing beside the operation itself. */
#ifndef SPECTRA_CORE_FAULT_H
#define SPECTRA_CORE_FAULT_H

#include <stdatomic.h>

typedef struct spectra_fault_point {
    atomic_long seq, fail_at;
} spectra_fault_point;
#define SPECTRA_FAULT_POINT_INIT {0, -1}

/* Operation n from now (0 = the next) fails; n < 0 disarms. Restarts the count. */
static inline void spectra_fault_point_arm(spectra_fault_point *f, long n) {
    atomic_store_explicit(&f->fail_at, -1, memory_order_relaxed);
    atomic_store_explicit(&f->seq, 0, memory_order_relaxed);
    atomic_store_explicit(&f->fail_at, n < 0 ? -1 : n, memory_order_relaxed);
}

/* Operations since the last arm. */
static inline long spectra_fault_point_count(spectra_fault_point *f) {
    return atomic_load_explicit(&f->seq, memory_order_relaxed);
}

/* Counts one operation; 1 if it is the one to fail. */
static inline int spectra_fault_point_hit(spectra_fault_point *f) {
    long seq = atomic_fetch_add_explicit(&f->seq, 1, memory_order_relaxed);
    return seq == atomic_load_explicit(&f->fail_at, memory_order_relaxed);
}

#endif
