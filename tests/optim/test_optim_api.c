/* The optimizer API's contracts: state bytes, refusal of bad input with nothing changed,
 * state files (truncated, one flipped byte, mismatched names/shapes/algorithms refused
 * with the optimizer unchanged), and save → load → continue bit-identical to an
 * uninterrupted run, for every algorithm. */
#include "spectra/spectra.h"
#include "test_mats.h"
#include "test_util.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

#define M1 48
#define N1 80
#define M2 96
#define N2 32

typedef struct {
    float w1[M1 * N1], g1[M1 * N1], w2[M2 * N2], g2[M2 * N2], b[N2], gb[N2];
} model_t;

/* One matrix-optimizer group (hp) with two matrices plus an AdamW group with a vector. */
static spectra_optim *make_opt_hp(model_t *md, const spectra_hparams *hp, uint64_t seed) {
    spectra_optim *opt = NULL;
    if (spectra_optim_create(&opt, seed) != SPECTRA_OK) return NULL;
    spectra_hparams ha = spectra_hparams_default(SPECTRA_ALGO_ADAMW);
    int g0, g1;
    spectra_optim_add_group(opt, hp, &g0);
    spectra_optim_add_group(opt, &ha, &g1);
    spectra_optim_add_param(opt, g0, "w1", md->w1, md->g1, M1, N1);
    spectra_optim_add_param(opt, g0, "w2", md->w2, md->g2, M2, N2);
    spectra_optim_add_param(opt, g1, "bias", md->b, md->gb, 1, N2);
    return opt;
}

/* make_opt_hp with the algorithm's defaults (Spectra at rank ratio 0.05). */
static spectra_optim *make_opt(model_t *md, spectra_algo algo, uint64_t seed) {
    spectra_hparams hp = spectra_hparams_default(algo);
    if (algo == SPECTRA_ALGO_SPECTRA) hp.rank_ratio = 0.05f;
    return make_opt_hp(md, &hp, seed);
}

static void init_model(model_t *md, uint64_t seed) {
    spectra_rng rng;
    spectra_rng_seed(&rng, seed);
    tm_gauss_float(&rng, md->w1, M1 * N1, 0.02);
    tm_gauss_float(&rng, md->w2, M2 * N2, 0.02);
    tm_gauss_float(&rng, md->b, N2, 0.02);
}

static void fill_grads(model_t *md, int step) {
    spectra_rng rng;
    spectra_rng_seed(&rng, 1000 + (uint64_t)step);
    tm_gauss_float(&rng, md->g1, M1 * N1, 1.0);
    tm_gauss_float(&rng, md->g2, M2 * N2, 1.0);
    tm_gauss_float(&rng, md->gb, N2, 1.0);
    for (int i = 0; i < M1; i++) md->g1[i * N1 + 3] += 5.0f; /* a spike */
}

static void *snapshot(const spectra_optim *opt, size_t *len) {
    void *buf = NULL;
    spectra_optim_serialize(opt, &buf, len);
    return buf;
}

static int same_bytes(const void *a, size_t la, const void *b, size_t lb) { return la == lb && memcmp(a, b, la) == 0; }

