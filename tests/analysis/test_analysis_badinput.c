/* Bad input to the analysis functions gets a clear error and changes nothing: non-finite
 * matrices (which dgesdd would loop on forever or turn into NaN spectra), out-of-range
 * eps / q / histogram ranges (NaN reaching a cast to size_t), and a loader whose batch
 * geometry differs from the B x T given to spectra_mean_gradient (which overran its
 * buffers). Every failing call is checked to leave its outputs byte-for-byte as they were. */
#include "spectra/spectra.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { ROWS = 12, COLS = 8, R = 8 };

/* Sentinel fill: a failing call must not write any of these. */
static void fill_d(double *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 12345.0 + (double)i;
}
static int still_d(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != 12345.0 + (double)i) return 0;
    return 1;
}
static void fill_f(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 777.0f + (float)i;
}
static int still_f(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != 777.0f + (float)i) return 0;
    return 1;
}
static int msg_has(const char *s) { return strstr(spectra_last_error(), s) != NULL; }

/* One NaN / +Inf / -Inf at row 3, col 5 of a 12 x 8 matrix, through every entry point that
 * takes a matrix to an SVD. Before the check, +Inf with vectors hung inside dgesdd. */
static void test_nonfinite(void) {
    uint64_t seed = 5;
    float *X = test_rand_floats(&seed, ROWS * COLS), *Vm = malloc(ROWS * COLS * sizeof *Vm);
    for (size_t i = 0; i < ROWS * COLS; i++) Vm[i] = X[i] * X[i] + 0.01f;
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    const char *name[3] = {"NaN", "+Inf", "-Inf"};
    const size_t at = 3 * COLS + 5;
    double s[R], U[ROWS * R], V[COLS * R], al[R], sg[R], sn[R];
    float full[ROWS * COLS], tail[ROWS * COLS];
    spectra_tail_stats ts, ts0;
    for (int b = 0; b < 3; b++) {
        const float keep = X[at];
        X[at] = bad[b];
        fill_d(s, R), fill_d(U, ROWS * R), fill_d(V, COLS * R);
        spectra_status st = spectra_svd_exact(X, ROWS, COLS, s, U, V);
        CHECK_MSG(st == SPECTRA_ERR_NONFINITE, "%s, vectors: status %d (%s)", name[b], (int)st, spectra_last_error());
        CHECK_MSG(msg_has("X[3][5]") && msg_has(name[b]), "%s: message %s", name[b], spectra_last_error());
        CHECK(still_d(s, R) && still_d(U, ROWS * R) && still_d(V, COLS * R));
        st = spectra_svd_exact(X, ROWS, COLS, s, NULL, NULL);
        CHECK_MSG(st == SPECTRA_ERR_NONFINITE, "%s, values only: status %d", name[b], (int)st);
        CHECK(still_d(s, R));

        memset(&ts, 0xA5, sizeof ts), memcpy(&ts0, &ts, sizeof ts);
        fill_f(full, ROWS * COLS), fill_f(tail, ROWS * COLS);
        st = spectra_tail_suppression(X, Vm, ROWS, COLS, 2, 1e-8, full, tail, &ts);
        CHECK_MSG(st == SPECTRA_ERR_NONFINITE, "%s in M: status %d", name[b], (int)st);
        CHECK_MSG(msg_has("tail_suppression") && msg_has("M[3][5]"), "message %s", spectra_last_error());
        st = spectra_tail_suppression(Vm, X, ROWS, COLS, 2, 1e-8, full, tail, &ts);
        CHECK_MSG(st == SPECTRA_ERR_NONFINITE, "%s in V: status %d", name[b], (int)st);
        CHECK_MSG(msg_has("V[3][5]"), "message %s", spectra_last_error());
        CHECK(!memcmp(&ts, &ts0, sizeof ts) && still_f(full, ROWS * COLS) && still_f(tail, ROWS * COLS));

        fill_d(al, R), fill_d(sg, R), fill_d(sn, R);
        for (int bf = 0; bf < 2; bf++) {
            st = spectra_ns_alignment(X, ROWS, COLS, 5, bf, al, sg, sn);
            CHECK_MSG(st == SPECTRA_ERR_NONFINITE, "%s, ns_alignment bf16=%d: status %d", name[b], bf, (int)st);
            CHECK_MSG(msg_has("ns_alignment") && msg_has("G[3][5]"), "message %s", spectra_last_error());
        }
        CHECK(still_d(al, R) && still_d(sg, R) && still_d(sn, R));
        X[at] = keep;
    }
    /* The same matrix, finite again, still goes through. */
    CHECK_OK(spectra_svd_exact(X, ROWS, COLS, s, U, V));
    CHECK_OK(spectra_tail_suppression(X, Vm, ROWS, COLS, 2, 1e-8, NULL, NULL, &ts));
    CHECK_OK(spectra_ns_alignment(X, ROWS, COLS, 5, 0, al, NULL, NULL));
    free(X), free(Vm);
}

