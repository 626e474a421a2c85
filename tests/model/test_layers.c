/* Layer kernels against independent oracles. For every layer the test has its own
 * double-precision forward (written from the math, not from layers.c); the fp32 forward
 * must match it, and the fp32 backward must match central finite differences of the
 * scalar J = sum(R * forward(x)) taken on the double forward (step 1e-6: truncation
 * error ~1e-12, rounding ~1e-10, both far below the fp32 errors being tested). */
#include "core/rng.h"
#include "model/layers.h"
#include "spectra/spectra.h"
#include "test_util.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

#define FD_H 1e-6

static spectra_rng rng;

static void fill(double *xd, float *xf, size_t n, double scale, double offset) {
    for (size_t i = 0; i < n; i++) {
        float v = (float)(offset + scale * spectra_rng_normal(&rng));
        xf[i] = v;
        xd[i] = v;
    }
}

static double dot_d(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

typedef double (*objective)(void);

/* Compares analytic[i] with the central difference of J in x[i]. fp32 backward errors
 * are ~1e-6 relative for these O(1) inputs; 1e-4 absolute + 1e-3 relative leaves a wide
 * margin while any real bug (a wrong term, index or sign) gives O(1) errors. */
static void fd_check(const char *what, double *x, size_t n, const float *analytic, objective J) {
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++) {
        double save = x[i];
        x[i] = save + FD_H;
        double jp = J();
        x[i] = save - FD_H;
        double jm = J();
        x[i] = save;
        double fd = (jp - jm) / (2 * FD_H);
        double err = fabs(fd - analytic[i]) / (1e-4 + 1e-3 * fabs(fd));
        if (err > worst) {
            worst = err;
            worst_i = i;
        }
    }
    CHECK_MSG(worst <= 1.0, "%s: gradient[%zu] = %.8g, finite difference disagrees (ratio %.3g)",
              what, worst_i, (double)analytic[worst_i], worst);
}

static void check_close(const char *what, const float *got, const double *want, size_t n,
                        double tol) {
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (e > worst) worst = e, wi = i;
    }
    CHECK_MSG(worst <= tol, "%s: [%zu] = %.8g, reference %.8g", what, wi, (double)got[wi],
              want[wi]);
}

/* ---------------- embedding ---------------- */
enum { EN = 6, EV = 5, ED = 7 };
static int32_t e_tok[EN] = {3, 0, 3, 4, 1, 3}; /* repeats exercise accumulation */
static double e_emb[EV * ED], e_R[EN * ED];
static double emb_J(void) {
    double s = 0;
    for (int i = 0; i < EN; i++) s += dot_d(&e_emb[e_tok[i] * ED], &e_R[i * ED], ED);
    return s;
}
static void test_embedding(void) {
    float emb[EV * ED], R[EN * ED], out[EN * ED], demb[EV * ED];
    fill(e_emb, emb, EV * ED, 1, 0);
    fill(e_R, R, EN * ED, 1, 0);
    spectra_embedding_forward(out, e_tok, emb, EN, ED);
    for (int i = 0; i < EN; i++)
        for (int j = 0; j < ED; j++) CHECK(out[i * ED + j] == emb[e_tok[i] * ED + j]);
    memset(demb, 0, sizeof demb);
    spectra_embedding_backward(demb, R, e_tok, EN, ED);
    fd_check("embedding d_emb", e_emb, EV * ED, demb, emb_J);
}