static void test_state_bytes(void) {
    model_t *md = calloc(1, sizeof *md);
    init_model(md, 1);
    /* Spectra: 4(mn + nk); AdamW 8mn; Muon 4mn; Dion 4(mn + n r) (m >= n, so Q is n x r). */
    spectra_optim *opt = make_opt(md, SPECTRA_ALGO_SPECTRA, 1);
    spectra_param_info pi;
    spectra_optim_param_info(opt, 0, &pi);
    size_t k1 = pi.rank;
    CHECK(k1 == 2); /* round(0.05 * 48) = 2 */
    CHECK(pi.state_bytes == 4u * (M1 * N1 + N1 * k1));
    spectra_optim_param_info(opt, 1, &pi);
    CHECK(pi.rank == 2 && pi.state_bytes == 4u * (M2 * N2 + N2 * 2)); /* round(0.05*32)=2 */
    spectra_optim_param_info(opt, 2, &pi);
    CHECK(pi.state_bytes == 8u * N2);
    CHECK(spectra_optim_state_bytes(opt) == 4u * (M1 * N1 + N1 * 2) + 4u * (M2 * N2 + N2 * 2) + 8u * N2);
    spectra_optim_destroy(opt);
    opt = make_opt(md, SPECTRA_ALGO_MUON, 1);
    spectra_optim_param_info(opt, 0, &pi);
    CHECK(pi.state_bytes == 4u * M1 * N1);
    spectra_optim_destroy(opt);
    opt = make_opt(md, SPECTRA_ALGO_ADAMW, 1);
    spectra_optim_param_info(opt, 1, &pi);
    CHECK(pi.state_bytes == 8u * M2 * N2);
    spectra_optim_destroy(opt);
    opt = make_opt(md, SPECTRA_ALGO_DION, 1);
    spectra_optim_param_info(opt, 1, &pi); /* 96 x 32: r = round(0.25*32) = 8 */
    CHECK(pi.rank == 8 && pi.state_bytes == 4u * (M2 * N2 + N2 * 8));
    spectra_optim_destroy(opt);
    /* The paper's memory figure: k = 0.015 m gives a saving of 1/2 − k/(2m) vs AdamW. */
    float *w = calloc(4096 * 14336, sizeof(float));
    spectra_optim_create(&opt, 1);
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    int g;
    spectra_optim_add_group(opt, &hp, &g);
    CHECK_OK(spectra_optim_add_param(opt, g, "big", w, w + 1, 4096, 1024)); /* shape only matters */
    spectra_optim_param_info(opt, 0, &pi);
    CHECK(pi.rank == 15); /* round(0.015 * 1024) = 15 */
    double saving = 1.0 - (double)pi.state_bytes / (8.0 * 4096 * 1024);
    CHECK_NEAR(saving, 0.5 - 15.0 / (2.0 * 4096), 1e-12);
    spectra_optim_destroy(opt);
    free(w);
    free(md);
}

