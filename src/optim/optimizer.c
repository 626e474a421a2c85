/* The optimizer handle: groups, parameter registration, validation and step dispatch.
 * Every public entry point records its failure message both thread-locally and in the
 * handle, and leaves the handle unchanged on failure. */
#include "core/alloc.h"
#include "core/error.h"
#include "core/threads.h"
#include "linalg/linalg.h"
#include "optim/optim_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static spectra_status fail(spectra_optim *opt, spectra_status st) {
    if (opt) spectra_copy_error(opt->err, sizeof opt->err);
    return st;
}
#define FAIL(opt, ...) fail((opt), spectra_set_error(__VA_ARGS__))

spectra_status spectra_optim_create(spectra_optim **out, uint64_t seed) {
    if (!out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "spectra_optim_create: out is NULL");
    spectra_optim *opt = spectra_zalloc(1, sizeof *opt);
    if (!opt) return spectra_set_error(SPECTRA_ERR_NOMEM, "out of memory creating optimizer");
    opt->seed = seed;
    opt->check_finite = 1;
    *out = opt;
    return SPECTRA_OK;
}

static void free_param(optim_param *p) {
    free(p->name);
    spectra_free(p->buf0);
    spectra_free(p->buf1);
    spectra_free(p->spike_s);
}

void spectra_optim_destroy(spectra_optim *opt) {
    if (!opt) return;
    for (int i = 0; i < opt->n_params; i++) free_param(&opt->params[i]);
    free(opt->params);
    free(opt->groups);
    spectra_free(opt->ws.f);
    spectra_free(opt->ws.d);
    spectra_free(opt->ws.i);
    free(opt);
}

const char *spectra_optim_last_error(const spectra_optim *opt) { return opt ? opt->err : "optimizer is NULL"; }

void spectra_optim_set_check_finite(spectra_optim *opt, int enabled) {
    if (opt) opt->check_finite = enabled ? 1 : 0;
}

spectra_status spectra_optim_add_group(spectra_optim *opt, const spectra_hparams *hp, int *group) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "add_group: optimizer is NULL");
    spectra_status st = spectra_hparams_validate(hp);
    if (st != SPECTRA_OK) return fail(opt, st);
    if (opt->n_groups == opt->cap_groups) {
        int cap = opt->cap_groups ? opt->cap_groups * 2 : 4;
        optim_group *g = spectra_realloc(opt->groups, (size_t)cap * sizeof *g);
        if (!g) return FAIL(opt, SPECTRA_ERR_NOMEM, "out of memory adding a group");
        opt->groups = g;
        opt->cap_groups = cap;
    }
    opt->groups[opt->n_groups].hp = *hp;
    opt->groups[opt->n_groups].oversample_cap = hp->oversample;
    if (group) *group = opt->n_groups;
    opt->n_groups++;
    return SPECTRA_OK;
}

size_t spectra_algo_rank(size_t rows, size_t cols, double rank_ratio) {
    size_t r = rows < cols ? rows : cols;
    double kk = floor((double)rank_ratio * (double)r + 0.5);
    size_t k = kk < 1.0 ? 1 : (size_t)kk;
    if (k > r - 1) k = r - 1; /* the tail must never be empty */
    return k;
}

size_t dion_algo_rank(size_t rows, size_t cols, double rank_fraction) {
    size_t b = rows < cols ? rows : cols;
    double rr = floor((double)rank_fraction * (double)b + 0.5);
    size_t r = rr < 1.0 ? 1 : (size_t)rr;
    return r > b ? b : r;
}

