/* Internal error reporting: record a message for the calling thread and return a status.
 * Library code reports failures only through these helpers. */
#ifndef SPECTRA_CORE_ERROR_H
#define SPECTRA_CORE_ERROR_H

#include "spectra/status.h"
#include <stddef.h>

#define SPECTRA_ERRMSG_MAX 512

#if defined(__GNUC__)
#define SPECTRA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SPECTRA_PRINTF(a, b)
#endif

/* Formats the message into the thread-local buffer and returns `status`. */
spectra_status spectra_set_error(spectra_status status, const char *fmt, ...) SPECTRA_PRINTF(2, 3);

/* Copies the thread-local message into `dst` (a handle's own message buffer). */
void spectra_copy_error(char *dst, size_t dst_size);

/* Clears the thread-local message. */
void spectra_clear_error(void);

#endif