/* ---------------- RMSNorm ---------------- */
enum { RN = 4, RD = 12 };
static const double R_EPS = 1e-5;
static double r_x[RN * RD], r_g[RD], r_R[RN * RD], r_y[RN * RD];
static void rms_ref(void) {
    for (int i = 0; i < RN; i++) {
        double ss = dot_d(&r_x[i * RD], &r_x[i * RD], RD) / RD;
        double rs = 1.0 / sqrt(ss + R_EPS);
        for (int j = 0; j < RD; j++) r_y[i * RD + j] = r_x[i * RD + j] * rs * r_g[j];
    }
}
static double rms_J(void) {
    rms_ref();
    return dot_d(r_y, r_R, RN * RD);
}
static void test_rmsnorm(void) {
    float x[RN * RD], g[RD], R[RN * RD], y[RN * RD], rstd[RN], dx[RN * RD], dg[RD];
    fill(r_x, x, RN * RD, 1, 0);
    x[RD] *= 1e-3f; /* one tiny-norm row so eps matters a little */
    r_x[RD] = x[RD];
    fill(r_g, g, RD, 0.3, 1);
    fill(r_R, R, RN * RD, 1, 0);
    spectra_rmsnorm_forward(y, rstd, x, g, RN, RD, (float)R_EPS);
    rms_ref();
    check_close("rmsnorm forward", y, r_y, RN * RD, 1e-5);
    /* backward accumulates: start from 0.5 / 0.25 and subtract afterwards */
    for (int i = 0; i < RN * RD; i++) dx[i] = 0.5f;
    for (int j = 0; j < RD; j++) dg[j] = 0.25f;
    spectra_rmsnorm_backward(dx, dg, R, x, g, rstd, RN, RD);
    for (int i = 0; i < RN * RD; i++) dx[i] -= 0.5f;
    for (int j = 0; j < RD; j++) dg[j] -= 0.25f;
    fd_check("rmsnorm dx", r_x, RN * RD, dx, rms_J);
    fd_check("rmsnorm dg", r_g, RD, dg, rms_J);
}

/* ---------------- linear ---------------- */
enum { LN = 3, LI = 5, LO = 4 };
static double l_x[LN * LI], l_W[LO * LI], l_R[LN * LO];
static double lin_J(void) {
    double s = 0;
    for (int i = 0; i < LN; i++)
        for (int o = 0; o < LO; o++) s += l_R[i * LO + o] * dot_d(&l_x[i * LI], &l_W[o * LI], LI);
    return s;
}
static void test_linear(void) {
    float x[LN * LI], W[LO * LI], R[LN * LO], y[LN * LO], dx[LN * LI], dW[LO * LI];
    fill(l_x, x, LN * LI, 1, 0);
    fill(l_W, W, LO * LI, 1, 0);
    fill(l_R, R, LN * LO, 1, 0);
    spectra_linear_forward(y, x, W, LN, LI, LO, 0);
    double yr[LN * LO];
    for (int i = 0; i < LN; i++)
        for (int o = 0; o < LO; o++) yr[i * LO + o] = dot_d(&l_x[i * LI], &l_W[o * LI], LI);
    check_close("linear forward", y, yr, LN * LO, 1e-5);
    for (int i = 0; i < LN * LO; i++) y[i] = 1.0f;
    spectra_linear_forward(y, x, W, LN, LI, LO, 1);
    for (int i = 0; i < LN * LO; i++) yr[i] += 1.0;
    check_close("linear forward accumulate", y, yr, LN * LO, 1e-5);
    for (int i = 0; i < LN * LI; i++) dx[i] = 2.0f;
    for (int i = 0; i < LO * LI; i++) dW[i] = 3.0f;
    spectra_linear_backward(dx, dW, R, x, W, LN, LI, LO, 1);
    for (int i = 0; i < LN * LI; i++) dx[i] -= 2.0f;
    for (int i = 0; i < LO * LI; i++) dW[i] -= 3.0f;
    fd_check("linear dx", l_x, LN * LI, dx, lin_J);
    fd_check("linear dW", l_W, LO * LI, dW, lin_J);
}

