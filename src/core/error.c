#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_last_error[SPECTRA_ERRMSG_MAX];

spectra_status spectra_set_error(spectra_status status, const char *fmt, ...) {
    /* Formatted aside first: callers add context to the message before with
     * spectra_set_error(s, "...: %s", spectra_last_error()), and vsnprintf into the buffer
     * it reads from garbles it. */
    char msg[SPECTRA_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(g_last_error, msg, sizeof msg);
    return status;
}

void spectra_copy_error(char *dst, size_t dst_size) {
    if (!dst || dst_size == 0) return;
    snprintf(dst, dst_size, "%s", g_last_error);
}

void spectra_clear_error(void) { g_last_error[0] = '\0'; }

const char *spectra_last_error(void) { return g_last_error; }

const char *spectra_version(void) { return SPECTRA_VERSION_STRING; }

const char *spectra_status_name(spectra_status status) {
    switch (status) {
    case SPECTRA_OK: return "SPECTRA_OK";
    case SPECTRA_ERR_INVALID_ARG: return "SPECTRA_ERR_INVALID_ARG";
    case SPECTRA_ERR_SHAPE: return "SPECTRA_ERR_SHAPE";
    case SPECTRA_ERR_NONFINITE: return "SPECTRA_ERR_NONFINITE";
    case SPECTRA_ERR_NOMEM: return "SPECTRA_ERR_NOMEM";
    case SPECTRA_ERR_IO: return "SPECTRA_ERR_IO";
    case SPECTRA_ERR_FORMAT: return "SPECTRA_ERR_FORMAT";
    case SPECTRA_ERR_MISMATCH: return "SPECTRA_ERR_MISMATCH";
    case SPECTRA_ERR_NUMERIC: return "SPECTRA_ERR_NUMERIC";
    case SPECTRA_ERR_STATE: return "SPECTRA_ERR_STATE";
    case SPECTRA_ERR_UNSUPPORTED: return "SPECTRA_ERR_UNSUPPORTED";
    }
    return "SPECTRA_ERR_UNKNOWN";
}
