/* Shards and loader: the byte layout of written shards (checked byte by byte), loading
 * a file laid out exactly as llm.c's write_datafile() does, batches against their
 * definition, determinism per seed, bit-exact resume from a saved position, disjoint
 * rank slices, full coverage of each epoch, and every malformed-shard case (truncated,
 * wrong magic, wrong version, count/size mismatch, token >= vocab) naming the file. */
#include "spectra/spectra.h"
#include "test_util.h"
#include "data_test_util.h"

#include <string.h>
#include <unistd.h>

/* llm.c dev/data/data_common.py write_datafile(): header = np.zeros(256, int32);
 * header[0] = 20240520; header[1] = 1; header[2] = len(toks); then toks as uint16 —
 * written here byte by byte in little-endian order. */
static void write_llmc(const char *path, const uint16_t *toks, size_t n, uint32_t magic, uint32_t version,
                       uint32_t count, size_t truncate_to) {
    size_t len = 1024 + 2 * n;
    unsigned char *b = calloc(1, len);
    uint32_t h[3] = {magic, version, count};
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 4; j++) b[4 * k + j] = (unsigned char)(h[k] >> (8 * j));
    for (size_t i = 0; i < n; i++) {
        b[1024 + 2 * i] = (unsigned char)(toks[i] & 0xFF);
        b[1024 + 2 * i + 1] = (unsigned char)(toks[i] >> 8);
    }
    write_bytes(path, b, truncate_to < len ? truncate_to : len);
    free(b);
}

static spectra_loader *open1(const char *const *paths, size_t n, size_t B, size_t T, uint32_t vocab, uint64_t seed,
                             int shuffle, uint32_t rank, uint32_t world) {
    spectra_loader_config cfg = {B, T, vocab, seed, shuffle, rank, world};
    spectra_loader *ld = NULL;
    CHECK_OK(spectra_loader_open(paths, n, &cfg, &ld));
    return ld;
}

static void expect_bad(const char *path, uint32_t vocab, const char *what) {
    const char *paths[] = {path};
    spectra_loader_config cfg = {1, 4, vocab, 0, 0, 0, 1};
    spectra_loader *ld = NULL;
    spectra_status st = spectra_loader_open(paths, 1, &cfg, &ld);
    CHECK_MSG(st == SPECTRA_ERR_FORMAT, "%s: status %d", what, (int)st);
    CHECK_MSG(ld == NULL, "%s: loader returned", what);
    CHECK_MSG(strstr(spectra_last_error(), path) != NULL, "%s: message does not name the file: %s", what,
              spectra_last_error());
    spectra_loader_free(ld);
}