/* eps must be finite and >= 0: NaN or a negative eps made median_ratio Inf. */
static void test_eps(void) {
    uint64_t seed = 9;
    float *M = test_rand_floats(&seed, ROWS * COLS), *V = malloc(ROWS * COLS * sizeof *V);
    for (size_t i = 0; i < ROWS * COLS; i++) V[i] = M[i] * M[i] + 0.01f;
    const double bad[4] = {NAN, -1.0, -1e-12, INFINITY};
    spectra_tail_stats ts, ts0;
    float full[ROWS * COLS];
    for (int b = 0; b < 4; b++) {
        memset(&ts, 0x5A, sizeof ts), memcpy(&ts0, &ts, sizeof ts);
        fill_f(full, ROWS * COLS);
        spectra_status st = spectra_tail_suppression(M, V, ROWS, COLS, 2, bad[b], full, NULL, &ts);
        CHECK_MSG(st == SPECTRA_ERR_INVALID_ARG, "eps %g: status %d (median_ratio %g)", bad[b], (int)st,
                  ts.median_ratio);
        CHECK_MSG(msg_has("eps"), "eps %g: message %s", bad[b], spectra_last_error());
        CHECK(!memcmp(&ts, &ts0, sizeof ts) && still_f(full, ROWS * COLS));
    }
    /* eps = 0 with V > 0 everywhere is well defined: a finite ratio. */
    CHECK_OK(spectra_tail_suppression(M, V, ROWS, COLS, 2, 0.0, NULL, NULL, &ts));
    CHECK(isfinite(ts.median_ratio));
    free(M), free(V);
}

/* q outside [0, 1], NaN included, is an error (NaN result and a message), not the max. */
static void test_quantile(void) {
    const float x[5] = {5, 1, 4, 2, 3}; /* sorted: 1 2 3 4 5 */
    CHECK_NEAR(spectra_quantile(x, 5, 0.0), 1.0, 0);
    CHECK_NEAR(spectra_quantile(x, 5, 1.0), 5.0, 0);
    CHECK_NEAR(spectra_quantile(x, 5, 0.75), 4.0, 0);
    const double bad[4] = {NAN, -0.1, 1.5, INFINITY};
    for (int b = 0; b < 4; b++) {
        double v = spectra_quantile(x, 5, bad[b]);
        CHECK_MSG(isnan(v), "q = %g gave %g", bad[b], v);
        CHECK_MSG(msg_has("quantile") && msg_has("[0, 1]"), "q = %g: message %s", bad[b], spectra_last_error());
    }
    CHECK(isnan(spectra_quantile(x, 0, 0.5)) && msg_has("quantile"));
}

/* A range that is not finite and increasing, or whose bin width is not a positive finite
 * number, is rejected and density is left alone (lo = -Inf gave all zeros through UB). */
