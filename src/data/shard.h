/* llm.c token shard header parsing, exposed for the loader, tests and the fuzz target. */
#ifndef SPECTRA_DATA_SHARD_H
#define SPECTRA_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "spectra/status.h"

/* Validates a whole shard image of `len` bytes (header, size, and — when vocab_size is
 * nonzero — every token < vocab_size). On success *ntokens is the token count and the
 * tokens start at data + SPECTRA_SHARD_HEADER_BYTES. `name` appears in error messages. */
spectra_status spectra_shard_parse(const void *data, size_t len, uint32_t vocab_size, const char *name,
                                   uint64_t *ntokens);

#endif
