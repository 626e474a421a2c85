/* llm.c token shards: 256 int32 header words then uint16 tokens, all little-endian. */
#include "data/shard.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/fileio.h"
#include "spectra/data.h"

static uint32_t rd_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

spectra_status spectra_shard_parse(const void *data, size_t len, uint32_t vocab_size, const char *name,
                                   uint64_t *ntokens) {
    const unsigned char *d = data;
    if (!name) name = "(shard)";
    if (!d || len < SPECTRA_SHARD_HEADER_BYTES)
        return spectra_set_error(SPECTRA_ERR_FORMAT, "%s: truncated: %zu bytes, smaller than the %d-byte header", name,
                                 len, SPECTRA_SHARD_HEADER_BYTES);
    uint32_t magic = rd_le32(d), version = rd_le32(d + 4), count = rd_le32(d + 8);
    if (magic != SPECTRA_SHARD_MAGIC)
        return spectra_set_error(SPECTRA_ERR_FORMAT, "%s: bad magic %u (expected %d): not an llm.c token shard", name,
                                 magic, SPECTRA_SHARD_MAGIC);
    if (version != SPECTRA_SHARD_VERSION)
        return spectra_set_error(SPECTRA_ERR_FORMAT, "%s: unsupported version %u (expected %d, uint16 tokens)", name,
                                 version, SPECTRA_SHARD_VERSION);
    if (count > (uint32_t)INT32_MAX)
        return spectra_set_error(SPECTRA_ERR_FORMAT, "%s: negative token count in header", name);
    uint64_t want = (uint64_t)SPECTRA_SHARD_HEADER_BYTES + 2 * (uint64_t)count;
    if ((uint64_t)len != want)
        return spectra_set_error(SPECTRA_ERR_FORMAT,
                                 "%s: header says %u tokens (%llu bytes) but the file has %zu bytes%s", name, count,
                                 (unsigned long long)want, len, (uint64_t)len < want ? " (truncated)" : "");
    if (vocab_size) {
        const unsigned char *t = d + SPECTRA_SHARD_HEADER_BYTES;
        for (uint64_t i = 0; i < count; i++) {
            uint32_t v = (uint32_t)t[2 * i] | (uint32_t)t[2 * i + 1] << 8;
            if (v >= vocab_size)
                return spectra_set_error(SPECTRA_ERR_FORMAT, "%s: token %u at position %llu is >= vocab size %u", name,
                                         v, (unsigned long long)i, vocab_size);
        }
    }
    *ntokens = count;
    return SPECTRA_OK;
}

spectra_status spectra_shard_write(const char *path, const int32_t *ids, size_t n, uint32_t vocab_size) {
    if (!path || (!ids && n)) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "shard_write: NULL argument");
    if (vocab_size == 0 || vocab_size > 65536)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "%s: vocab size %u does not fit llm.c's uint16 shards (at most 65536 ids)", path,
                                 vocab_size);
    if (n > (size_t)INT32_MAX)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "%s: %zu tokens exceed one shard's int32 count", path, n);
    size_t bytes = SPECTRA_SHARD_HEADER_BYTES + 2 * n;
    unsigned char *buf = spectra_zalloc(1, bytes);
    if (!buf) return spectra_set_error(SPECTRA_ERR_NOMEM, "%s: out of memory for %zu bytes", path, bytes);
    uint32_t h[3] = {SPECTRA_SHARD_MAGIC, SPECTRA_SHARD_VERSION, (uint32_t)n};
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 4; j++) buf[4 * k + j] = (unsigned char)(h[k] >> (8 * j));
    unsigned char *t = buf + SPECTRA_SHARD_HEADER_BYTES;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= vocab_size) {
            free(buf);
            return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "%s: token %ld at position %zu is outside [0, %u)", path,
                                     (long)ids[i], i, vocab_size);
        }
        t[2 * i] = (unsigned char)ids[i];
        t[2 * i + 1] = (unsigned char)(ids[i] >> 8);
    }
    spectra_status st = spectra_write_file_atomic(path, buf, bytes);
    free(buf);
    return st;
}