void optim_state_lengths(const optim_param *p, const spectra_hparams *hp, size_t *len0, size_t *len1) {
    size_t mn = p->rows * p->cols;
    size_t b = p->rows < p->cols ? p->rows : p->cols;
    switch (hp->algo) {
    case SPECTRA_ALGO_SPECTRA: *len0 = mn; *len1 = p->cols * p->rank; break;
    case SPECTRA_ALGO_ADAMW: *len0 = mn; *len1 = mn; break;
    case SPECTRA_ALGO_DION: *len0 = mn; *len1 = b * p->rank; break;
    case SPECTRA_ALGO_MUON:
    case SPECTRA_ALGO_SGD:
    default: *len0 = mn; *len1 = 0; break;
    }
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static spectra_status grow_workspace(spectra_optim *opt, ws_need need) {
    optim_workspace *ws = &opt->ws;
    if (need.nf > ws->nf) {
        float *f = spectra_alloc(need.nf, sizeof(float));
        if (!f) return SPECTRA_ERR_NOMEM;
        spectra_free(ws->f);
        ws->f = f;
        ws->nf = need.nf;
    }
    if (need.nd > ws->nd) {
        double *d = spectra_alloc(need.nd, sizeof(double));
        if (!d) return SPECTRA_ERR_NOMEM;
        spectra_free(ws->d);
        ws->d = d;
        ws->nd = need.nd;
    }
    if (need.ni > ws->ni) {
        int *i = spectra_alloc(need.ni, sizeof(int));
        if (!i) return SPECTRA_ERR_NOMEM;
        spectra_free(ws->i);
        ws->i = i;
        ws->ni = need.ni;
    }
    return SPECTRA_OK;
}

int spectra_optim_find_param(const spectra_optim *opt, const char *name) {
    if (!opt || !name) return -1;
    for (int i = 0; i < opt->n_params; i++)
        if (!strcmp(opt->params[i].name, name)) return i;
    return -1;
}

static void reset_param(optim_param *p, const spectra_hparams *hp) {
    if (p->buf0) memset(p->buf0, 0, p->buf0_len * sizeof(float));
    if (p->buf1) memset(p->buf1, 0, p->buf1_len * sizeof(float));
    p->step = 0;
    p->cache_valid = 0;
    memset(&p->diag, 0, sizeof p->diag);
    spectra_rng_seed(&p->rng, p->rng_seed);
    if (hp->algo == SPECTRA_ALGO_DION) dion_algo_init_q(p);
}

spectra_status spectra_optim_add_param(spectra_optim *opt, int group, const char *name, float *data,
                                       const float *grad, size_t rows, size_t cols) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "add_param: optimizer is NULL");
    if (group < 0 || group >= opt->n_groups)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param: group %d does not exist (%d groups)", group, opt->n_groups);
    if (!name || !name[0]) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param: name is NULL or empty");
    if (strlen(name) > SPECTRA_NAME_MAX)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param: name longer than %d characters", SPECTRA_NAME_MAX);
    if (!data || !grad) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param '%s': %s pointer is NULL", name, data ? "grad" : "data");
    if ((const float *)data == grad)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param '%s': data and grad are the same buffer", name);
    if (rows == 0 || cols == 0) return FAIL(opt, SPECTRA_ERR_SHAPE, "add_param '%s': zero size %zu x %zu", name, rows, cols);
    if (rows > INT_MAX || cols > INT_MAX || rows > (size_t)PTRDIFF_MAX / sizeof(float) / cols)
        return FAIL(opt, SPECTRA_ERR_SHAPE, "add_param '%s': shape %zu x %zu is too large", name, rows, cols);
    if (spectra_optim_find_param(opt, name) >= 0)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "add_param: duplicate parameter name '%s'", name);
    const spectra_hparams *hp = &opt->groups[group].hp;
    size_t r = rows < cols ? rows : cols;
    if (r < 2 && (hp->algo == SPECTRA_ALGO_SPECTRA || hp->algo == SPECTRA_ALGO_MUON || hp->algo == SPECTRA_ALGO_DION))
        return FAIL(opt, SPECTRA_ERR_SHAPE,
                    "add_param '%s': %s needs a matrix with min(rows, cols) >= 2, got %zu x %zu; put vectors in an AdamW group",
                    name, spectra_algo_name(hp->algo), rows, cols);

    optim_param p;
    memset(&p, 0, sizeof p);
    p.group = group;
    p.data = data;
    p.grad = grad;
    p.rows = rows;
    p.cols = cols;
    if (hp->algo == SPECTRA_ALGO_SPECTRA) p.rank = spectra_algo_rank(rows, cols, hp->rank_ratio);
    p.fused_threads = spectra_max_threads();
    if (hp->algo == SPECTRA_ALGO_DION) p.rank = dion_algo_rank(rows, cols, hp->rank_fraction);
    p.rng_seed = opt->seed ^ fnv1a(name);
    optim_state_lengths(&p, hp, &p.buf0_len, &p.buf1_len);

    ws_need need = {0, 0, 0};
    if (hp->algo == SPECTRA_ALGO_SPECTRA) need = spectra_algo_ws(&p, hp);
    if (hp->algo == SPECTRA_ALGO_MUON) need = muon_algo_ws(&p, hp);
    if (hp->algo == SPECTRA_ALGO_DION) need = dion_algo_ws(&p, hp);

    p.name = spectra_strdup(name);
    p.buf0 = spectra_alloc(p.buf0_len, sizeof(float));
    p.buf1 = p.buf1_len ? spectra_alloc(p.buf1_len, sizeof(float)) : NULL;
    p.spike_s = p.rank ? spectra_alloc(p.rank, sizeof(float)) : NULL;
    if (!p.name || !p.buf0 || (p.buf1_len && !p.buf1) || (p.rank && !p.spike_s) || grow_workspace(opt, need) != SPECTRA_OK) {
        free_param(&p);
        return FAIL(opt, SPECTRA_ERR_NOMEM, "add_param '%s': out of memory for optimizer state (%zu x %zu)", name, rows, cols);
    }
    if (opt->n_params == opt->cap_params) {
        int cap = opt->cap_params ? opt->cap_params * 2 : 16;
        optim_param *np = spectra_realloc(opt->params, (size_t)cap * sizeof *np);
        if (!np) {
            free_param(&p);
            return FAIL(opt, SPECTRA_ERR_NOMEM, "out of memory adding parameter '%s'", name);
        }
        opt->params = np;
        opt->cap_params = cap;
    }
    reset_param(&p, hp);
    opt->params[opt->n_params++] = p;
    if (hp->oversample < opt->groups[group].oversample_cap) opt->groups[group].oversample_cap = hp->oversample;
    return SPECTRA_OK;
}