static void test_histogram(void) {
    const float x[4] = {1, 10, 100, 0.5f};
    double d[4];
    const double bad[][2] = {{-INFINITY, 2}, {0, INFINITY}, {NAN, 2}, {0, NAN}, {2, 0}, {1, 1}, {-1e308, 1e308}};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        fill_d(d, 4);
        spectra_status st = spectra_log10_histogram(x, 4, bad[b][0], bad[b][1], 4, d);
        CHECK_MSG(st == SPECTRA_ERR_INVALID_ARG, "[%g, %g): status %d", bad[b][0], bad[b][1], (int)st);
        CHECK_MSG(msg_has("log10_histogram") && msg_has("range"), "message %s", spectra_last_error());
        CHECK(still_d(d, 4));
    }
    /* A bin width that underflows to 0 (the smallest denormal range over 1000 bins). */
    double *big = malloc(1000 * sizeof *big);
    fill_d(big, 1000);
    CHECK(spectra_log10_histogram(x, 4, 0, 5e-324, 1000, big) == SPECTRA_ERR_INVALID_ARG);
    CHECK(still_d(big, 1000));
    free(big);
    /* A valid range: log10 x = 0, 1, 2, -0.30 over [-1, 3) in 4 bins of width 1: one each
     * in bins 0..3, so every density is 1 / (4 * 1). */
    CHECK_OK(spectra_log10_histogram(x, 4, -1, 3, 4, d));
    for (int b = 0; b < 4; b++) CHECK_NEAR(d[b], 0.25, 1e-12);
}

/* The model's gradients and the loader's position, to check a refused call left both. */
typedef struct mg_state {
    float *grads;
    spectra_loader_pos pos;
} mg_state;
static mg_state mg_save(spectra_model *m, spectra_loader *ld) {
    size_t np = spectra_model_num_params(m);
    mg_state s = {malloc(np * sizeof(float)), spectra_loader_tell(ld)};
    memcpy(s.grads, spectra_model_grads(m), np * sizeof(float));
    return s;
}
static int mg_same(const mg_state *s, spectra_model *m, spectra_loader *ld) {
    spectra_loader_pos p = spectra_loader_tell(ld);
    return p.epoch == s->pos.epoch && p.step == s->pos.step &&
           !memcmp(s->grads, spectra_model_grads(m), spectra_model_num_params(m) * sizeof(float));
}

/* spectra_mean_gradient with a B x T other than the loader's: the loader filled its own
 * 4 x 16 into a 1 x 16 buffer (heap overflow). Refused now, naming both geometries, with
 * the gradients and the loader position untouched; with the right geometry the mean loss
 * equals a forward pass on the batch a twin loader yields. */
