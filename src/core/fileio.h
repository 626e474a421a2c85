/* File helpers: whole-file reads and atomic writes (temp file in the same directory,
 * fsync, rename, fsync of the directory), and a CRC-32 for integrity checks. */
#ifndef SPECTRA_CORE_FILEIO_H
#define SPECTRA_CORE_FILEIO_H

#include "spectra/status.h"
#include <stddef.h>
#include <stdint.h>

/* Writes `len` bytes to `path` atomically: readers see either the old file or the new
 * one, never a partial write. */
spectra_status spectra_write_file_atomic(const char *path, const void *data, size_t len);
/* The same for n files that belong together (a tokenizer's encoder.json and vocab.bpe): all
 * are written to temporary files first, and only when every one is on disk are they renamed
 * into place, so a failure while writing (out of memory, a full disk) leaves all n as they
 * were. The previous versions are kept as hard links until all renames succeeded: a rename
 * failing after others is undone with them. */
spectra_status spectra_write_files_atomic(size_t n, const char *const *paths, const void *const *data,
                                          const size_t *lens);

/* Reads a whole file into a new buffer (free with spectra_free). */
spectra_status spectra_read_file(const char *path, void **data, size_t *len);

/* I/O fault injection, for tests only (as spectra_fault_alloc_at in core/alloc.h): the
 * n-th I/O operation from now (0 = the next) of the atomic writers, spectra_read_file and
 * the shard loader's open fails once with EIO; n < 0 disarms. spectra_io_fault() is the
 * check those operations make: 1 (errno = EIO) when this one must fail. */
void spectra_fault_io_at(long n);
long spectra_fault_io_count(void);
int spectra_io_fault(void);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32). Pass crc = 0 to start. */
uint32_t spectra_crc32(uint32_t crc, const void *data, size_t len);

/* Growable byte buffer for building serialized blobs. */
typedef struct spectra_buf {
    unsigned char *data;
    size_t len, cap;
    int failed; /* set once an append failed to allocate; later appends are ignored */
} spectra_buf;

void spectra_buf_init(spectra_buf *b);
void spectra_buf_free(spectra_buf *b);
void spectra_buf_append(spectra_buf *b, const void *p, size_t n);
void spectra_buf_u32(spectra_buf *b, uint32_t v);
void spectra_buf_u64(spectra_buf *b, uint64_t v);
void spectra_buf_f64(spectra_buf *b, double v);

/* Bounds-checked reader over a byte range. Every read past the end sets `failed`. */
typedef struct spectra_reader {
    const unsigned char *data;
    size_t len, pos;
    int failed;
} spectra_reader;

void spectra_reader_init(spectra_reader *r, const void *data, size_t len);
int spectra_read_bytes(spectra_reader *r, void *dst, size_t n);
uint32_t spectra_read_u32(spectra_reader *r);
uint64_t spectra_read_u64(spectra_reader *r);
double spectra_read_f64(spectra_reader *r);
/* Returns a pointer into the data and advances, or NULL if fewer than n bytes remain. */
const void *spectra_read_span(spectra_reader *r, size_t n);

#endif