static void test_bad_input(void) {
    model_t *md = calloc(1, sizeof *md);
    init_model(md, 2);
    {
        /* A shape that passes the shape check but cannot be held: NOMEM, promptly (sizing the
         * QR workspace of its 16M-column panel used to loop k^2 / 24 times first). */
        spectra_optim *opt;
        spectra_optim_create(&opt, 1);
        spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
        int g;
        CHECK_OK(spectra_optim_add_group(opt, &hp, &g));
        CHECK(spectra_optim_add_param(opt, g, "huge", md->w1, md->g1, (size_t)1 << 30, (size_t)1 << 30) == SPECTRA_ERR_NOMEM);
        CHECK(spectra_optim_num_params(opt) == 0);
        spectra_optim_destroy(opt);
    }
    for (spectra_algo algo = SPECTRA_ALGO_SPECTRA; algo <= SPECTRA_ALGO_SGD; algo++) {
        spectra_optim *opt = make_opt(md, algo, 3);
        fill_grads(md, 0);
        CHECK_OK(spectra_optim_step(opt)); /* state is non-trivial before the bad step */
        fill_grads(md, 1);
        /* NaN, Inf, and finite values at or beyond 2^64, which overflowed the step's sums */
        const float bad_values[5] = {NAN, INFINITY, -INFINITY, 3e38f, -SPECTRA_GRAD_LIMIT};
        for (int which = 0; which < 5; which++) {
            for (int target = 0; target < 3; target++) {
                model_t *before = malloc(sizeof *before);
                memcpy(before, md, sizeof *md);
                size_t l0, l1;
                void *s0 = snapshot(opt, &l0);
                float *gp = target == 0 ? &md->g1[17 * N1 + 5] : target == 1 ? &md->g2[M2 * N2 - 1] : &md->gb[0];
                float saved = *gp;
                *gp = bad_values[which];
                spectra_status st = spectra_optim_step(opt);
                CHECK(st == SPECTRA_ERR_NONFINITE);
                const char *want = target == 0 ? "'w1'" : target == 1 ? "'w2'" : "'bias'";
                CHECK_MSG(strstr(spectra_optim_last_error(opt), want) != NULL, "message '%s' should name %s",
                          spectra_optim_last_error(opt), want);
                if (which >= 3)
                    CHECK_MSG(strstr(spectra_optim_last_error(opt), "too large") != NULL, "message '%s'",
                              spectra_optim_last_error(opt));
                *gp = saved;
                CHECK(memcmp(before, md, sizeof *md) == 0); /* parameters bit-identical */
                void *s1 = snapshot(opt, &l1);
                CHECK(same_bytes(s0, l0, s1, l1)); /* every state buffer bit-identical */
                free(s0);
                free(s1);
                free(before);
            }
        }
        /* Just below the limit, every gradient element at once: accepted, and no weight or
         * state value overflows over several steps (momentum accumulating). */
        for (size_t i = 0; i < M1 * N1; i++) md->g1[i] = (i % 3 ? 1.0f : -1.0f) * 1.8e19f;
        for (size_t i = 0; i < M2 * N2; i++) md->g2[i] = (i % 5 ? -1.0f : 1.0f) * 1.8e19f;
        for (size_t i = 0; i < N2; i++) md->gb[i] = 1.8e19f;
        int all_finite = 1;
        for (int s = 0; s < 4; s++) CHECK_OK(spectra_optim_step(opt));
        for (size_t i = 0; i < M1 * N1; i++) all_finite &= isfinite(md->w1[i]);
        for (size_t i = 0; i < M2 * N2; i++) all_finite &= isfinite(md->w2[i]);
        for (size_t i = 0; i < N2; i++) all_finite &= isfinite(md->b[i]);
        CHECK_MSG(all_finite, "%s: gradients of 1.8e19 left non-finite weights", spectra_algo_name(algo));
        init_model(md, 2);
        spectra_optim_destroy(opt);
    }
    /* Registration errors. */
    spectra_optim *opt;
    CHECK_OK(spectra_optim_create(&opt, 1));
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    int g, ga;
    CHECK_OK(spectra_optim_add_group(opt, &hp, &g));
    spectra_hparams ha = spectra_hparams_default(SPECTRA_ALGO_ADAMW);
    CHECK_OK(spectra_optim_add_group(opt, &ha, &ga));
    CHECK(spectra_optim_add_param(opt, g, "v", md->b, md->gb, 1, N2) == SPECTRA_ERR_SHAPE); /* a vector */
    CHECK(strstr(spectra_optim_last_error(opt), "AdamW") != NULL);
    CHECK(spectra_optim_add_param(opt, g, "v", md->b, md->gb, N2, 1) == SPECTRA_ERR_SHAPE);
    CHECK_OK(spectra_optim_add_param(opt, ga, "v", md->b, md->gb, N2, 1)); /* vectors are fine under AdamW */
    CHECK(spectra_optim_add_param(opt, g, "x", NULL, md->g1, M1, N1) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_add_param(opt, g, "x", md->w1, NULL, M1, N1) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_add_param(opt, g, "x", md->w1, md->w1, M1, N1) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_add_param(opt, g, "x", md->w1, md->g1, 0, N1) == SPECTRA_ERR_SHAPE);
    CHECK(spectra_optim_add_param(opt, g, "x", md->w1, md->g1, M1, 0) == SPECTRA_ERR_SHAPE);
    CHECK(spectra_optim_add_param(opt, g, NULL, md->w1, md->g1, M1, N1) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_add_param(opt, g, "", md->w1, md->g1, M1, N1) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_add_param(opt, 7, "x", md->w1, md->g1, M1, N1) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_add_param(opt, g, "x", md->w1, md->g1, (size_t)1 << 40, (size_t)1 << 40) == SPECTRA_ERR_SHAPE);
    CHECK_OK(spectra_optim_add_param(opt, g, "x", md->w1, md->g1, M1, N1));
    CHECK(spectra_optim_add_param(opt, g, "x", md->w2, md->g2, M2, N2) == SPECTRA_ERR_INVALID_ARG);
    CHECK(strstr(spectra_optim_last_error(opt), "duplicate") != NULL);
    CHECK(spectra_optim_num_params(opt) == 2);
    /* Hyperparameter validation. */
    spectra_hparams bad = hp;
    bad.rank_ratio = 0.0f;
    CHECK(spectra_optim_add_group(opt, &bad, NULL) == SPECTRA_ERR_INVALID_ARG);
    bad = hp;
    bad.momentum = 1.0f;
    CHECK(spectra_optim_add_group(opt, &bad, NULL) == SPECTRA_ERR_INVALID_ARG);
    bad = hp;
    bad.power_iters = 0;
    CHECK(spectra_optim_add_group(opt, &bad, NULL) == SPECTRA_ERR_INVALID_ARG);
    bad = hp;
    bad.lr = NAN;
    CHECK(spectra_optim_add_group(opt, &bad, NULL) == SPECTRA_ERR_INVALID_ARG);
    bad = ha;
    bad.beta2 = 1.5f;
    CHECK(spectra_optim_add_group(opt, &bad, NULL) == SPECTRA_ERR_INVALID_ARG);
    bad = hp;
    bad.algo = SPECTRA_ALGO_MUON;
    CHECK(spectra_optim_set_hparams(opt, g, &bad) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_set_lr(opt, g, -1.0f) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_num_groups(opt) == 2);
    spectra_algo a;
    CHECK(spectra_algo_from_name("adamw", &a) == SPECTRA_OK && a == SPECTRA_ALGO_ADAMW);
    CHECK(spectra_algo_from_name("adam", &a) == SPECTRA_ERR_INVALID_ARG);
    const float *d;
    CHECK(spectra_optim_get_state(opt, "x", "exp_avg", &d, NULL, NULL) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_get_state(opt, "nope", "momentum", &d, NULL, NULL) == SPECTRA_ERR_INVALID_ARG);
    CHECK_OK(spectra_optim_get_state(opt, "x", "V", &d, NULL, NULL));
    CHECK(d == NULL); /* no subspace before the first step */
    spectra_optim_destroy(opt);
    CHECK(spectra_optim_create(NULL, 1) == SPECTRA_ERR_INVALID_ARG);
    CHECK(spectra_optim_step(NULL) == SPECTRA_ERR_INVALID_ARG);
    free(md);
}