/* ---------------- RoPE ---------------- */
enum { PB = 2, PT = 5, PH = 2, PHD = 8, PS = PH * PHD + 3 };
static const double P_THETA = 10000.0;
static double p_x[PB * PT * PS], p_R[PB * PT * PS], p_y[PB * PT * PS];
static void rope_ref(void) {
    memcpy(p_y, p_x, sizeof p_y);
    for (int r = 0; r < PB * PT; r++) {
        int t = r % PT;
        for (int h = 0; h < PH; h++)
            for (int i = 0; i < PHD / 2; i++) {
                double ang = t * pow(P_THETA, -2.0 * i / PHD);
                double a = p_x[r * PS + h * PHD + i], b = p_x[r * PS + h * PHD + i + PHD / 2];
                p_y[r * PS + h * PHD + i] = a * cos(ang) - b * sin(ang);
                p_y[r * PS + h * PHD + i + PHD / 2] = b * cos(ang) + a * sin(ang);
            }
    }
}
static double rope_J(void) {
    rope_ref();
    return dot_d(p_y, p_R, PB * PT * PS);
}
static void test_rope(void) {
    float x[PB * PT * PS], R[PB * PT * PS], cs[PT * PHD / 2], sn[PT * PHD / 2];
    fill(p_x, x, PB * PT * PS, 1, 0);
    fill(p_R, R, PB * PT * PS, 1, 0);
    spectra_rope_tables(cs, sn, PT, PHD, (float)P_THETA);
    spectra_rope_forward(x, cs, sn, PB, PT, PH, PHD, PS);
    rope_ref();
    check_close("rope forward (padding columns untouched too)", x, p_y, PB * PT * PS, 1e-6);
    /* The model relies on q.k after RoPE depending only on the position difference. */
    float q[PHD], k[PHD], tq[4 * (PHD / 2)], ts[4 * (PHD / 2)];
    spectra_rope_tables(tq, ts, 4, PHD, (float)P_THETA);
    float qa[2 * PHD], ka[2 * PHD];
    for (int i = 0; i < PHD; i++) q[i] = (float)spectra_rng_normal(&rng), k[i] = (float)spectra_rng_normal(&rng);
    for (int i = 0; i < PHD; i++) qa[i] = qa[PHD + i] = q[i], ka[i] = ka[PHD + i] = k[i];
    /* rows: (t=0, t=1) for k and (t=2, t=3) for q via a T=4 layout */
    float buf[4 * PHD];
    memcpy(buf, ka, sizeof ka);
    memcpy(buf + 2 * PHD, qa, sizeof qa);
    spectra_rope_forward(buf, tq, ts, 1, 4, 1, PHD, PHD);
    double d1 = 0, d2 = 0;
    for (int i = 0; i < PHD; i++) d1 += buf[2 * PHD + i] * buf[i], d2 += buf[3 * PHD + i] * buf[PHD + i];
    CHECK_NEAR(d1, d2, 1e-5 * (1 + fabs(d1)));
    /* backward */
    float dx[PB * PT * PS];
    memcpy(dx, R, sizeof R);
    spectra_rope_backward(dx, cs, sn, PB, PT, PH, PHD, PS);
    fd_check("rope dx", p_x, PB * PT * PS, dx, rope_J);
}

/* ---------------- attention ---------------- */
static int a_B, a_T, a_Hq, a_Hkv, a_hd;
static double *a_qkv, *a_R, *a_out, *a_lse;
static void attn_ref(void) {
    int C = (a_Hq + 2 * a_Hkv) * a_hd, g = a_Hq / a_Hkv, T = a_T, hd = a_hd;
    double *s = malloc((size_t)T * sizeof *s);
    for (int b = 0; b < a_B; b++)
        for (int h = 0; h < a_Hq; h++)
            for (int t = 0; t < T; t++) {
                double mx = -1e300, sum = 0;
                const double *q = &a_qkv[(size_t)(b * T + t) * C + h * hd];
                for (int u = 0; u <= t; u++) {
                    s[u] = dot_d(q, &a_qkv[(size_t)(b * T + u) * C + (a_Hq + h / g) * hd], hd) / sqrt(hd);
                    if (s[u] > mx) mx = s[u];
                }
                for (int u = 0; u <= t; u++) sum += (s[u] = exp(s[u] - mx));
                a_lse[((size_t)b * a_Hq + h) * T + t] = mx + log(sum);
                double *o = &a_out[(size_t)(b * T + t) * a_Hq * hd + h * hd];
                for (int j = 0; j < hd; j++) {
                    double acc = 0;
                    for (int u = 0; u <= t; u++)
                        acc += s[u] / sum * a_qkv[(size_t)(b * T + u) * C + (a_Hq + a_Hkv + h / g) * hd + j];
                    o[j] = acc;
                }
            }
    free(s);
}
static double attn_J(void) {
    attn_ref();
    return dot_d(a_out, a_R, (size_t)a_B * a_T * a_Hq * a_hd);
}
/* Large shapes cross the kernels' OpenMP threshold; there only `sampled` coordinates
 * (spread over the whole array) are finite-differenced to keep the test fast. */
