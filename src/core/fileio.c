#define _POSIX_C_SOURCE 200809L
#include "core/fileio.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The I/O fault hook (as the allocation one in alloc.c). */
static spectra_fault_point io_faults = SPECTRA_FAULT_POINT_INIT;

void spectra_fault_io_at(long n) { spectra_fault_point_arm(&io_faults, n); }
long spectra_fault_io_count(void) { return spectra_fault_point_count(&io_faults); }

int spectra_io_fault(void) {
    if (!spectra_fault_point_hit(&io_faults)) return 0;
    errno = EIO;
    return 1;
}

static spectra_status io_error(const char *what, const char *path) {
    return spectra_set_error(SPECTRA_ERR_IO, "%s '%s': %s", what, path, strerror(errno));
}

static void fsync_parent_dir(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some filesystems refuse fsync on directories */
        close(fd);
    }
}

/* Writes one temporary file beside `path` (written and fsync'ed; name into tmp, which has
 * room for path + 12 bytes). On failure nothing is left behind. */
static spectra_status stage_file(const char *path, char *tmp, const void *data, size_t len) {
    size_t plen = strlen(path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = spectra_io_fault() ? -1 : mkstemp(tmp);
    if (fd < 0) return io_error("cannot create temporary file for", path);
    const unsigned char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = spectra_io_fault() ? -1 : write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            spectra_status st = io_error("write failed for", path);
            close(fd);
            unlink(tmp);
            return st;
        }
        p += w;
        left -= (size_t)w;
    }
    /* close even when fsync failed (the descriptor would leak); either failing means the
     * data may not be on disk */
    int synced = !spectra_io_fault() && fsync(fd) == 0;
    int err = errno;
    int closed = close(fd) == 0 && !spectra_io_fault();
    if (!synced || !closed) {
        if (!synced) errno = err;
        spectra_status st = io_error(synced ? "close failed for" : "fsync failed for", path);
        unlink(tmp);
        return st;
    }
    (void)chmod(tmp, 0644);
    return SPECTRA_OK;
}

spectra_status spectra_write_files_atomic(size_t n, const char *const *paths, const void *const *data,
                                          const size_t *lens) {
    if (!n || !paths || !data || !lens) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "write_files_atomic: NULL argument");
    size_t room = 0;
    for (size_t i = 0; i < n; i++) {
        if (!paths[i] || (!data[i] && lens[i]))
            return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "write_file_atomic: NULL argument");
        room += 2 * (strlen(paths[i]) + 16); /* <path>.tmp.XXXXXX and <that>.old */
    }
    /* Every temporary name in one block, allocated before anything is written. */
    char *names = spectra_malloc(room), **tmp = spectra_malloc(2 * n * sizeof *tmp), **old = tmp + n;
    if (!names || !tmp) {
        free(names), free(tmp);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "out of memory writing '%s'", paths[0]);
    }
    spectra_status st = SPECTRA_OK;
    size_t staged = 0;
    for (char *at = names; staged < n && !st; staged++) {
        tmp[staged] = at;
        old[staged] = at + strlen(paths[staged]) + 16;
        at = old[staged] + strlen(paths[staged]) + 16;
        st = stage_file(paths[staged], tmp[staged], data[staged], lens[staged]);
    }
    if (st) staged--; /* the failed one left nothing */
    /* With several files, each existing one is first hard-linked to <its temporary>.old, so
     * that a rename failing after others succeeded can put those back. */
    size_t linked = 0;
    for (; linked < staged && !st && n > 1; linked++) {
        snprintf(old[linked], strlen(paths[linked]) + 16, "%s.old", tmp[linked]);
        if (spectra_io_fault() || (link(paths[linked], old[linked]) != 0 && errno != ENOENT))
            st = io_error("cannot keep the previous version of", paths[linked]);
    }
    size_t renamed = 0;
    for (; renamed < staged && !st; renamed++)
        if (spectra_io_fault() || rename(tmp[renamed], paths[renamed]) != 0) {
            st = io_error("cannot rename temporary file onto", paths[renamed]);
            break;
        }
    if (st) {
        for (size_t i = 0; i < renamed; i++) /* back to the previous versions (renamed > 0 only if n > 1) */
            if (rename(old[i], paths[i]) != 0) unlink(paths[i]); /* none before: remove the new one */
        for (size_t i = 0; i < staged; i++) unlink(tmp[i]); /* those not renamed (ENOENT for the rest) */
    }
    for (size_t i = st ? renamed : 0; i < linked; i++) unlink(old[i]); /* ENOENT where there was none */
    if (!st)
        for (size_t i = 0; i < n; i++) fsync_parent_dir(paths[i]);
    free(names);
    free(tmp);
    return st;
}

