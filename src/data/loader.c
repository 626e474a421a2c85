/* Batch loader over memory-mapped llm.c shards.
 *
 * The data are cut into windows of T+1 tokens starting every T tokens within a shard.
 * Epoch e visits the windows in the order perm_e (a Fisher-Yates shuffle seeded by
 * (seed, e), or file order without shuffle); position i of that order belongs to rank
 * i % R, and batch s of rank r takes positions (s*B + b)*R + r for b < B. So the ranks
 * see disjoint windows, and (epoch, step) alone determines every batch: resuming is
 * recomputing perm_e, nothing else is stateful. */
#include "spectra/data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "data/shard.h"

typedef struct mshard {
    void *map;
    size_t map_len;
    const unsigned char *tokens;
    uint64_t ntok, nwin;
} mshard;

struct spectra_loader {
    spectra_loader_config cfg;
    mshard *shards;
    size_t nshards;
    uint64_t *win_start; /* prefix sums of windows per shard, nshards + 1 */
    uint64_t nwin, total_tokens, steps;
    uint64_t *perm;
    uint64_t perm_epoch;
    int perm_valid;
    spectra_loader_pos pos;
};

void spectra_loader_free(spectra_loader *ld) {
    if (!ld) return;
    for (size_t i = 0; i < ld->nshards; i++)
        if (ld->shards[i].map) munmap(ld->shards[i].map, ld->shards[i].map_len);
    free(ld->shards);
    free(ld->win_start);
    free(ld->perm);
    free(ld);
}

static spectra_status map_shard(const char *path, uint32_t vocab, mshard *s) {
    int fd = spectra_io_fault() ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return spectra_set_error(SPECTRA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return spectra_set_error(SPECTRA_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    void *m = NULL;
    if (len > 0) {
        m = spectra_io_fault() ? MAP_FAILED : mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return spectra_set_error(SPECTRA_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        }
    }
    close(fd);
    uint64_t ntok = 0;
    spectra_status st = spectra_shard_parse(m, len, vocab, path, &ntok);
    if (st) {
        if (m) munmap(m, len);
        return st;
    }
    s->map = m;
    s->map_len = len;
    s->tokens = (const unsigned char *)m + SPECTRA_SHARD_HEADER_BYTES;
    s->ntok = ntok;
    return SPECTRA_OK;
}

spectra_status spectra_loader_open(const char *const *paths, size_t npaths, const spectra_loader_config *cfg,
                                   spectra_loader **out) {
    if (!paths || !npaths || !cfg || !out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "loader_open: no shards or NULL argument");
    *out = NULL;
    if (!cfg->batch_size || !cfg->seq_len || !cfg->vocab_size || !cfg->world_size || cfg->rank >= cfg->world_size)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "loader_open: need B, T, vocab_size, world_size > 0 and rank < world_size "
                                 "(B=%zu T=%zu vocab=%u rank=%u world=%u)",
                                 cfg->batch_size, cfg->seq_len, cfg->vocab_size, cfg->rank, cfg->world_size);
    if (cfg->vocab_size > 65536)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "loader_open: vocab size %u exceeds uint16 shards", cfg->vocab_size);
    /* Every size derived from the config must fit: B * world_size is the divisor of the
     * steps per epoch (it wrapped to 0 for B = 2^63, world_size = 2: SIGFPE), B * T int32s
     * is the caller's buffer that loader_next indexes (its bound also keeps the window
     * length T + 1 from wrapping to 0). */
    size_t per_step = 0, batch_tokens = 0, batch_bytes = 0;
    if (spectra_mul_overflow(cfg->batch_size, cfg->world_size, &per_step) ||
        spectra_mul_overflow(cfg->batch_size, cfg->seq_len, &batch_tokens) ||
        spectra_mul_overflow(batch_tokens, sizeof(int32_t), &batch_bytes))
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG,
                                 "loader_open: B=%zu T=%zu world_size=%u overflow: B*world_size and the bytes of "
                                 "B*T int32 tokens must fit in size_t",
                                 cfg->batch_size, cfg->seq_len, cfg->world_size);
    spectra_loader *ld = spectra_zalloc(1, sizeof *ld);
    if (!ld) return spectra_set_error(SPECTRA_ERR_NOMEM, "loader: out of memory");
    ld->cfg = *cfg;
    ld->shards = spectra_zalloc(npaths, sizeof *ld->shards);
    ld->win_start = spectra_zalloc(npaths + 1, sizeof *ld->win_start);
    if (!ld->shards || !ld->win_start) {
        spectra_loader_free(ld);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "loader: out of memory");
    }
    const uint64_t T = cfg->seq_len;
    for (size_t i = 0; i < npaths; i++) {
        if (!paths[i]) {
            spectra_loader_free(ld);
            return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "loader_open: path %zu is NULL", i);
        }
        spectra_status st = map_shard(paths[i], cfg->vocab_size, &ld->shards[i]);
        ld->nshards = i + 1;
        if (st) {
            spectra_loader_free(ld);
            return st;
        }
        mshard *s = &ld->shards[i];
        s->nwin = s->ntok >= T + 1 ? (s->ntok - 1) / T : 0;
        ld->win_start[i + 1] = ld->win_start[i] + s->nwin;
        ld->total_tokens += s->ntok;
    }
    ld->nwin = ld->win_start[npaths];
    ld->steps = ld->nwin / per_step;
    if (ld->steps == 0) {
        spectra_status st = spectra_set_error(
            SPECTRA_ERR_INVALID_ARG,
            "loader_open: %llu windows of %zu+1 tokens in %zu shard(s) (first: %s) are fewer than B*world_size = %llu",
            (unsigned long long)ld->nwin, cfg->seq_len, npaths, paths[0], (unsigned long long)per_step);
        spectra_loader_free(ld);
        return st;
    }
    ld->perm = spectra_malloc(ld->nwin * sizeof *ld->perm);
    if (!ld->perm) {
        const unsigned long long nwin = ld->nwin; /* read before the free */
        spectra_loader_free(ld);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "loader: out of memory for %llu windows", nwin);
    }
    *out = ld;
    return SPECTRA_OK;
}