static void test_mean_gradient_geometry(void) {
    enum { NTOK = 4000, LB = 4, LT = 16 };
    int32_t *ids = malloc(NTOK * sizeof *ids);
    for (int i = 0; i < NTOK; i++) ids[i] = (int32_t)((i * 37 + i / 7) % 128);
    CHECK_OK(spectra_shard_write("badinput_tr.bin", ids, NTOK, 128));
    free(ids);
    const char *paths[] = {"badinput_tr.bin"};
    spectra_loader_config lc = {LB, LT, 128, 1, 1, 0, 1};
    spectra_loader *ld = NULL, *twin = NULL;
    CHECK_OK(spectra_loader_open(paths, 1, &lc, &ld));
    CHECK_OK(spectra_loader_open(paths, 1, &lc, &twin));
    const spectra_loader_config *got = spectra_loader_get_config(ld);
    CHECK(got && got->batch_size == LB && got->seq_len == LT && got->vocab_size == 128);
    CHECK(spectra_loader_get_config(NULL) == NULL);
    spectra_model_config c;
    CHECK_OK(spectra_model_config_from_preset("tiny", &c)); /* vocab 128, max_seq_len 16 */
    spectra_model *m = NULL;
    CHECK_OK(spectra_model_create(&m, &c, 1));
    if (!ld || !twin || !m) return;
    spectra_grad_opts go = {1, NULL, NULL, 0};
    double ml = -1.0;
    /* Gradients that are not zero, so that a zero_grad before the refusal would show. */
    float *g = spectra_model_grads(m);
    for (size_t i = 0; i < spectra_model_num_params(m); i++) g[i] = 0.5f;
    const int bad[3][2] = {{1, LT}, {LB + 4, LT}, {LB, 8}};
    for (int b = 0; b < 3; b++) {
        mg_state s = mg_save(m, ld);
        spectra_status st = spectra_mean_gradient(m, ld, bad[b][0], bad[b][1], &go, &ml);
        CHECK_MSG(st == SPECTRA_ERR_INVALID_ARG, "B x T = %d x %d on a 4 x 16 loader: status %d", bad[b][0],
                  bad[b][1], (int)st);
        char want[64];
        snprintf(want, sizeof want, "%d x %d", bad[b][0], bad[b][1]);
        CHECK_MSG(msg_has(want) && msg_has("4 x 16"), "message %s", spectra_last_error());
        CHECK(mg_same(&s, m, ld) && ml == -1.0);
        free(s.grads);
    }
    /* A loader whose tokens may reach past the model's vocabulary (token_weights has the
     * model's vocab_size entries). */
    spectra_loader_config lc2 = lc;
    lc2.vocab_size = 256;
    spectra_loader *wide = NULL;
    CHECK_OK(spectra_loader_open(paths, 1, &lc2, &wide));
    if (wide) {
        mg_state s = mg_save(m, wide);
        CHECK(spectra_mean_gradient(m, wide, LB, LT, &go, &ml) == SPECTRA_ERR_INVALID_ARG);
        CHECK_MSG(msg_has("256") && msg_has("128"), "message %s", spectra_last_error());
        CHECK(mg_same(&s, m, wide));
        free(s.grads);
        spectra_loader_free(wide);
    }
    /* A NaN loss weight used to be found only by the forward pass, after the gradients
     * were zeroed and the loader had moved on. */
    {
        float w[128];
        for (int t = 0; t < 128; t++) w[t] = 1.0f;
        w[7] = NAN;
        spectra_grad_opts gw = go;
        gw.token_weights = w;
        mg_state s = mg_save(m, ld);
        CHECK(spectra_mean_gradient(m, ld, LB, LT, &gw, &ml) == SPECTRA_ERR_NONFINITE);
        CHECK_MSG(msg_has("token_weights[7]"), "message %s", spectra_last_error());
        CHECK(mg_same(&s, m, ld) && ml == -1.0);
        free(s.grads);
    }
    /* The matching geometry works, and its loss is the loss of the twin's first batch. */
    CHECK_OK(spectra_mean_gradient(m, ld, LB, LT, &go, &ml));
    int32_t in[LB * LT], tg[LB * LT];
    CHECK_OK(spectra_loader_next(twin, in, tg));
    spectra_model *m2 = NULL;
    CHECK_OK(spectra_model_create(&m2, &c, 1));
    float loss = 0.0f;
    if (m2) CHECK_OK(spectra_model_forward(m2, in, tg, NULL, LB, LT, &loss));
    CHECK_NEAR(ml, loss, 1e-6 * fabs(loss));
    spectra_model_destroy(m2);
    spectra_model_destroy(m);
    spectra_loader_free(ld);
    spectra_loader_free(twin);
    unlink("badinput_tr.bin");
}

int main(void) {
    /* A regression would hang inside LAPACK rather than fail: stop after a minute. */
    alarm(60);
    test_nonfinite();
    test_eps();
    test_quantile();
    test_histogram();
    test_mean_gradient_geometry();
    return test_finish("test_analysis_badinput");
}
