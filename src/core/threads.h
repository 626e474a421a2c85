/* Thread-count policy. OpenMP threads and OpenBLAS (Debian's OpenMP build) share one pool;
 * OpenBLAS runs single-threaded when called inside a parallel region, so the library never
 * nests parallelism. */
#ifndef SPECTRA_CORE_THREADS_H
#define SPECTRA_CORE_THREADS_H

#define SPECTRA_MAX_THREADS 256

/* omp_get_max_threads(), clamped to [1, SPECTRA_MAX_THREADS]. */
int spectra_max_threads(void);

#endif