spectra_status spectra_optim_rebind_param(spectra_optim *opt, const char *name, float *data, const float *grad) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "rebind_param: optimizer is NULL");
    int i = spectra_optim_find_param(opt, name);
    if (i < 0) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "rebind_param: no parameter named '%s'", name ? name : "(null)");
    if (!data || !grad || (const float *)data == grad)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "rebind_param '%s': data/grad NULL or aliased", name);
    opt->params[i].data = data;
    opt->params[i].grad = grad;
    return SPECTRA_OK;
}

spectra_status spectra_optim_step(spectra_optim *opt) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "step: optimizer is NULL");
    /* Scan everything before touching anything, so a bad gradient changes nothing. Finite
     * values from 2^64 up are refused too: momenta accumulate them (up to 1/(1 - beta) times)
     * and the products with the panels sum up to sqrt(rows cols) of them, which overflowed
     * fp32 from about 1e35 and left NaN weights behind a step that reported success. */
    if (opt->check_finite) {
        for (int i = 0; i < opt->n_params; i++) {
            const optim_param *p = &opt->params[i];
            size_t bad = 0;
            if (!spectra_all_below(p->grad, p->rows * p->cols, SPECTRA_GRAD_LIMIT, &bad))
                return FAIL(opt, SPECTRA_ERR_NONFINITE,
                            "step: gradient of '%s' has a %s value (%g) at row %zu, col %zu; nothing was updated", p->name,
                            isfinite(p->grad[bad]) ? "too large (>= 2^64)" : "non-finite", (double)p->grad[bad],
                            bad / p->cols, bad % p->cols);
        }
    }
    for (int i = 0; i < opt->n_params; i++) {
        optim_param *p = &opt->params[i];
        const spectra_hparams *hp = &opt->groups[p->group].hp;
        spectra_status st = SPECTRA_OK;
        switch (hp->algo) {
        case SPECTRA_ALGO_SPECTRA: st = spectra_algo_step(p, hp, &opt->ws); break;
        case SPECTRA_ALGO_ADAMW: st = adamw_algo_step(p, hp); break;
        case SPECTRA_ALGO_MUON: st = muon_algo_step(p, hp, &opt->ws); break;
        case SPECTRA_ALGO_DION: st = dion_algo_step(p, hp, &opt->ws); break;
        case SPECTRA_ALGO_SGD: st = sgd_algo_step(p, hp); break;
        }
        /* Only LAPACK failures on finite input reach here; they do not occur for the
         * panels we pass (Householder QR and SVD of finite matrices always succeed). */
        if (st != SPECTRA_OK) return fail(opt, st);
    }
    return SPECTRA_OK;
}