static void test_attention(int B, int T, int Hq, int Hkv, int hd, size_t sampled) {
    a_B = B, a_T = T, a_Hq = Hq, a_Hkv = Hkv, a_hd = hd;
    int C = (Hq + 2 * Hkv) * hd;
    size_t nqkv = (size_t)B * T * C, nout = (size_t)B * T * Hq * hd;
    a_qkv = malloc(nqkv * sizeof(double));
    a_R = malloc(nout * sizeof(double));
    a_out = malloc(nout * sizeof(double));
    a_lse = malloc((size_t)B * Hq * T * sizeof(double));
    float *qkv = malloc(nqkv * sizeof(float)), *dqkv = malloc(nqkv * sizeof(float));
    float *R = malloc(nout * sizeof(float)), *out = malloc(nout * sizeof(float));
    float *lse = malloc((size_t)B * Hq * T * sizeof(float));
    int nt = omp_get_max_threads();
    float *scratch = malloc((size_t)nt * spectra_attention_scratch_floats(T, hd) * sizeof(float));
    fill(a_qkv, qkv, nqkv, 1.5, 0);
    fill(a_R, R, nout, 1, 0);
    spectra_attention_forward(out, lse, qkv, scratch, nt, B, T, Hq, Hkv, hd);
    attn_ref();
    check_close("attention log-normalizers", lse, a_lse, (size_t)B * Hq * T, 1e-5);
    char what[96];
    snprintf(what, sizeof what, "attention forward B=%d T=%d Hq=%d Hkv=%d", B, T, Hq, Hkv);
    check_close(what, out, a_out, nout, 1e-5);
    for (size_t i = 0; i < nqkv; i++) dqkv[i] = 123.0f; /* must be overwritten */
    spectra_attention_backward(dqkv, R, qkv, lse, scratch, nt, B, T, Hq, Hkv, hd);
    snprintf(what, sizeof what, "attention dqkv B=%d T=%d Hq=%d Hkv=%d", B, T, Hq, Hkv);
    if (!sampled || sampled >= nqkv) {
        fd_check(what, a_qkv, nqkv, dqkv, attn_J);
    } else {
        size_t stride = nqkv / sampled;
        for (size_t i = 0; i < nqkv; i += stride) {
            size_t k = i + (spectra_rng_next(&rng) % stride);
            if (k < nqkv) fd_check(what, a_qkv + k, 1, dqkv + k, attn_J);
        }
    }
    free(a_qkv), free(a_R), free(a_out), free(qkv), free(dqkv), free(R), free(out), free(lse), free(a_lse);
    free(scratch);
}