spectra_status spectra_write_file_atomic(const char *path, const void *data, size_t len) {
    return spectra_write_files_atomic(1, &path, &data, &len);
}

spectra_status spectra_read_file(const char *path, void **data, size_t *len) {
    if (!path || !data || !len) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "read_file: NULL argument");
    FILE *f = spectra_io_fault() ? NULL : fopen(path, "rb");
    if (!f) return io_error("cannot open", path);
    /* fopen opens a directory too, and ftell then reports LONG_MAX: say what it is instead of
     * failing to allocate 8 EiB */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return spectra_set_error(SPECTRA_ERR_IO, "'%s' is a directory, not a file", path);
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return io_error("cannot seek", path);
    }
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return io_error("cannot size", path);
    }
    unsigned char *buf = spectra_alloc((size_t)size + 1, 1);
    if (!buf) {
        fclose(f);
        return SPECTRA_ERR_NOMEM;
    }
    size_t got = spectra_io_fault() ? 0 : fread(buf, 1, (size_t)size, f);
    int err = ferror(f);
    fclose(f);
    if (got != (size_t)size || err) {
        spectra_free(buf);
        return spectra_set_error(SPECTRA_ERR_IO, "short read on '%s'", path);
    }
    *data = buf;
    *len = (size_t)size;
    return SPECTRA_OK;
}

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_table_ready = 1;
}

uint32_t spectra_crc32(uint32_t crc, const void *data, size_t len) {
    if (!crc_table_ready) crc_init(); /* idempotent: a race writes identical values */
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

void spectra_buf_init(spectra_buf *b) { memset(b, 0, sizeof *b); }
void spectra_buf_free(spectra_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void spectra_buf_append(spectra_buf *b, const void *p, size_t n) {
    if (b->failed || n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *d = spectra_realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Serialized integers are little-endian regardless of the host. */
void spectra_buf_u32(spectra_buf *b, uint32_t v) {
    unsigned char x[4];
    for (int i = 0; i < 4; i++) x[i] = (unsigned char)(v >> (8 * i));
    spectra_buf_append(b, x, 4);
}
void spectra_buf_u64(spectra_buf *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    spectra_buf_append(b, x, 8);
}
void spectra_buf_f64(spectra_buf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    spectra_buf_u64(b, u);
}

void spectra_reader_init(spectra_reader *r, const void *data, size_t len) {
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->failed = 0;
}
const void *spectra_read_span(spectra_reader *r, size_t n) {
    if (r->failed || n > r->len - r->pos) {
        r->failed = 1;
        return NULL;
    }
    const void *p = r->data + r->pos;
    r->pos += n;
    return p;
}
int spectra_read_bytes(spectra_reader *r, void *dst, size_t n) {
    const void *p = spectra_read_span(r, n);
    if (!p) return -1;
    memcpy(dst, p, n);
    return 0;
}
uint32_t spectra_read_u32(spectra_reader *r) {
    const unsigned char *p = spectra_read_span(r, 4);
    if (!p) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
uint64_t spectra_read_u64(spectra_reader *r) {
    const unsigned char *p = spectra_read_span(r, 8);
    if (!p) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
double spectra_read_f64(spectra_reader *r) {
    uint64_t u = spectra_read_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}
