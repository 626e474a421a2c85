/* Optimizer state files.
 *
 * Layout (little-endian), version 1:
 *   "SPCTROPT" | u32 version | u32 n_groups | u32 n_params | u64 seed
 *   per group:  u32 algo | 14 x f64 hyperparameters (order in spectra_hparams_write)
 *   per param:  u32 name_len | name | u32 group | u64 rows | u64 cols | u64 rank | u64 step
 *               | u32 cache_valid | 4 x u64 rng state | u64 len0 | len0 floats | u64 len1 | len1 floats
 *   u32 CRC-32 of every preceding byte
 * Loading checks the CRC, parses into a scratch list, compares every group and parameter
 * with the receiving optimizer, and only then copies: a bad file changes nothing. */
#include "core/alloc.h"
#include "core/error.h"
#include "core/fileio.h"
#include "optim/optim_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#define STATE_MAGIC "SPCTROPT"
#define STATE_VERSION 1u
#define N_HPARAM_FIELDS 14

void spectra_hparams_write(spectra_buf *b, const spectra_hparams *hp) {
    double f[N_HPARAM_FIELDS] = {hp->lr,         hp->weight_decay, hp->momentum,  hp->nesterov,  hp->beta1,
                                 hp->beta2,      hp->eps,          hp->rank_ratio, hp->power_iters, hp->scale,
                                 hp->oversample, hp->ns_steps,     hp->lr_adjust, hp->rank_fraction};
    spectra_buf_u32(b, (uint32_t)hp->algo);
    for (int i = 0; i < N_HPARAM_FIELDS; i++) spectra_buf_f64(b, f[i]);
}

/* A stored integer field. Out of int's range, NaN or fractional, it becomes INT_MIN, which
 * every integer hyperparameter's check refuses: casting such a double to int is undefined. */
static int stored_int(double x) { return x >= -1e9 && x <= 1e9 && x == floor(x) ? (int)x : INT_MIN; }

void spectra_hparams_read(spectra_reader *r, spectra_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    hp->algo = (spectra_algo)spectra_read_u32(r);
    double f[N_HPARAM_FIELDS];
    for (int i = 0; i < N_HPARAM_FIELDS; i++) f[i] = spectra_read_f64(r);
    hp->lr = f[0];
    hp->weight_decay = f[1];
    hp->momentum = f[2];
    hp->nesterov = stored_int(f[3]);
    hp->beta1 = f[4];
    hp->beta2 = f[5];
    hp->eps = f[6];
    hp->rank_ratio = f[7];
    hp->power_iters = stored_int(f[8]);
    hp->scale = f[9];
    hp->oversample = stored_int(f[10]);
    hp->ns_steps = stored_int(f[11]);
    hp->lr_adjust = (spectra_muon_lr_adjust)stored_int(f[12]);
    hp->rank_fraction = f[13];
}

spectra_status spectra_optim_serialize(const spectra_optim *opt, void **out, size_t *out_len) {
    if (!opt || !out || !out_len) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "serialize: NULL argument");
    spectra_buf b;
    spectra_buf_init(&b);
    spectra_buf_append(&b, STATE_MAGIC, 8);
    spectra_buf_u32(&b, STATE_VERSION);
    spectra_buf_u32(&b, (uint32_t)opt->n_groups);
    spectra_buf_u32(&b, (uint32_t)opt->n_params);
    spectra_buf_u64(&b, opt->seed);
    for (int g = 0; g < opt->n_groups; g++) spectra_hparams_write(&b, &opt->groups[g].hp);
    for (int i = 0; i < opt->n_params; i++) {
        const optim_param *p = &opt->params[i];
        uint32_t nl = (uint32_t)strlen(p->name);
        spectra_buf_u32(&b, nl);
        spectra_buf_append(&b, p->name, nl);
        spectra_buf_u32(&b, (uint32_t)p->group);
        spectra_buf_u64(&b, p->rows);
        spectra_buf_u64(&b, p->cols);
        spectra_buf_u64(&b, p->rank);
        spectra_buf_u64(&b, p->step);
        spectra_buf_u32(&b, (uint32_t)p->cache_valid);
        for (int j = 0; j < 4; j++) spectra_buf_u64(&b, p->rng.s[j]);
        spectra_buf_u64(&b, p->buf0_len);
        spectra_buf_append(&b, p->buf0, p->buf0_len * sizeof(float));
        spectra_buf_u64(&b, p->buf1_len);
        if (p->buf1_len) spectra_buf_append(&b, p->buf1, p->buf1_len * sizeof(float));
    }
    spectra_buf_u32(&b, spectra_crc32(0, b.data, b.len));
    if (b.failed) {
        spectra_buf_free(&b);
        return spectra_set_error(SPECTRA_ERR_NOMEM, "serialize: out of memory");
    }
    *out = b.data;
    *out_len = b.len;
    return SPECTRA_OK;
}

