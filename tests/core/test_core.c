/* Core utilities: CRC-32 against the standard check value, RNG determinism and normal
 * moments, atomic file write/read round trip, error messages. */
#include "core/fileio.h"
#include "core/rng.h"
#include "core/error.h"
#include "core/alloc.h"
#include "spectra/spectra.h"
#include "test_util.h"

#include <string.h>
#include <unistd.h>

int main(void) {
    /* The CRC-32 check value of "123456789" is 0xCBF43926 (ISO-HDLC / zlib). */
    CHECK(spectra_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(spectra_crc32(spectra_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);

    spectra_rng a, b;
    spectra_rng_seed(&a, 42);
    spectra_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) CHECK(spectra_rng_next(&a) == spectra_rng_next(&b));
    double s = 0, s2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = spectra_rng_normal(&a);
        s += x;
        s2 += x * x;
    }
    /* mean ~ N(0, 1/n): |mean| < 5/sqrt(n) fails with probability < 1e-6 */
    CHECK_NEAR(s / n, 0.0, 5.0 / sqrt(n));
    CHECK_NEAR(s2 / n, 1.0, 0.02);

    const char *path = "test_core_atomic.bin";
    const char msg[] = "hello atomic world";
    CHECK_OK(spectra_write_file_atomic(path, msg, sizeof msg));
    void *data = NULL;
    size_t len = 0;
    CHECK_OK(spectra_read_file(path, &data, &len));
    CHECK(len == sizeof msg && memcmp(data, msg, len) == 0);
    spectra_free(data);
    unlink(path);
    CHECK(spectra_read_file("/nonexistent/dir/x", &data, &len) == SPECTRA_ERR_IO);
    CHECK(strstr(spectra_last_error(), "/nonexistent/dir/x") != NULL);
    /* a directory is named as such (ftell on one reports LONG_MAX: this was "out of memory") */
    data = NULL;
    CHECK(spectra_read_file(".", &data, &len) == SPECTRA_ERR_IO && data == NULL);
    CHECK(strstr(spectra_last_error(), "is a directory") != NULL);
    CHECK(spectra_write_file_atomic("/nonexistent/dir/x", msg, 3) == SPECTRA_ERR_IO);

    /* Context added to the message already there (a common pattern in the library) keeps it. */
    spectra_set_error(SPECTRA_ERR_FORMAT, "batch_size 0 is not positive");
    CHECK(spectra_set_error(SPECTRA_ERR_FORMAT, "invalid stored config: '%s': %s", "ck.bin", spectra_last_error()) ==
          SPECTRA_ERR_FORMAT);
    CHECK_MSG(!strcmp(spectra_last_error(), "invalid stored config: 'ck.bin': batch_size 0 is not positive"), "got '%s'",
              spectra_last_error());

    /* A request whose size, rounded up to the 64-byte alignment, wraps is refused, not served
     * with a tiny block. */
    CHECK(spectra_alloc(SIZE_MAX - 10, 1) == NULL && strstr(spectra_last_error(), "out of memory"));
    CHECK(spectra_alloc(SIZE_MAX / 2, 4) == NULL);

    spectra_reader r;
    unsigned char four[4] = {1, 0, 0, 0};
    spectra_reader_init(&r, four, 4);
    CHECK(spectra_read_u32(&r) == 1 && !r.failed);
    spectra_read_u32(&r);
    CHECK(r.failed);
    CHECK(strcmp(spectra_status_name(SPECTRA_ERR_SHAPE), "SPECTRA_ERR_SHAPE") == 0);
    return test_finish("test_core");
}