static void run_steps(spectra_optim *opt, model_t *md, int from, int to) {
    for (int s = from; s < to; s++) {
        fill_grads(md, s);
        CHECK_OK(spectra_optim_step(opt));
    }
}

static void test_save_load(void) {
    const char *path = "test_optim_state.bin";
    for (spectra_algo algo = SPECTRA_ALGO_SPECTRA; algo <= SPECTRA_ALGO_SGD; algo++) {
        /* Uninterrupted: 12 steps. */
        model_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
        init_model(a, 9);
        spectra_optim *oa = make_opt(a, algo, 11);
        run_steps(oa, a, 0, 12);
        /* Interrupted: 6 steps, save, new optimizer (same seed), load, 6 more. */
        init_model(b, 9);
        spectra_optim *ob = make_opt(b, algo, 11);
        run_steps(ob, b, 0, 6);
        CHECK_OK(spectra_optim_save(ob, path));
        model_t *saved_model = malloc(sizeof *saved_model);
        memcpy(saved_model, b, sizeof *b);
        spectra_optim_destroy(ob);
        memset(b, 0, sizeof *b);
        memcpy(b->w1, saved_model->w1, sizeof b->w1);
        memcpy(b->w2, saved_model->w2, sizeof b->w2);
        memcpy(b->b, saved_model->b, sizeof b->b);
        ob = make_opt(b, algo, 999); /* a different seed: the file's RNG state must win */
        CHECK_OK(spectra_optim_load(ob, path));
        run_steps(ob, b, 6, 12);
        CHECK_MSG(memcmp(a->w1, b->w1, sizeof a->w1) == 0 && memcmp(a->w2, b->w2, sizeof a->w2) == 0 &&
                      memcmp(a->b, b->b, sizeof a->b) == 0,
                  "%s: resumed run differs from the uninterrupted one", spectra_algo_name(algo));
        size_t la, lb;
        void *sa = snapshot(oa, &la), *sb = snapshot(ob, &lb);
        CHECK(same_bytes(sa, la, sb, lb));
        free(sa);
        free(sb);
        /* Spectra's cache must survive too: after reset_state the run would re-bootstrap. */
        spectra_optim_destroy(oa);
        spectra_optim_destroy(ob);
        free(a);
        free(b);
        free(saved_model);
    }

    /* Corrupt files: truncated at many lengths, every single flipped byte, mismatches. */
    model_t *md = calloc(1, sizeof *md);
    init_model(md, 4);
    spectra_optim *opt = make_opt(md, SPECTRA_ALGO_SPECTRA, 4);
    run_steps(opt, md, 0, 3);
    CHECK_OK(spectra_optim_save(opt, path));
    size_t flen = 0;
    void *file = test_read_file(path, &flen);
    CHECK(file != NULL);
    run_steps(opt, md, 3, 4); /* the live state now differs from the file */
    size_t l0;
    void *s0 = snapshot(opt, &l0);
    int refused_all = 1;
    for (size_t cut = 0; cut < flen; cut += (cut < 200 ? 1 : 997)) {
        if (spectra_optim_deserialize(opt, file, cut) == SPECTRA_OK) refused_all = 0;
    }
    CHECK_MSG(refused_all, "a truncated state file was accepted");
    FILE *tf = fopen(path, "wb");
    fwrite(file, 1, flen / 2, tf);
    fclose(tf);
    CHECK(spectra_optim_load(opt, path) == SPECTRA_ERR_FORMAT);
    CHECK(strstr(spectra_optim_last_error(opt), path) != NULL);
    unsigned char *flip = malloc(flen);
    int flips_refused = 1;
    for (size_t pos = 0; pos < flen; pos += (pos < 400 ? 1 : 61)) {
        memcpy(flip, file, flen);
        flip[pos] ^= 0x10;
        if (spectra_optim_deserialize(opt, flip, flen) == SPECTRA_OK) flips_refused = 0;
    }
    CHECK_MSG(flips_refused, "a state file with a flipped byte was accepted");
    size_t l1;
    void *s1 = snapshot(opt, &l1);
    CHECK(same_bytes(s0, l0, s1, l1)); /* nothing changed through all those refusals */
    free(s1);
    CHECK_OK(spectra_optim_deserialize(opt, file, flen)); /* the intact file still loads */

    /* Mismatches: a different name, shape, or algorithm, each named in the message. */
    spectra_optim *o2;
    spectra_optim_create(&o2, 4);
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA), ha = spectra_hparams_default(SPECTRA_ALGO_ADAMW);
    hp.rank_ratio = 0.05f;
    int g0, g1;
    spectra_optim_add_group(o2, &hp, &g0);
    spectra_optim_add_group(o2, &ha, &g1);
    spectra_optim_add_param(o2, g0, "w1", md->w1, md->g1, M1, N1);
    spectra_optim_add_param(o2, g0, "w2_renamed", md->w2, md->g2, M2, N2);
    spectra_optim_add_param(o2, g1, "bias", md->b, md->gb, 1, N2);
    CHECK(spectra_optim_deserialize(o2, file, flen) == SPECTRA_ERR_MISMATCH);
    CHECK(strstr(spectra_optim_last_error(o2), "w2_renamed") != NULL);
    spectra_optim_destroy(o2);
    spectra_optim_create(&o2, 4);
    spectra_optim_add_group(o2, &hp, &g0);
    spectra_optim_add_group(o2, &ha, &g1);
    spectra_optim_add_param(o2, g0, "w1", md->w1, md->g1, M1, N1);
    spectra_optim_add_param(o2, g0, "w2", md->w2, md->g2, N2, M2); /* transposed shape */
    spectra_optim_add_param(o2, g1, "bias", md->b, md->gb, 1, N2);
    CHECK(spectra_optim_deserialize(o2, file, flen) == SPECTRA_ERR_MISMATCH);
    CHECK(strstr(spectra_optim_last_error(o2), "'w2'") != NULL);
    spectra_optim_destroy(o2);
    spectra_optim *o3 = make_opt(md, SPECTRA_ALGO_MUON, 4);
    CHECK(spectra_optim_deserialize(o3, file, flen) == SPECTRA_ERR_MISMATCH);
    CHECK(strstr(spectra_optim_last_error(o3), "muon") != NULL);
    spectra_optim_destroy(o3);
    CHECK(spectra_optim_load(opt, "/nonexistent/state.bin") == SPECTRA_ERR_IO);
    unlink(path);
    free(flip);
    free(file);
    free(s0);
    spectra_optim_destroy(opt);
    free(md);
}