int main(void) {
    /* --- writer: exact bytes --- */
    int32_t ids[5] = {0, 1, 258, 50256, 65535};
    CHECK_OK(spectra_shard_write("t_w.bin", ids, 5, 65536));
    unsigned char *raw = NULL;
    FILE *f = fopen("t_w.bin", "rb");
    raw = calloc(1, 2048);
    size_t got = f ? fread(raw, 1, 2048, f) : 0;
    if (f) fclose(f);
    CHECK(got == 1024 + 10);
    static const unsigned char head[12] = {0x88, 0xD8, 0x34, 0x01, 1, 0, 0, 0, 5, 0, 0, 0}; /* 20240520 = 0x0134D888 */
    CHECK(memcmp(raw, head, 12) == 0);
    int zeros = 1;
    for (int i = 12; i < 1024; i++) zeros &= raw[i] == 0;
    CHECK(zeros);
    static const unsigned char toks[10] = {0, 0, 1, 0, 2, 1, 0x50, 0xC4, 0xFF, 0xFF};
    CHECK(memcmp(raw + 1024, toks, 10) == 0);
    free(raw);
    CHECK(spectra_shard_write("t_bad.bin", ids, 5, 70000) == SPECTRA_ERR_INVALID_ARG);
    CHECK(strstr(spectra_last_error(), "65536") != NULL);
    CHECK(spectra_shard_write("t_bad.bin", ids, 5, 50257) == SPECTRA_ERR_INVALID_ARG); /* 65535 >= vocab */
    CHECK(access("t_bad.bin", F_OK) != 0);

    /* --- two shards of distinct tokens, as llm.c writes them --- */
    enum { NA = 1001, NB = 650 };
    uint16_t a[NA], b[NB];
    for (int i = 0; i < NA; i++) a[i] = (uint16_t)i;
    for (int i = 0; i < NB; i++) b[i] = (uint16_t)(2000 + i);
    write_llmc("t_a.bin", a, NA, 20240520, 1, NA, (size_t)-1);
    write_llmc("t_b.bin", b, NB, 20240520, 1, NB, (size_t)-1);
    const char *paths[] = {"t_a.bin", "t_b.bin"};
    const size_t B = 3, T = 16;
    const size_t nwin = (NA - 1) / T + (NB - 1) / T; /* windows of T+1 starting every T */

    /* sequential order: batch k is windows 3k..3k+2 in file order, targets = next token */
    spectra_loader *ld = open1(paths, 2, B, T, 4096, 1, 0, 0, 1);
    if (!ld) return test_finish("test_shard_loader");
    CHECK(spectra_loader_total_tokens(ld) == NA + NB);
    CHECK(spectra_loader_steps_per_epoch(ld) == nwin / B);
    int32_t in[B * T], tg[B * T], in2[B * T], tg2[B * T];
    CHECK_OK(spectra_loader_next(ld, in, tg));
    int ok = 1;
    for (size_t bb = 0; bb < B; bb++)
        for (size_t t = 0; t < T; t++) ok &= in[bb * T + t] == (int32_t)(bb * T + t) && tg[bb * T + t] == (int32_t)(bb * T + t + 1);
    CHECK(ok);
    spectra_loader_free(ld);

    /* --- shuffled: coverage, determinism, resume --- */
    ld = open1(paths, 2, B, T, 4096, 1234, 1, 0, 1);
    spectra_loader *ld2 = open1(paths, 2, B, T, 4096, 1234, 1, 0, 1);
    spectra_loader *ld3 = open1(paths, 2, B, T, 4096, 99, 1, 0, 1);
    if (!ld || !ld2 || !ld3) return test_finish("test_shard_loader");
    const uint64_t steps = spectra_loader_steps_per_epoch(ld);
    char seen[4096];
    int differs = 0;
    for (int epoch = 0; epoch < 2; epoch++) {
        memset(seen, 0, sizeof seen);
        int dup = 0, shifted = 1;
        for (uint64_t s = 0; s < steps; s++) {
            spectra_loader_pos p = spectra_loader_tell(ld);
            CHECK(p.epoch == (uint64_t)epoch && p.step == s);
            CHECK_OK(spectra_loader_next(ld, in, tg));
            CHECK_OK(spectra_loader_next(ld2, in2, tg2));
            CHECK(!memcmp(in, in2, sizeof in) && !memcmp(tg, tg2, sizeof tg));
            CHECK_OK(spectra_loader_next(ld3, in2, tg2));
            differs |= memcmp(in, in2, sizeof in) != 0;
            for (size_t bb = 0; bb < B; bb++) {
                int32_t first = in[bb * T];
                /* a window starts at a multiple of T within its shard */
                CHECK((first < 2000 && first % (int32_t)T == 0) || (first >= 2000 && (first - 2000) % (int32_t)T == 0));
                dup |= seen[first]++;
                for (size_t t = 0; t < T; t++) shifted &= in[bb * T + t] == first + (int32_t)t && tg[bb * T + t] == first + (int32_t)t + 1;
            }
        }
        CHECK(!dup);
        CHECK(shifted);
    }
    CHECK(differs);
    /* resume: save mid-epoch, read 2 epochs' worth, restore into a fresh loader */
    spectra_loader_free(ld2);
    ld2 = open1(paths, 2, B, T, 4096, 1234, 1, 0, 1);
    for (int i = 0; i < 5; i++) CHECK_OK(spectra_loader_next(ld, in, tg));
    spectra_loader_pos saved = spectra_loader_tell(ld);
    CHECK_OK(spectra_loader_seek(ld2, saved));
    int same = 1;
    for (uint64_t i = 0; i < 2 * steps + 3; i++) {
        CHECK_OK(spectra_loader_next(ld, in, tg));
        CHECK_OK(spectra_loader_next(ld2, in2, tg2));
        same &= !memcmp(in, in2, sizeof in) && !memcmp(tg, tg2, sizeof tg);
    }
    CHECK(same);
    spectra_loader_pos bad = {0, steps};
    CHECK(spectra_loader_seek(ld2, bad) == SPECTRA_ERR_INVALID_ARG);
    spectra_loader_free(ld);
    spectra_loader_free(ld2);
    spectra_loader_free(ld3);

    /* --- ranks: disjoint slices of one epoch --- */
    enum { R = 3 };
    spectra_loader *rk[R];
    for (uint32_t r = 0; r < R; r++) rk[r] = open1(paths, 2, 2, T, 4096, 7, 1, r, R);
    if (!rk[0] || !rk[1] || !rk[2]) return test_finish("test_shard_loader");
    memset(seen, 0, sizeof seen);
    uint64_t rsteps = spectra_loader_steps_per_epoch(rk[0]);
    CHECK(rsteps == nwin / (2 * R));
    int dup = 0;
    size_t windows = 0;
    for (uint64_t s = 0; s < rsteps; s++)
        for (int r = 0; r < R; r++) {
            CHECK_OK(spectra_loader_next(rk[r], in, tg));
            for (int bb = 0; bb < 2; bb++, windows++) dup |= seen[in[bb * T]]++;
        }
    CHECK(!dup);
    CHECK(windows == rsteps * 2 * R);
    for (int r = 0; r < R; r++) spectra_loader_free(rk[r]);

    /* --- malformed shards --- */
    write_llmc("t_trunc_header.bin", a, 10, 20240520, 1, 10, 600);
    expect_bad("t_trunc_header.bin", 4096, "truncated header");
    write_llmc("t_trunc_tokens.bin", a, 10, 20240520, 1, 10, 1024 + 15);
    expect_bad("t_trunc_tokens.bin", 4096, "truncated tokens");
    write_llmc("t_count_small.bin", a, 10, 20240520, 1, 9, (size_t)-1);
    expect_bad("t_count_small.bin", 4096, "count smaller than the data");
    write_llmc("t_magic.bin", a, 10, 20240521, 1, 10, (size_t)-1);
    expect_bad("t_magic.bin", 4096, "wrong magic");
    CHECK(strstr(spectra_last_error(), "magic") != NULL);
    write_llmc("t_version.bin", a, 10, 20240520, 2, 10, (size_t)-1);
    expect_bad("t_version.bin", 4096, "wrong version");
    CHECK(strstr(spectra_last_error(), "version") != NULL);
    write_llmc("t_vocab.bin", a, 10, 20240520, 1, 10, (size_t)-1);
    expect_bad("t_vocab.bin", 9, "token >= vocab"); /* a[9] = 9 */
    CHECK(strstr(spectra_last_error(), "vocab") != NULL);
    write_bytes("t_empty.bin", "", 0);
    expect_bad("t_empty.bin", 4096, "empty file");
    /* a bad shard in a list is reported by its own name */
    const char *mixed[] = {"t_a.bin", "t_magic.bin"};
    spectra_loader_config cfg = {1, 4, 4096, 0, 0, 0, 1};
    spectra_loader *none = NULL;
    CHECK(spectra_loader_open(mixed, 2, &cfg, &none) == SPECTRA_ERR_FORMAT && !none);
    CHECK(strstr(spectra_last_error(), "t_magic.bin") != NULL);
    const char *missing[] = {"t_does_not_exist.bin"};
    CHECK(spectra_loader_open(missing, 1, &cfg, &none) == SPECTRA_ERR_IO);
    CHECK(strstr(spectra_last_error(), "t_does_not_exist.bin") != NULL);
    /* too little data for one batch */
    spectra_loader_config big = {1000, 64, 4096, 0, 0, 0, 1};
    CHECK(spectra_loader_open(paths, 2, &big, &none) == SPECTRA_ERR_INVALID_ARG);

    /* --- configs whose sizes overflow: refused by name, no loader --- */
    struct {
        size_t B, T;
        uint32_t world;
        const char *why;
    } huge[] = {
        /* B*world = 2 mod 2^64: opened with 2^63+1 windows per batch */
        {((size_t)1 << 63) + 1, 4, 2, "B*world wraps to 2"},
        /* B*T*4 wraps; T+1 wraps to 0, so an empty shard would have had 1 window */
        {1, SIZE_MAX, 1, "T = SIZE_MAX"},
        {2, SIZE_MAX / 8 + 1, 1, "B*T*4 wraps"},
        /* B*world wraps to 0: the steps per epoch divided by it (SIGFPE) */
        {(size_t)1 << 63, 4, 2, "B*world wraps to 0"},
    };
    write_llmc("t_header_only.bin", a, 0, 20240520, 1, 0, (size_t)-1);
    const char *with_empty[] = {"t_a.bin", "t_header_only.bin"};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        spectra_loader_config hc = {huge[i].B, huge[i].T, 4096, 0, 0, 0, huge[i].world};
        spectra_loader *h = (spectra_loader *)&hc; /* not NULL: open must clear it */
        spectra_status st = spectra_loader_open(with_empty, 2, &hc, &h);
        CHECK_MSG(st == SPECTRA_ERR_INVALID_ARG && h == NULL, "%s: status %d", huge[i].why, (int)st);
        CHECK_MSG(strstr(spectra_last_error(), "overflow") != NULL, "%s: message %s", huge[i].why,
                  spectra_last_error());
        if (st == SPECTRA_OK) spectra_loader_free(h);
    }
    return test_finish("test_shard_loader");
}