spectra_status spectra_optim_get_hparams(const spectra_optim *opt, int group, spectra_hparams *out) {
    if (!opt || !out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "get_hparams: NULL argument");
    if (group < 0 || group >= opt->n_groups)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "get_hparams: group %d does not exist", group);
    *out = opt->groups[group].hp;
    return SPECTRA_OK;
}

spectra_status spectra_optim_set_hparams(spectra_optim *opt, int group, const spectra_hparams *hp) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "set_hparams: optimizer is NULL");
    if (group < 0 || group >= opt->n_groups)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "set_hparams: group %d does not exist", group);
    spectra_status st = spectra_hparams_validate(hp);
    if (st != SPECTRA_OK) return fail(opt, st);
    const spectra_hparams *old = &opt->groups[group].hp;
    if (hp->algo != old->algo)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "set_hparams: group %d is %s; its algorithm cannot change", group,
                    spectra_algo_name(old->algo));
    /* State sizes depend on the rank; changing it would silently reallocate state. */
    if (hp->algo == SPECTRA_ALGO_SPECTRA && hp->rank_ratio != old->rank_ratio)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "set_hparams: rank_ratio is fixed once parameters are registered");
    if (hp->algo == SPECTRA_ALGO_DION && hp->rank_fraction != old->rank_fraction)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "set_hparams: rank_fraction is fixed once parameters are registered");
    if (hp->algo == SPECTRA_ALGO_SPECTRA && hp->oversample > opt->groups[group].oversample_cap)
        return FAIL(opt, SPECTRA_ERR_INVALID_ARG,
                    "set_hparams: oversample %d is larger than the %d the group's workspaces were sized for at registration",
                    hp->oversample, opt->groups[group].oversample_cap);
    opt->groups[group].hp = *hp;
    return SPECTRA_OK;
}

spectra_status spectra_optim_set_lr(spectra_optim *opt, int group, double lr) {
    if (!opt) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "set_lr: optimizer is NULL");
    if (group < 0 || group >= opt->n_groups) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "set_lr: group %d does not exist", group);
    if (!isfinite(lr) || lr < 0.0) return FAIL(opt, SPECTRA_ERR_INVALID_ARG, "set_lr: lr must be finite and >= 0 (got %g)", (double)lr);
    opt->groups[group].hp.lr = lr;
    return SPECTRA_OK;
}

void spectra_optim_reset_state(spectra_optim *opt) {
    if (!opt) return;
    for (int i = 0; i < opt->n_params; i++) reset_param(&opt->params[i], &opt->groups[opt->params[i].group].hp);
}

int spectra_optim_num_groups(const spectra_optim *opt) { return opt ? opt->n_groups : 0; }
int spectra_optim_num_params(const spectra_optim *opt) { return opt ? opt->n_params : 0; }

spectra_status spectra_optim_param_info(const spectra_optim *opt, int index, spectra_param_info *out) {
    if (!opt || !out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "param_info: NULL argument");
    if (index < 0 || index >= opt->n_params)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "param_info: index %d out of range (%d parameters)", index, opt->n_params);
    const optim_param *p = &opt->params[index];
    out->name = p->name;
    out->group = p->group;
    out->algo = opt->groups[p->group].hp.algo;
    out->rows = p->rows;
    out->cols = p->cols;
    out->rank = p->rank;
    out->step = p->step;
    out->state_bytes = (p->buf0_len + p->buf1_len) * sizeof(float);
    return SPECTRA_OK;
}