static void make_perm(spectra_loader *ld, uint64_t epoch) {
    for (uint64_t i = 0; i < ld->nwin; i++) ld->perm[i] = i;
    if (ld->cfg.shuffle) {
        spectra_rng rng;
        spectra_rng_seed(&rng, ld->cfg.seed ^ (0x9E3779B97F4A7C15ULL * (epoch + 1)));
        for (uint64_t i = ld->nwin - 1; i > 0; i--) {
            /* The modulo bias of a 64-bit draw over < 2^32 windows is below 2^-32. */
            uint64_t j = spectra_rng_next(&rng) % (i + 1);
            uint64_t t = ld->perm[i];
            ld->perm[i] = ld->perm[j];
            ld->perm[j] = t;
        }
    }
    ld->perm_epoch = epoch;
    ld->perm_valid = 1;
}

spectra_status spectra_loader_next(spectra_loader *ld, int32_t *inputs, int32_t *targets) {
    if (!ld || !inputs || !targets) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "loader_next: NULL argument");
    if (!ld->perm_valid || ld->perm_epoch != ld->pos.epoch) make_perm(ld, ld->pos.epoch);
    const size_t B = ld->cfg.batch_size, T = ld->cfg.seq_len, R = ld->cfg.world_size;
    for (size_t b = 0; b < B; b++) {
        uint64_t g = ld->perm[(ld->pos.step * B + b) * R + ld->cfg.rank];
        size_t lo = 0, hi = ld->nshards; /* find shard s with win_start[s] <= g < win_start[s+1] */
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (ld->win_start[mid] <= g) lo = mid;
            else hi = mid;
        }
        const unsigned char *t = ld->shards[lo].tokens + 2 * (g - ld->win_start[lo]) * T;
        int32_t *in = inputs + b * T, *tg = targets + b * T;
        int32_t prev = (int32_t)(t[0] | t[1] << 8);
        for (size_t i = 0; i < T; i++) {
            int32_t next = (int32_t)(t[2 * i + 2] | t[2 * i + 3] << 8);
            in[i] = prev;
            tg[i] = next;
            prev = next;
        }
    }
    if (++ld->pos.step == ld->steps) {
        ld->pos.step = 0;
        ld->pos.epoch++;
    }
    return SPECTRA_OK;
}

spectra_loader_pos spectra_loader_tell(const spectra_loader *ld) {
    spectra_loader_pos p = {0, 0};
    return ld ? ld->pos : p;
}

spectra_status spectra_loader_seek(spectra_loader *ld, spectra_loader_pos pos) {
    if (!ld) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "loader_seek: NULL loader");
    if (pos.step >= ld->steps)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "loader_seek: step %llu >= %llu steps per epoch",
                                 (unsigned long long)pos.step, (unsigned long long)ld->steps);
    ld->pos = pos;
    return SPECTRA_OK;
}

const spectra_loader_config *spectra_loader_get_config(const spectra_loader *ld) { return ld ? &ld->cfg : NULL; }
uint64_t spectra_loader_steps_per_epoch(const spectra_loader *ld) { return ld ? ld->steps : 0; }
uint64_t spectra_loader_total_tokens(const spectra_loader *ld) { return ld ? ld->total_tokens : 0; }
