/* Minimal assertion helpers for the C test programs. A failed CHECK prints the location
 * and counts a failure; the program's exit code is the number of failures (0 = pass).
 * Exit code 77 means SKIP (ctest SKIP_RETURN_CODE). */
#ifndef SPECTRA_TEST_UTIL_H
#define SPECTRA_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures = 0;
static int test_checks = 0;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        test_checks++;                                                                    \
        if (!(cond)) {                                                                    \
            test_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
        }                                                                                 \
    } while (0)

#define CHECK_MSG(cond, ...)                                                              \
    do {                                                                                  \
        test_checks++;                                                                    \
        if (!(cond)) {                                                                    \
            test_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
        }                                                                                 \
    } while (0)

#define CHECK_OK(expr)                                                                    \
    do {                                                                                  \
        int st_ = (int)(expr);                                                            \
        test_checks++;                                                                    \
        if (st_ != 0) {                                                                   \
            test_failures++;                                                              \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #expr, st_, \
                    spectra_last_error());                                                \
        }                                                                                 \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                  \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                    \
        test_checks++;                                                                    \
        if (!(fabs(a_ - b_) <= t_)) {                                                     \
            test_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g vs %s = %.9g (tol %.3g)\n", \
                    __FILE__, __LINE__, #a, a_, #b, b_, t_);                              \
        }                                                                                 \
    } while (0)

/* xorshift64 uniform in [-0.5, 0.5): each test keeps its own seed in *s. */
static inline float test_urand(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (float)((double)(*s >> 11) / 9007199254740992.0) - 0.5f;
}
/* A malloc'd array of n test_urand values (at least one element, so n = 0 is not NULL). */
static inline float *test_rand_floats(uint64_t *s, size_t n) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = test_urand(s);
    return x;
}
/* max |got - want| / max |want| against a double reference. */
static inline double test_max_relerr(const float *got, const double *want, size_t n) {
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs(got[i] - want[i]));
        m = fmax(m, fabs(want[i]));
    }
    return e / (m > 0 ? m : 1);
}

/* The bytes of a whole file (malloc'ed; free()), or NULL if it cannot be read. */
static inline void *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *b = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc(n ? (size_t)n : 1)) != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) *len = (size_t)n;
    return b;
}

/* Writes `len` bytes to `path` (created or truncated); 0 on success, -1 otherwise. */
static inline int test_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = len && fwrite(data, 1, len, f) != len;
    return fclose(f) || bad ? -1 : 0;
}

/* CRC-32 (ISO-HDLC, the zlib one), bit by bit: an oracle independent of the library's
 * table-driven spectra_crc32, for tests that forge files with a valid checksum. */
static inline uint32_t spectra_test_crc32(const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static inline int test_finish(const char *name) {
    if (test_failures)
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, test_failures, test_checks);
    else
        printf("%s: all %d checks passed\n", name, test_checks);
    return test_failures ? 1 : 0;
}

#endif