size_t spectra_optim_state_bytes(const spectra_optim *opt) {
    size_t total = 0;
    if (!opt) return 0;
    for (int i = 0; i < opt->n_params; i++) total += (opt->params[i].buf0_len + opt->params[i].buf1_len) * sizeof(float);
    return total;
}

spectra_status spectra_optim_get_state(const spectra_optim *opt, const char *param, const char *buffer,
                                       const float **data, size_t *rows, size_t *cols) {
    if (!opt || !param || !buffer || !data) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "get_state: NULL argument");
    int i = spectra_optim_find_param(opt, param);
    if (i < 0) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "get_state: no parameter named '%s'", param);
    const optim_param *p = &opt->params[i];
    spectra_algo algo = opt->groups[p->group].hp.algo;
    size_t b = p->rows < p->cols ? p->rows : p->cols;
    const float *d = NULL;
    size_t r = 0, c = 0;
    int found = 1;
    if (!strcmp(buffer, "momentum") && algo != SPECTRA_ALGO_ADAMW) d = p->buf0, r = p->rows, c = p->cols;
    else if (!strcmp(buffer, "exp_avg") && algo == SPECTRA_ALGO_ADAMW) d = p->buf0, r = p->rows, c = p->cols;
    else if (!strcmp(buffer, "exp_avg_sq") && algo == SPECTRA_ALGO_ADAMW) d = p->buf1, r = p->rows, c = p->cols;
    else if (!strcmp(buffer, "V") && algo == SPECTRA_ALGO_SPECTRA) d = p->cache_valid ? p->buf1 : NULL, r = p->cols, c = p->rank;
    else if (!strcmp(buffer, "Q") && algo == SPECTRA_ALGO_DION) d = p->buf1, r = b, c = p->rank;
    else found = 0;
    if (!found)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "get_state: parameter '%s' (%s) has no state buffer '%s'", param,
                                 spectra_algo_name(algo), buffer);
    *data = d;
    if (rows) *rows = r;
    if (cols) *cols = c;
    return SPECTRA_OK;
}

void spectra_transpose(const float *src, float *dst, size_t rows, size_t cols) {
    const size_t B = 32; /* tile so both the reads and the writes stay in cache lines */
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
    for (size_t i0 = 0; i0 < rows; i0 += B)
        for (size_t j0 = 0; j0 < cols; j0 += B) {
            size_t i1 = i0 + B < rows ? i0 + B : rows, j1 = j0 + B < cols ? j0 + B : cols;
            for (size_t i = i0; i < i1; i++)
                for (size_t j = j0; j < j1; j++) dst[j * rows + i] = src[i * cols + j];
        }
}

spectra_status spectra_optim_spike_diag(const spectra_optim *opt, int index, spectra_spike_diag *out) {
    if (!opt || !out) return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "spike_diag: NULL argument");
    if (index < 0 || index >= opt->n_params)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "spike_diag: index %d out of range", index);
    const optim_param *p = &opt->params[index];
    if (opt->groups[p->group].hp.algo != SPECTRA_ALGO_SPECTRA)
        return spectra_set_error(SPECTRA_ERR_INVALID_ARG, "spike_diag: '%s' is not a Spectra parameter", p->name);
    if (!p->cache_valid) return spectra_set_error(SPECTRA_ERR_STATE, "spike_diag: '%s' has not stepped yet", p->name);
    out->k = p->rank;
    out->s = p->spike_s;
    out->norm = sqrt(p->diag.norm_sq);
    out->spike_energy = p->diag.norm_sq > 0 ? p->diag.spike_sq / p->diag.norm_sq : 0.0;
    out->sigma_tail = p->diag.sigma_tail;
    out->rms = p->diag.rms;
    out->lr_eff = p->diag.lr_eff;
    out->bootstrapped = p->diag.bootstrapped;
    memcpy(out->phase_s, p->diag.phase_s, sizeof out->phase_s);
    return SPECTRA_OK;
}