spectra_status spectra_optim_save(const spectra_optim *opt, const char *path) {
    if (!opt || !path) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "save: NULL argument");
    void *buf;
    size_t len;
    spectra_status st = spectra_optim_serialize(opt, &buf, &len);
    if (st != SPECTRA_OK) return st;
    st = spectra_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

/* Parsed view of one parameter record; buffers point into the file bytes. */
typedef struct parsed_param {
    const char *name;
    uint32_t name_len, group, cache_valid;
    uint64_t rows, cols, rank, step, rng[4], len0, len1;
    const void *buf0, *buf1;
} parsed_param;

#define BAD(...) spectra_set_error(SPECTRA_ERR_FORMAT, __VA_ARGS__)
#define MISMATCH(...) spectra_set_error(SPECTRA_ERR_MISMATCH, __VA_ARGS__)

static spectra_status deserialize(spectra_optim *opt, const unsigned char *data, size_t len) {
    if (len < 8 + 4 * 3 + 8 + 4) return BAD("optimizer state: file too short (%zu bytes) — truncated?", len);
    if (memcmp(data, STATE_MAGIC, 8) != 0) return BAD("optimizer state: bad magic (not a spectra optimizer state file)");
    uint32_t stored_crc = (uint32_t)data[len - 4] | (uint32_t)data[len - 3] << 8 | (uint32_t)data[len - 2] << 16 |
                          (uint32_t)data[len - 1] << 24;
    spectra_reader r;
    spectra_reader_init(&r, data, len - 4);
    spectra_read_span(&r, 8);
    uint32_t version = spectra_read_u32(&r);
    if (version != STATE_VERSION)
        return BAD("optimizer state: unsupported version %u (this library reads version %u)", version, STATE_VERSION);
    if (spectra_crc32(0, data, len - 4) != stored_crc)
        return BAD("optimizer state: checksum mismatch — the file is corrupted or truncated");
    uint32_t n_groups = spectra_read_u32(&r), n_params = spectra_read_u32(&r);
    uint64_t seed = spectra_read_u64(&r);
    if ((int)n_groups != opt->n_groups)
        return MISMATCH("optimizer state: file has %u groups, optimizer has %d", n_groups, opt->n_groups);
    if ((int)n_params != opt->n_params)
        return MISMATCH("optimizer state: file has %u parameters, optimizer has %d", n_params, opt->n_params);
    spectra_hparams *hps = spectra_zalloc(n_groups ? n_groups : 1, sizeof *hps);
    parsed_param *pp = spectra_zalloc(n_params ? n_params : 1, sizeof *pp);
    spectra_status st = SPECTRA_OK;
    if (!hps || !pp) {
        st = spectra_set_error(SPECTRA_ERR_NOMEM, "optimizer state: out of memory");
        goto done;
    }
    for (uint32_t g = 0; g < n_groups; g++) {
        spectra_hparams_read(&r, &hps[g]);
        if (r.failed) { st = BAD("optimizer state: truncated in group %u", g); goto done; }
        if (hps[g].algo != opt->groups[g].hp.algo) {
            st = MISMATCH("optimizer state: group %u is %s in the file but %s in the optimizer", g,
                          spectra_algo_name(hps[g].algo), spectra_algo_name(opt->groups[g].hp.algo));
            goto done;
        }
        if (spectra_hparams_validate(&hps[g]) != SPECTRA_OK) {
            st = BAD("optimizer state: group %u has invalid hyperparameters: %s", g, spectra_last_error());
            goto done;
        }
        /* What spectra_optim_set_hparams refuses once parameters are registered, loading
         * refuses too: the workspaces were sized for this optimizer's rank and oversampling,
         * and a larger sketch from the file would run past them. */
        const spectra_hparams *now = &opt->groups[g].hp;
        const int cap = opt->groups[g].oversample_cap;
        if (hps[g].algo == SPECTRA_ALGO_SPECTRA && hps[g].oversample > cap) {
            st = MISMATCH("optimizer state: group %u has oversample %d in the file, but the optimizer's workspaces are "
                          "sized for at most %d; create the optimizer with oversample >= %d",
                          g, hps[g].oversample, cap, hps[g].oversample);
            goto done;
        }
        if ((hps[g].algo == SPECTRA_ALGO_SPECTRA && hps[g].rank_ratio != now->rank_ratio) ||
            (hps[g].algo == SPECTRA_ALGO_DION && hps[g].rank_fraction != now->rank_fraction)) {
            st = MISMATCH("optimizer state: group %u has rank %s %g in the file but %g in the optimizer", g,
                          hps[g].algo == SPECTRA_ALGO_DION ? "fraction" : "ratio",
                          hps[g].algo == SPECTRA_ALGO_DION ? hps[g].rank_fraction : hps[g].rank_ratio,
                          hps[g].algo == SPECTRA_ALGO_DION ? now->rank_fraction : now->rank_ratio);
            goto done;
        }
    }
    for (uint32_t i = 0; i < n_params; i++) {
        parsed_param *q = &pp[i];
        const optim_param *p = &opt->params[i];
        q->name_len = spectra_read_u32(&r);
        q->name = spectra_read_span(&r, q->name_len);
        q->group = spectra_read_u32(&r);
        q->rows = spectra_read_u64(&r);
        q->cols = spectra_read_u64(&r);
        q->rank = spectra_read_u64(&r);
        q->step = spectra_read_u64(&r);
        q->cache_valid = spectra_read_u32(&r);
        for (int j = 0; j < 4; j++) q->rng[j] = spectra_read_u64(&r);
        q->len0 = spectra_read_u64(&r);
        q->buf0 = q->len0 <= len / 4 ? spectra_read_span(&r, q->len0 * 4) : NULL;
        q->len1 = q->buf0 ? spectra_read_u64(&r) : 0;
        q->buf1 = q->len1 <= len / 4 ? spectra_read_span(&r, q->len1 * 4) : NULL;
        if (r.failed || !q->buf0 || !q->buf1) { st = BAD("optimizer state: truncated in parameter %u", i); goto done; }
        if (q->name_len != strlen(p->name) || memcmp(q->name, p->name, q->name_len) != 0) {
            st = MISMATCH("optimizer state: parameter %u is '%.*s' in the file but '%s' in the optimizer", i,
                          (int)(q->name_len > 255 ? 255 : q->name_len), q->name, p->name);
            goto done;
        }
        if (q->rows != p->rows || q->cols != p->cols) {
            st = MISMATCH("optimizer state: parameter '%s' is %llu x %llu in the file but %zu x %zu in the optimizer", p->name,
                          (unsigned long long)q->rows, (unsigned long long)q->cols, p->rows, p->cols);
            goto done;
        }
        if (q->group != (uint32_t)p->group || q->rank != p->rank || q->len0 != p->buf0_len || q->len1 != p->buf1_len ||
            q->cache_valid > 1) {
            st = MISMATCH("optimizer state: parameter '%s' has a different group, rank or state size in the file", p->name);
            goto done;
        }
    }
    if (r.pos != r.len) { st = BAD("optimizer state: %zu unexpected trailing bytes", r.len - r.pos); goto done; }

    /* Everything matched: commit. */
    opt->seed = seed;
    for (uint32_t g = 0; g < n_groups; g++) opt->groups[g].hp = hps[g];
    for (uint32_t i = 0; i < n_params; i++) {
        optim_param *p = &opt->params[i];
        const parsed_param *q = &pp[i];
        p->step = q->step;
        p->cache_valid = (int)q->cache_valid;
        for (int j = 0; j < 4; j++) p->rng.s[j] = q->rng[j];
        memcpy(p->buf0, q->buf0, q->len0 * sizeof(float));
        if (q->len1) memcpy(p->buf1, q->buf1, q->len1 * sizeof(float));
    }
done:
    free(hps);
    free(pp);
    return st;
}

spectra_status spectra_optim_deserialize(spectra_optim *opt, const void *buf, size_t len) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "deserialize: optimizer is NULL");
    if (!buf) {
        spectra_set_error(SPECTRA_ERR_INVALID_ARG, "deserialize: buffer is NULL");
        spectra_copy_error(opt->err, sizeof opt->err);
        return SPECTRA_ERR_INVALID_ARG;
    }
    spectra_status st = deserialize(opt, buf, len);
    if (st != SPECTRA_OK) spectra_copy_error(opt->err, sizeof opt->err);
    return st;
}

spectra_status spectra_optim_load(spectra_optim *opt, const char *path) {
    if (!opt || !path) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "load: NULL argument");
    void *data;
    size_t len;
    spectra_status st = spectra_read_file(path, &data, &len);
    if (st == SPECTRA_OK) {
        st = deserialize(opt, data, len);
        if (st != SPECTRA_OK) {
            char msg[SPECTRA_ERRMSG_MAX];
            snprintf(msg, sizeof msg, "%s", spectra_last_error());
            spectra_set_error(st, "'%s': %s", path, msg);
        }
        spectra_free(data);
    }
    if (st != SPECTRA_OK) spectra_copy_error(opt->err, sizeof opt->err);
    return st;
}