/* ---------------- SwiGLU ---------------- */
enum { SN = 3, SF = 5 };
static double s_gu[SN * 2 * SF], s_R[SN * SF];
static double swiglu_J(void) {
    double s = 0;
    for (int i = 0; i < SN; i++)
        for (int j = 0; j < SF; j++) {
            double g = s_gu[i * 2 * SF + j], u = s_gu[i * 2 * SF + SF + j];
            s += s_R[i * SF + j] * g / (1 + exp(-g)) * u;
        }
    return s;
}
static void test_swiglu(void) {
    float gu[SN * 2 * SF], R[SN * SF], h[SN * SF], dgu[SN * 2 * SF];
    fill(s_gu, gu, SN * 2 * SF, 2, 0);
    fill(s_R, R, SN * SF, 1, 0);
    spectra_swiglu_forward(h, gu, SN, SF);
    double hr[SN * SF];
    for (int i = 0; i < SN; i++)
        for (int j = 0; j < SF; j++) {
            double g = s_gu[i * 2 * SF + j], u = s_gu[i * 2 * SF + SF + j];
            hr[i * SF + j] = g / (1 + exp(-g)) * u;
        }
    check_close("swiglu forward", h, hr, SN * SF, 1e-6);
    spectra_swiglu_backward(dgu, R, gu, SN, SF);
    fd_check("swiglu dgu", s_gu, SN * 2 * SF, dgu, swiglu_J);
    /* in place (as the model uses it) gives the same result */
    float inplace[SN * 2 * SF];
    memcpy(inplace, gu, sizeof gu);
    spectra_swiglu_backward(inplace, R, inplace, SN, SF);
    CHECK(memcmp(inplace, dgu, sizeof dgu) == 0);
}

/* ---------------- cross-entropy ---------------- */
enum { CN = 4, CV = 9 };
static int32_t c_tgt[CN] = {2, 8, 0, 2};
static double c_x[CN * CV], c_w[CN];
static const double C_SCALE = 1.0 / CN;
static int c_use_w;
static double ce_J(void) {
    double s = 0;
    for (int i = 0; i < CN; i++) {
        double mx = -1e300, sum = 0;
        for (int j = 0; j < CV; j++) mx = c_x[i * CV + j] > mx ? c_x[i * CV + j] : mx;
        for (int j = 0; j < CV; j++) sum += exp(c_x[i * CV + j] - mx);
        double nll = log(sum) + mx - c_x[i * CV + c_tgt[i]];
        s += (c_use_w ? c_w[i] : 1.0) * nll;
    }
    return s * C_SCALE;
}
static void test_crossentropy(int use_w) {
    c_use_w = use_w;
    float x[CN * CV], w[CN], losses[CN];
    fill(c_x, x, CN * CV, 3, 0);
    x[5] = c_x[5] = 40.0f; /* a large logit: the max subtraction must keep exp finite */
    for (int i = 0; i < CN; i++) w[i] = (float)(c_w[i] = 0.25 + i);
    double total = spectra_crossentropy_forward(x, losses, c_tgt, use_w ? w : NULL, CN, CV);
    CHECK_NEAR(total * C_SCALE, ce_J(), 1e-5 * (1 + ce_J()));
    for (int i = 0; i < CN; i++) {
        double rowsum = 0;
        for (int j = 0; j < CV; j++) rowsum += x[i * CV + j];
        CHECK_NEAR(rowsum, 1.0, 1e-6);
        CHECK_NEAR(losses[i], -log(x[i * CV + c_tgt[i]]), 1e-5);
    }
    spectra_crossentropy_backward(x, c_tgt, use_w ? w : NULL, (float)C_SCALE, CN, CV);
    fd_check(use_w ? "cross-entropy dlogits (weighted)" : "cross-entropy dlogits", c_x, CN * CV, x,
             ce_J);
}

int main(void) {
    spectra_rng_seed(&rng, 20240601);
    test_embedding();
    test_rmsnorm();
    test_linear();
    test_rope();
    test_attention(2, 6, 4, 2, 4, 0); /* grouped KV */
    test_attention(2, 6, 3, 3, 4, 0); /* plain multi-head */
    test_attention(2, 5, 4, 1, 6, 0); /* multi-query */
    test_attention(3, 24, 4, 2, 8, 150);  /* parallel path */
    test_attention(2, 21, 2, 1, 32, 150); /* full-width tiles, T not a multiple of 4 */
    test_attention(1, 37, 2, 2, 24, 150); /* a full tile plus a partial one */
    test_swiglu();
    test_crossentropy(0);
    test_crossentropy(1);
    return test_finish("test_model_layers");
}