static void test_reset_and_zero(void) {
    /* An all-zero gradient on a fresh Spectra state gives s = 0 and no update (no NaN). */
    model_t *md = calloc(1, sizeof *md);
    init_model(md, 5);
    model_t *before = malloc(sizeof *before);
    memcpy(before, md, sizeof *md);
    spectra_optim *opt = make_opt(md, SPECTRA_ALGO_SPECTRA, 5);
    CHECK_OK(spectra_optim_step(opt)); /* grads are zero */
    CHECK(memcmp(before->w1, md->w1, sizeof md->w1) == 0);
    const float *V;
    CHECK_OK(spectra_optim_get_state(opt, "w1", "V", &V, NULL, NULL));
    int finite = 1;
    for (size_t i = 0; i < N1 * 2; i++) finite &= isfinite(V[i]);
    CHECK(finite);
    /* Zero again through the power-iteration path: still no NaN, cache kept. */
    CHECK_OK(spectra_optim_step(opt));
    CHECK(memcmp(before->w1, md->w1, sizeof md->w1) == 0);
    for (size_t i = 0; i < N1 * 2; i++) finite &= isfinite(V[i]);
    CHECK(finite);
    fill_grads(md, 0);
    CHECK_OK(spectra_optim_step(opt));
    spectra_spike_diag d;
    CHECK_OK(spectra_optim_spike_diag(opt, 0, &d));
    CHECK(!d.bootstrapped);
    spectra_optim_reset_state(opt);
    CHECK_OK(spectra_optim_get_state(opt, "w1", "V", &V, NULL, NULL));
    CHECK(V == NULL);
    CHECK_OK(spectra_optim_step(opt));
    CHECK_OK(spectra_optim_spike_diag(opt, 0, &d));
    CHECK(d.bootstrapped); /* reset empties the cache */
    spectra_optim_destroy(opt);
    free(before);
    free(md);
}

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The per-phase times of spectra_spike_diag are disjoint pieces of the step: each >= 0, their
 * sum within the step's wall time measured outside (independent clock), and most of it. The
 * bootstrap step reports its randomized SVD as the projection and no QR/back/normalize. */
