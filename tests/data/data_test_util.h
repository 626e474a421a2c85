/* Helpers for the data tests: where the fetched npm packages are, and whether a missing
 * one is a SKIP (local runs) or a failure (CI sets SPECTRA_REQUIRE_NET_TESTS=1). */
#ifndef SPECTRA_TESTS_DATA_UTIL_H
#define SPECTRA_TESTS_DATA_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline void cache_package_dir(const char *name_ver, char *out, size_t cap) {
    const char *c = getenv("SPECTRA_CACHE");
    const char *home = getenv("HOME");
    if (c && *c) snprintf(out, cap, "%s/%s/package", c, name_ver);
    else snprintf(out, cap, "%s/.cache/spectra/%s/package", home ? home : ".", name_ver);
}

static inline int dir_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Missing prerequisite: exit 77 (SKIP) loudly, or 1 when the network tests are required. */
static inline int missing_prereq(const char *test, const char *what) {
    const char *req = getenv("SPECTRA_REQUIRE_NET_TESTS");
    if (req && !strcmp(req, "1")) {
        fprintf(stderr, "%s: FAIL: %s, and SPECTRA_REQUIRE_NET_TESTS=1 (run scripts/fetch_data.sh)\n", test, what);
        return 1;
    }
    fprintf(stderr,
            "\n*** %s: SKIP: %s. Run scripts/fetch_data.sh (needs npm + registry) to enable it. ***\n\n", test,
            what);
    return 77;
}

static inline int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

#endif
