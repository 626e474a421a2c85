/* spectra/status.h — status codes and error messages shared by every part of libspectra.
 *
 * Every fallible library call returns a spectra_status. On failure the library keeps a
 * human-readable message describing the first cause; read it with spectra_last_error()
 * (per thread) or with the handle's own accessor (e.g. spectra_optim_last_error()).
 * The library never prints, never exits and never aborts. */
#ifndef SPECTRA_STATUS_H
#define SPECTRA_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum spectra_status {
    SPECTRA_OK = 0,
    SPECTRA_ERR_INVALID_ARG = 1, /* NULL pointer, zero size, out-of-range value, unknown name */
    SPECTRA_ERR_SHAPE = 2,       /* wrong or incompatible shape */
    SPECTRA_ERR_NONFINITE = 3,   /* NaN or Inf found in an input */
    SPECTRA_ERR_NOMEM = 4,       /* allocation failed */
    SPECTRA_ERR_IO = 5,          /* open/read/write/rename failed */
    SPECTRA_ERR_FORMAT = 6,      /* file is truncated, corrupted, or of an unknown version */
    SPECTRA_ERR_MISMATCH = 7,    /* file is valid but does not match the receiving object */
    SPECTRA_ERR_NUMERIC = 8,     /* a LAPACK routine reported failure */
    SPECTRA_ERR_STATE = 9,       /* call not allowed in the object's current state */
    SPECTRA_ERR_UNSUPPORTED = 10 /* feature not compiled in or not available */
} spectra_status;

/* Short constant name of a status code, e.g. "SPECTRA_ERR_SHAPE". Never NULL. */
const char *spectra_status_name(spectra_status status);

/* The message of the most recent failure on the calling thread ("" if none). The
 * pointer stays valid until the next failing library call on this thread. */
const char *spectra_last_error(void);

/* Library version string, e.g. "0.1.0". */
const char *spectra_version(void);

#ifdef __cplusplus
}
#endif
#endif