static void test_phase_times(void) {
    const size_t m = 192, n = 320;
    float *w = malloc(m * n * sizeof *w), *g = malloc(m * n * sizeof *g);
    spectra_rng rng;
    spectra_rng_seed(&rng, 17);
    tm_gauss_float(&rng, w, m * n, 0.02);
    spectra_optim *opt = NULL;
    CHECK_OK(spectra_optim_create(&opt, 3));
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    hp.rank_ratio = 0.05f;
    hp.power_iters = 2;
    int gi;
    CHECK_OK(spectra_optim_add_group(opt, &hp, &gi));
    CHECK_OK(spectra_optim_add_param(opt, gi, "w", w, g, m, n));
    for (int step = 0; step < 3; step++) {
        tm_gauss_float(&rng, g, m * n, 1.0);
        double t0 = mono_now();
        CHECK_OK(spectra_optim_step(opt));
        double wall = mono_now() - t0;
        spectra_spike_diag d;
        CHECK_OK(spectra_optim_spike_diag(opt, 0, &d));
        double sum = 0.0;
        int nonneg = 1;
        for (int j = 0; j < SPECTRA_STEP_PHASES; j++) {
            nonneg &= d.phase_s[j] >= 0.0;
            sum += d.phase_s[j];
        }
        CHECK(nonneg);
        CHECK(sum <= wall + 1e-6);
        CHECK(sum >= 0.25 * wall);
        CHECK(d.phase_s[SPECTRA_PHASE_MOMENTUM] > 0.0 && d.phase_s[SPECTRA_PHASE_PROJECT] > 0.0 &&
              d.phase_s[SPECTRA_PHASE_UPDATE] > 0.0);
        if (step == 0) {
            CHECK(d.bootstrapped);
            CHECK(d.phase_s[SPECTRA_PHASE_QR] == 0.0 && d.phase_s[SPECTRA_PHASE_BACK] == 0.0 &&
                  d.phase_s[SPECTRA_PHASE_NORMALIZE] == 0.0);
        } else {
            CHECK(!d.bootstrapped);
            CHECK(d.phase_s[SPECTRA_PHASE_QR] > 0.0 && d.phase_s[SPECTRA_PHASE_BACK] > 0.0);
        }
    }
    spectra_optim_destroy(opt);
    free(w);
    free(g);
}

/* A Spectra optimizer over md with the given oversampling and rank ratio. */
static spectra_optim *make_spectra(model_t *md, int oversample, float rank_ratio) {
    spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
    hp.oversample = oversample;
    hp.rank_ratio = rank_ratio;
    return make_opt_hp(md, &hp, 5);
}

/* Loading obeys the rules of set_hparams: the workspaces were sized at registration for the
 * optimizer's rank and oversampling. A file with a larger oversampling used to load, and the
 * next bootstrap wrote its larger sketch past the workspace. Integer fields out of int's
 * range are refused (their cast to int was undefined). Each refusal leaves the state as it was. */
static void test_load_rules(void) {
    const char *path = "test_optim_rules.bin";
    model_t *md = calloc(1, sizeof *md);
    init_model(md, 6);
    spectra_optim *big = make_spectra(md, 40, 0.05f);
    CHECK_OK(spectra_optim_save(big, path));
    spectra_optim_destroy(big);

    spectra_optim *small = make_spectra(md, 0, 0.05f);
    size_t l0, l1;
    void *s0 = snapshot(small, &l0);
    CHECK(spectra_optim_load(small, path) == SPECTRA_ERR_MISMATCH);
    CHECK_MSG(strstr(spectra_optim_last_error(small), "oversample 40") != NULL, "got '%s'", spectra_optim_last_error(small));
    void *s1 = snapshot(small, &l1);
    CHECK(same_bytes(s0, l0, s1, l1));
    free(s1);
    CHECK_OK(spectra_optim_step(small)); /* still usable, with its own sketch size */
    spectra_optim_destroy(small);

    /* A smaller oversampling than the optimizer's fits its workspace and loads. */
    spectra_optim *smaller = make_spectra(md, 0, 0.05f);
    CHECK_OK(spectra_optim_save(smaller, path));
    spectra_optim_destroy(smaller);
    spectra_optim *larger = make_spectra(md, 40, 0.05f);
    CHECK_OK(spectra_optim_load(larger, path));
    spectra_hparams got;
    CHECK_OK(spectra_optim_get_hparams(larger, 0, &got));
    CHECK(got.oversample == 0);
    CHECK_OK(spectra_optim_step(larger));
    /* and back: its workspaces are still sized for 40 (it refused this before 2026-11-30,
     * found by fuzz_state: a state saved with the original oversampling did not load back) */
    const char *path40 = "test_optim_rules_40.bin";
    big = make_spectra(md, 40, 0.05f);
    CHECK_OK(spectra_optim_save(big, path40));
    spectra_optim_destroy(big);
    CHECK_OK(spectra_optim_load(larger, path40));
    CHECK_OK(spectra_optim_get_hparams(larger, 0, &got));
    CHECK(got.oversample == 40);
    CHECK_OK(spectra_optim_step(larger));
    got.oversample = 41;
    CHECK(spectra_optim_set_hparams(larger, 0, &got) == SPECTRA_ERR_INVALID_ARG);
    got.oversample = 40;
    CHECK_OK(spectra_optim_set_hparams(larger, 0, &got));
    spectra_optim_destroy(larger);

    /* A parameter registered while the oversampling is lowered is sized for the lower value:
     * the group's ceiling drops with it. */
    {
        static float wa[16 * 24], ga[16 * 24], wb[64 * 96], gb[64 * 96];
        spectra_optim *o = NULL;
        spectra_hparams hp = spectra_hparams_default(SPECTRA_ALGO_SPECTRA);
        hp.oversample = 40;
        int grp;
        CHECK_OK(spectra_optim_create(&o, 3));
        CHECK_OK(spectra_optim_add_group(o, &hp, &grp));
        CHECK_OK(spectra_optim_add_param(o, grp, "a", wa, ga, 16, 24));
        hp.oversample = 2;
        CHECK_OK(spectra_optim_set_hparams(o, grp, &hp));
        CHECK_OK(spectra_optim_add_param(o, grp, "b", wb, gb, 64, 96));
        hp.oversample = 3;
        CHECK(spectra_optim_set_hparams(o, grp, &hp) == SPECTRA_ERR_INVALID_ARG);
        hp.oversample = 2;
        CHECK_OK(spectra_optim_set_hparams(o, grp, &hp));
        spectra_optim_destroy(o);
    }

    /* The same ranks from another rank ratio: the group's ratio would have changed silently. */
    spectra_optim *other = make_spectra(md, 0, 0.0501f);
    CHECK(spectra_optim_load(other, path) == SPECTRA_ERR_MISMATCH);
    CHECK_MSG(strstr(spectra_optim_last_error(other), "rank ratio") != NULL, "got '%s'", spectra_optim_last_error(other));
    spectra_optim_destroy(other);

    /* power_iters stored as 1e300 (header 28 bytes, then group 0: algo u32 and 14 f64, the
     * 9th being power_iters), with the CRC recomputed: refused as invalid, naming the field. */
    size_t flen = 0;
    unsigned char *file = test_read_file(path, &flen);
    CHECK(file != NULL && flen > 100);
    if (!file) return;
    double huge = 1e300;
    memcpy(file + 28 + 4 + 8 * 8, &huge, 8);
    uint32_t crc = spectra_test_crc32(file, flen - 4);
    memcpy(file + flen - 4, &crc, 4);
    spectra_optim *o = make_spectra(md, 0, 0.05f);
    CHECK(spectra_optim_deserialize(o, file, flen) == SPECTRA_ERR_FORMAT);
    CHECK_MSG(strstr(spectra_optim_last_error(o), "power_iters") != NULL, "got '%s'", spectra_optim_last_error(o));
    spectra_optim_destroy(o);
    free(file);
    free(s0);
    free(md);
    unlink(path);
}

int main(void) {
    test_load_rules();
    test_phase_times();
    test_state_bytes();
    test_bad_input();
    test_save_load();
    test_reset_and_zero();
    return test_finish("test_optim_api");
}
