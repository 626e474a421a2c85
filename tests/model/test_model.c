/* Whole-model tests. The oracle is a second, deliberately plain implementation of the
 * same architecture in double precision (ref_forward below: per-position scalar loops,
 * separate q/k/v/gate/up matrices, RoPE angles computed on the fly), written from the
 * math rather than from src/model. The library's fp32 forward must match its loss and
 * logits, and the library's fp32 gradient must match central finite differences of the
 * double loss at sampled coordinates of every tensor. */
#include "core/rng.h"
#include "spectra/spectra.h"
#include "test_util.h"

#include <stdint.h>
#include <string.h>

static spectra_rng rng;

/* ---------------- double-precision reference model ---------------- */
typedef struct ref_model {
    spectra_model_config c;
    const spectra_model *m; /* only for tensor offsets by name */
    double *p;              /* all parameters, same offsets as the library */
} ref_model;

static const double *W(const ref_model *r, const char *fmt, int l) {
    char name[64];
    snprintf(name, sizeof name, fmt, l);
    const spectra_tensor_info *t = spectra_model_find_tensor(r->m, name);
    if (!t) {
        fprintf(stderr, "reference: no tensor %s\n", name);
        exit(2);
    }
    return r->p + t->offset;
}

/* y[o] = sum_i M[o, i] x[i] for an `out x in` matrix */
static void matvec(double *y, const double *M, const double *x, int out, int in) {
    for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < in; i++) s += M[(size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

static void rmsnorm(double *y, const double *x, const double *g, int d, double eps) {
    double ss = 0;
    for (int j = 0; j < d; j++) ss += x[j] * x[j];
    double r = 1.0 / sqrt(ss / d + eps);
    for (int j = 0; j < d; j++) y[j] = x[j] * r * g[j];
}

/* rotate_half RoPE of one head vector at position t */
static void rope(double *v, int hd, int t, double theta) {
    for (int i = 0; i < hd / 2; i++) {
        double ang = t * pow(theta, -2.0 * i / hd);
        double a = v[i], b = v[i + hd / 2];
        v[i] = a * cos(ang) - b * sin(ang);
        v[i + hd / 2] = a * sin(ang) + b * cos(ang);
    }
}

/* Returns mean over positions of w_i * nll_i; logits_out (optional) gets B*T*V logits. */
static double ref_forward(const ref_model *r, const int32_t *in, const int32_t *tg,
                          const float *wts, int B, int T, double *logits_out) {
    const spectra_model_config *c = &r->c;
    const int d = c->d_model, V = c->vocab_size, ff = c->d_ff, Hq = c->n_heads, Hkv = c->n_kv_heads;
    const int hd = c->head_dim ? c->head_dim : d / Hq;
    const double eps = c->norm_eps;
    double *x = calloc((size_t)T * d, sizeof(double)), *xn = calloc((size_t)d, sizeof(double));
    double *q = calloc((size_t)T * Hq * hd, sizeof(double));
    double *k = calloc((size_t)T * Hkv * hd, sizeof(double));
    double *v = calloc((size_t)T * Hkv * hd, sizeof(double));
    double *o = calloc((size_t)Hq * hd, sizeof(double)), *tmp = calloc((size_t)d, sizeof(double));
    double *gt = calloc((size_t)ff, sizeof(double)), *up = calloc((size_t)ff, sizeof(double));
    double *sc = calloc((size_t)T, sizeof(double)), *lg = calloc((size_t)V, sizeof(double));
    const double *head = c->tied_embeddings ? W(r, "tok_emb", 0) : W(r, "lm_head", 0);
    double total = 0;
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++)
            memcpy(&x[(size_t)t * d], W(r, "tok_emb", 0) + (size_t)in[b * T + t] * d,
                   (size_t)d * sizeof(double));
        for (int l = 0; l < c->n_layers; l++) {
            for (int t = 0; t < T; t++) {
                rmsnorm(xn, &x[(size_t)t * d], W(r, "layers.%d.attn_norm", l), d, eps);
                matvec(&q[(size_t)t * Hq * hd], W(r, "layers.%d.attn.wq", l), xn, Hq * hd, d);
                matvec(&k[(size_t)t * Hkv * hd], W(r, "layers.%d.attn.wk", l), xn, Hkv * hd, d);
                matvec(&v[(size_t)t * Hkv * hd], W(r, "layers.%d.attn.wv", l), xn, Hkv * hd, d);
                for (int h = 0; h < Hq; h++) rope(&q[((size_t)t * Hq + h) * hd], hd, t, c->rope_theta);
                for (int h = 0; h < Hkv; h++) rope(&k[((size_t)t * Hkv + h) * hd], hd, t, c->rope_theta);
            }
            for (int t = 0; t < T; t++) {
                for (int h = 0; h < Hq; h++) {
                    int g = h / (Hq / Hkv);
                    double mx = -1e300, sum = 0;
                    for (int u = 0; u <= t; u++) {
                        double s = 0;
                        for (int j = 0; j < hd; j++)
                            s += q[((size_t)t * Hq + h) * hd + j] * k[((size_t)u * Hkv + g) * hd + j];
                        sc[u] = s / sqrt((double)hd);
                        if (sc[u] > mx) mx = sc[u];
                    }
                    for (int u = 0; u <= t; u++) sum += (sc[u] = exp(sc[u] - mx));
                    for (int j = 0; j < hd; j++) {
                        double acc = 0;
                        for (int u = 0; u <= t; u++) acc += sc[u] / sum * v[((size_t)u * Hkv + g) * hd + j];
                        o[h * hd + j] = acc;
                    }
                }
                matvec(tmp, W(r, "layers.%d.attn.wo", l), o, d, Hq * hd);
                for (int j = 0; j < d; j++) x[(size_t)t * d + j] += tmp[j];
            }
            for (int t = 0; t < T; t++) {
                rmsnorm(xn, &x[(size_t)t * d], W(r, "layers.%d.mlp_norm", l), d, eps);
                matvec(gt, W(r, "layers.%d.mlp.w_gate", l), xn, ff, d);
                matvec(up, W(r, "layers.%d.mlp.w_up", l), xn, ff, d);
                for (int j = 0; j < ff; j++) gt[j] = gt[j] / (1 + exp(-gt[j])) * up[j];
                matvec(tmp, W(r, "layers.%d.mlp.w_down", l), gt, d, ff);
                for (int j = 0; j < d; j++) x[(size_t)t * d + j] += tmp[j];
            }
        }
        for (int t = 0; t < T; t++) {
            rmsnorm(xn, &x[(size_t)t * d], W(r, "final_norm", 0), d, eps);
            matvec(lg, head, xn, V, d);
            if (logits_out) memcpy(&logits_out[((size_t)b * T + t) * V], lg, (size_t)V * sizeof(double));
            if (!tg) continue;
            double mx = -1e300, sum = 0;
            for (int j = 0; j < V; j++) mx = lg[j] > mx ? lg[j] : mx;
            for (int j = 0; j < V; j++) sum += exp(lg[j] - mx);
            double nll = log(sum) + mx - lg[tg[b * T + t]];
            total += (wts ? wts[b * T + t] : 1.0) * nll;
        }
    }
    free(x), free(xn), free(q), free(k), free(v), free(o), free(tmp), free(gt), free(up), free(sc);
    free(lg);
    return total / ((double)B * T);
}

static ref_model ref_from(const spectra_model *m) {
    ref_model r;
    r.c = *spectra_model_get_config(m);
    r.m = m;
    size_t n = spectra_model_num_params(m);
    r.p = malloc(n * sizeof(double));
    const float *p = spectra_model_params((spectra_model *)m);
    for (size_t i = 0; i < n; i++) r.p[i] = p[i];
    return r;
}

static void random_tokens(int32_t *x, size_t n, int V) {
    for (size_t i = 0; i < n; i++) x[i] = (int32_t)(spectra_rng_next(&rng) % (uint64_t)V);
}

/* ---------------- gradient check of a whole model ---------------- */
/* fp32 gradients carry ~1e-6 relative rounding error (sums of a few hundred products);
 * the double central difference with step 1e-5 is exact to ~1e-9 relative. Per tensor we
 * require |g - fd| <= 1e-3 * max|fd| + 1e-3 * |fd| at every sampled coordinate, and a
 * relative L2 error below 1e-3 over the sample. A wrong term gives O(1) errors. */
static void grad_check(const char *label, spectra_model_config cfg, int B, int T, int use_weights,
                       int samples_per_tensor) {
    spectra_model *m = NULL;
    CHECK_OK(spectra_model_create(&m, &cfg, 1234));
    if (!m) return;
    /* Larger-than-init weights so every path carries signal (at std 0.02 the attention
     * is nearly uniform and the MLP nearly linear). */
    float *p = spectra_model_params(m);
    for (size_t i = 0; i < spectra_model_num_tensors(m); i++) {
        const spectra_tensor_info *t = spectra_model_tensor(m, i);
        for (size_t j = 0; j < t->rows * t->cols; j++)
            p[t->offset + j] = t->kind == SPECTRA_TENSOR_NORM ? (float)(1.0 + 0.3 * spectra_rng_normal(&rng))
                                                               : (float)(0.25 * spectra_rng_normal(&rng));
    }
    size_t N = (size_t)B * T;
    int32_t *in = malloc(N * sizeof *in), *tg = malloc(N * sizeof *tg);
    float *w = malloc(N * sizeof *w);
    random_tokens(in, N, cfg.vocab_size);
    random_tokens(tg, N, cfg.vocab_size);
    for (size_t i = 0; i < N; i++) w[i] = (float)(0.2 + 2.0 * spectra_rng_uniform(&rng));
    const float *wts = use_weights ? w : NULL;

    float loss = 0;
    spectra_model_zero_grad(m);
    CHECK_OK(spectra_model_forward(m, in, tg, wts, B, T, &loss));
    CHECK_OK(spectra_model_backward(m));
    ref_model r = ref_from(m);
    double ref_loss = ref_forward(&r, in, tg, wts, B, T, NULL);
    CHECK_MSG(fabs(loss - ref_loss) <= 1e-5 * (1 + fabs(ref_loss)), "%s: loss %.8g vs reference %.8g",
              label, (double)loss, ref_loss);

    const float *g = spectra_model_grads(m);
    const double h = 1e-5;
    double *fd = malloc((size_t)samples_per_tensor * sizeof *fd);
    size_t *idx = malloc((size_t)samples_per_tensor * sizeof *idx);
    double worst_l2 = 0;
    for (size_t ti = 0; ti < spectra_model_num_tensors(m); ti++) {
        const spectra_tensor_info *t = spectra_model_tensor(m, ti);
        size_t n = t->rows * t->cols;
        int ns = (size_t)samples_per_tensor < n ? samples_per_tensor : (int)n;
        for (int s = 0; s < ns; s++) {
            if ((size_t)ns == n) idx[s] = (size_t)s;
            else if (t->kind == SPECTRA_TENSOR_EMBEDDING && s % 3 != 0)
                /* mostly rows that occur in the input, where the lookup gradient lives */
                idx[s] = (size_t)in[spectra_rng_next(&rng) % N] * t->cols + spectra_rng_next(&rng) % t->cols;
            else idx[s] = spectra_rng_next(&rng) % n;
        }
        double fmax = 0, num = 0, den = 0;
        for (int s = 0; s < ns; s++) {
            double *x = &r.p[t->offset + idx[s]], save = *x;
            *x = save + h;
            double lp = ref_forward(&r, in, tg, wts, B, T, NULL);
            *x = save - h;
            double lm = ref_forward(&r, in, tg, wts, B, T, NULL);
            *x = save;
            fd[s] = (lp - lm) / (2 * h);
            if (fabs(fd[s]) > fmax) fmax = fabs(fd[s]);
        }
        double worst = 0;
        int ws = 0;
        for (int s = 0; s < ns; s++) {
            double a = g[t->offset + idx[s]], e = fabs(a - fd[s]);
            num += e * e;
            den += fd[s] * fd[s];
            double ratio = e / (1e-3 * fmax + 1e-3 * fabs(fd[s]) + 1e-12);
            if (ratio > worst) worst = ratio, ws = s;
        }
        CHECK_MSG(worst <= 1.0, "%s: %s[%zu]: grad %.8g vs finite difference %.8g", label, t->name,
                  idx[ws], (double)g[t->offset + idx[ws]], fd[ws]);
        if (den > 0 && sqrt(num / den) > worst_l2) worst_l2 = sqrt(num / den);
        CHECK_MSG(den > 0 && sqrt(num / den) <= 1e-3, "%s: %s: relative L2 error %.3g", label,
                  t->name, den > 0 ? sqrt(num / den) : -1.0);
    }
    printf("%s: loss %.6f (reference %.6f), worst per-tensor relative L2 gradient error %.2e\n",
           label, (double)loss, ref_loss, worst_l2);
    free(fd), free(idx), free(r.p), free(in), free(tg), free(w);
    spectra_model_destroy(m);
}

/* ---------------- other properties ---------------- */
static void test_table(void) {
    spectra_model_config c;
    CHECK_OK(spectra_model_config_from_preset("tiny", &c));
    spectra_model *m = NULL;
    CHECK_OK(spectra_model_create(&m, &c, 1));
    if (!m) return;
    /* tensors tile the array in order, and the count matches the closed form */
    const int d = c.d_model, hd = c.head_dim ? c.head_dim : d / c.n_heads;
    size_t per_layer = 2 * (size_t)d + (size_t)d * hd * (2 * c.n_heads + 2 * c.n_kv_heads) +
                       3 * (size_t)d * c.d_ff;
    size_t expect = (size_t)c.vocab_size * d * (c.tied_embeddings ? 1 : 2) + d + c.n_layers * per_layer;
    CHECK(spectra_model_num_params(m) == expect);
    CHECK(spectra_model_config_num_params(&c) == expect);
    size_t off = 0, hidden = 0;
    for (size_t i = 0; i < spectra_model_num_tensors(m); i++) {
        const spectra_tensor_info *t = spectra_model_tensor(m, i);
        CHECK(t->offset == off);
        off += t->rows * t->cols;
        hidden += t->is_hidden_matrix;
        CHECK(t->is_hidden_matrix == (strstr(t->name, ".attn.") || strstr(t->name, ".mlp.")));
    }
    CHECK(off == spectra_model_num_params(m));
    CHECK(hidden == 7u * (size_t)c.n_layers);
    CHECK(spectra_model_tensor(m, spectra_model_num_tensors(m)) == NULL);
    const spectra_tensor_info *t = spectra_model_find_tensor(m, "layers.1.attn.wk");
    CHECK(t && t->rows == (size_t)c.n_kv_heads * hd && t->cols == (size_t)d && t->layer == 1);
    t = spectra_model_find_tensor(m, "layers.0.mlp.w_down");
    CHECK(t && t->rows == (size_t)d && t->cols == (size_t)c.d_ff && t->kind == SPECTRA_TENSOR_HIDDEN);
    t = spectra_model_find_tensor(m, "lm_head");
    CHECK(t && t->kind == SPECTRA_TENSOR_HEAD && !t->is_hidden_matrix);
    t = spectra_model_find_tensor(m, "final_norm");
    CHECK(t && t->kind == SPECTRA_TENSOR_NORM && t->rows == 1);
    CHECK(spectra_model_find_tensor(m, "layers.2.attn.wq") == NULL);
    /* init statistics: norms 1, weights ~ N(0, 0.02), residual projections scaled */
    const float *p = spectra_model_params(m);
    t = spectra_model_find_tensor(m, "layers.0.attn_norm");
    for (size_t j = 0; j < t->cols; j++) CHECK(p[t->offset + j] == 1.0f);
    double s2 = 0;
    t = spectra_model_find_tensor(m, "tok_emb");
    for (size_t j = 0; j < t->rows * t->cols; j++) s2 += (double)p[t->offset + j] * p[t->offset + j];
    CHECK_NEAR(sqrt(s2 / (double)(t->rows * t->cols)), 0.02, 0.001);
    s2 = 0;
    t = spectra_model_find_tensor(m, "layers.1.mlp.w_down");
    for (size_t j = 0; j < t->rows * t->cols; j++) s2 += (double)p[t->offset + j] * p[t->offset + j];
    CHECK_NEAR(sqrt(s2 / (double)(t->rows * t->cols)), 0.02 / sqrt(2.0 * c.n_layers), 0.0006);
    /* same seed, same weights; other seed, other weights */
    spectra_model *m2 = NULL, *m3 = NULL;
    CHECK_OK(spectra_model_create(&m2, &c, 1));
    CHECK_OK(spectra_model_create(&m3, &c, 2));
    CHECK(memcmp(spectra_model_params(m2), p, spectra_model_num_params(m) * sizeof(float)) == 0);
    CHECK(memcmp(spectra_model_params(m3), p, spectra_model_num_params(m) * sizeof(float)) != 0);
    spectra_model_destroy(m2);
    spectra_model_destroy(m3);

    c.tied_embeddings = 1;
    CHECK_OK(spectra_model_create(&m2, &c, 1));
    CHECK(m2 && spectra_model_find_tensor(m2, "lm_head") == NULL);
    CHECK(m2 && spectra_model_num_tensors(m2) + 1 == spectra_model_num_tensors(m));
    CHECK(m2 && spectra_model_num_params(m2) + (size_t)c.vocab_size * d == spectra_model_num_params(m));
    spectra_model_destroy(m2);
    spectra_model_destroy(m);

    /* preset shapes (no allocation): published totals of the real models where the
     * architecture matches (Llama-3-8B exactly; Qwen3-0.6B minus its 28 x 2 x 128 q/k
     * norm gains, which this model does not have). */
    CHECK_OK(spectra_model_config_from_preset("llama3-8b", &c));
    CHECK(spectra_model_config_num_params(&c) == 8030261248u);
    CHECK_OK(spectra_model_config_from_preset("qwen3-0.6b", &c));
    CHECK(spectra_model_config_num_params(&c) == 596049920u - 28u * 2u * 128u);
    CHECK(c.head_dim == 128 && c.d_model == 1024 && c.n_heads == 16 && c.n_kv_heads == 8);
    CHECK_OK(spectra_model_config_from_preset("llama-124m", &c));
    CHECK(spectra_model_config_num_params(&c) == 123551232u);
    for (const char *const *n = spectra_model_preset_names(); *n; n++)
        CHECK_OK(spectra_model_config_from_preset(*n, &c));
}

static void test_errors(void) {
    spectra_model_config c, base;
    spectra_model *m = (spectra_model *)&c; /* must be set to NULL on failure */
    CHECK_OK(spectra_model_config_from_preset("tiny", &base));
    CHECK(spectra_model_config_from_preset("huge", &c) == SPECTRA_ERR_INVALID_ARG);
    CHECK(strstr(spectra_last_error(), "huge") != NULL);
#define BAD(field, value, needle)                                                              \
    do {                                                                                       \
        c = base;                                                                              \
        c.field = value;                                                                       \
        m = (spectra_model *)&c;                                                               \
        CHECK(spectra_model_create(&m, &c, 1) == SPECTRA_ERR_INVALID_ARG);                     \
        CHECK(m == NULL);                                                                      \
        CHECK_MSG(strstr(spectra_last_error(), needle) != NULL, "message '%s' lacks '%s'",     \
                  spectra_last_error(), needle);                                               \
    } while (0)
    BAD(n_kv_heads, 3, "n_kv_heads");  /* 3 does not divide 4 */
    BAD(n_heads, 5, "n_heads");        /* 5 heads: kv 2 does not divide, nor 32 */
    BAD(d_model, 30, "d_model");       /* 4 heads do not divide 30 */
    BAD(d_model, 0, "d_model");
    BAD(vocab_size, 0, "vocab_size");
    BAD(n_layers, 0, "n_layers");
    BAD(d_ff, -1, "d_ff");
    BAD(max_seq_len, 0, "max_seq_len");
    BAD(head_dim, 7, "head_dim");      /* odd: RoPE needs pairs */
    BAD(rope_theta, 0.0f, "rope_theta");
    BAD(norm_eps, 0.0f, "norm_eps");
    BAD(n_layers, SPECTRA_MODEL_LAYERS_MAX + 1, "n_layers");
#undef BAD
    /* RoPE tables: 1 M positions at head_dim 128 fit, one more does not. */
    c = base;
    c.head_dim = 128;
    c.max_seq_len = (int)(2 * SPECTRA_MODEL_ROPE_MAX / 128);
    CHECK_OK(spectra_model_config_validate(&c));
    c.max_seq_len++;
    CHECK(spectra_model_config_validate(&c) == SPECTRA_ERR_INVALID_ARG && strstr(spectra_last_error(), "RoPE"));
    /* Every dimension within its bound, the count 2^24 times the cap (with 2^16 layers, before
     * they were bounded, it went beyond size_t, wrapped to 2^25, passed, and the model wrote
     * past its allocation). The count is formed here in long double. */
    c = base;
    c.vocab_size = 1;
    c.d_model = 1 << 24;
    c.n_layers = SPECTRA_MODEL_LAYERS_MAX;
    c.n_heads = c.n_kv_heads = 1;
    c.head_dim = 2;
    c.d_ff = 5592402;
    c.tied_embeddings = 1;
    c.max_seq_len = 8;
    /* tok_emb + final_norm, and per layer two norms, wq and wo (2 x d), wk and wv (2 x d), three d_ff x d */
    long double want = (long double)c.d_model * (2 + (long double)c.n_layers * (2 + 4 + 4 + 3.0L * c.d_ff));
    CHECK(want > (long double)SPECTRA_MODEL_PARAMS_MAX);
    m = (spectra_model *)&c;
    CHECK(spectra_model_config_validate(&c) == SPECTRA_ERR_INVALID_ARG && strstr(spectra_last_error(), "parameters"));
    CHECK(spectra_model_create(&m, &c, 1) == SPECTRA_ERR_INVALID_ARG && m == NULL);
    CHECK(spectra_model_config_num_params(&c) == 0);
    /* The largest preset stays within the cap. */
    CHECK_OK(spectra_model_config_from_preset("llama3-8b", &c));
    CHECK_OK(spectra_model_config_validate(&c));
    c = base;
    c.d_model = 30;
    c.head_dim = 8; /* explicit head_dim lifts the divisibility requirement */
    CHECK_OK(spectra_model_create(&m, &c, 1));
    spectra_model_destroy(m);

    CHECK_OK(spectra_model_create(&m, &base, 1));
    if (!m) return;
    int32_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, tg[8] = {2, 3, 4, 5, 6, 7, 8, 9};
    float loss;
    CHECK(spectra_model_backward(m) == SPECTRA_ERR_STATE); /* no forward yet */
    in[3] = base.vocab_size;
    CHECK(spectra_model_forward(m, in, tg, NULL, 2, 4, &loss) == SPECTRA_ERR_INVALID_ARG);
    CHECK(strstr(spectra_last_error(), "inputs[3]") != NULL);
    in[3] = -1;
    CHECK(spectra_model_forward(m, in, tg, NULL, 2, 4, &loss) == SPECTRA_ERR_INVALID_ARG);
    in[3] = 4;
    tg[7] = base.vocab_size + 5;
    CHECK(spectra_model_forward(m, in, tg, NULL, 2, 4, &loss) == SPECTRA_ERR_INVALID_ARG);
    CHECK(strstr(spectra_last_error(), "targets[7]") != NULL);
    tg[7] = 9;
    CHECK(spectra_model_forward(m, in, tg, NULL, 1, base.max_seq_len + 1, &loss) == SPECTRA_ERR_SHAPE);
    CHECK(spectra_model_forward(m, in, tg, NULL, 0, 4, &loss) == SPECTRA_ERR_SHAPE);
    CHECK(spectra_model_forward(m, NULL, tg, NULL, 2, 4, &loss) == SPECTRA_ERR_INVALID_ARG);
    float w[8] = {1, 1, 1, 1, 1, 1, 1, NAN};
    CHECK(spectra_model_forward(m, in, tg, w, 2, 4, &loss) == SPECTRA_ERR_NONFINITE);
    /* one backward per forward; a logits-only forward allows none */
    CHECK_OK(spectra_model_forward(m, in, tg, NULL, 2, 4, &loss));
    CHECK_OK(spectra_model_backward(m));
    CHECK(spectra_model_backward(m) == SPECTRA_ERR_STATE);
    CHECK_OK(spectra_model_forward(m, in, NULL, NULL, 2, 4, NULL));
    CHECK(spectra_model_backward(m) == SPECTRA_ERR_STATE);
    CHECK(spectra_model_last_logits(m, 2) == NULL);
    spectra_model_destroy(m);
}

/* Logits of a targets-free forward, per-token losses and loss weights, accumulation. */
static void test_outputs(void) {
    spectra_model_config c;
    CHECK_OK(spectra_model_config_from_preset("tiny", &c));
    spectra_model *m = NULL;
    CHECK_OK(spectra_model_create(&m, &c, 7));
    if (!m) return;
    enum { B = 3, T = 10 };
    int32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, c.vocab_size);
    random_tokens(tg, B * T, c.vocab_size);
    CHECK(spectra_model_logits(m) == NULL);
    CHECK_OK(spectra_model_forward(m, in, NULL, NULL, B, T, NULL));
    CHECK(spectra_model_token_losses(m) == NULL);
    ref_model r = ref_from(m);
    double *lg = malloc((size_t)B * T * c.vocab_size * sizeof *lg);
    ref_forward(&r, in, NULL, NULL, B, T, lg);
    const float *L = spectra_model_logits(m);
    double worst = 0;
    for (size_t i = 0; i < (size_t)B * T * c.vocab_size; i++)
        worst = fmax(worst, fabs(L[i] - lg[i]));
    CHECK_MSG(worst < 1e-5, "logits differ from reference by %.3g", worst);
    for (int b = 0; b < B; b++)
        CHECK(spectra_model_last_logits(m, b) == L + ((size_t)b * T + T - 1) * c.vocab_size);
    /* per-token losses = -log softmax(logits)[target] */
    float keep[B * T];
    for (int i = 0; i < B * T; i++) {
        double mx = -1e300, s = 0;
        for (int j = 0; j < c.vocab_size; j++) mx = fmax(mx, lg[(size_t)i * c.vocab_size + j]);
        for (int j = 0; j < c.vocab_size; j++) s += exp(lg[(size_t)i * c.vocab_size + j] - mx);
        keep[i] = (float)(log(s) + mx - lg[(size_t)i * c.vocab_size + tg[i]]);
    }
    float loss = 0, wloss = 0;
    CHECK_OK(spectra_model_forward(m, in, tg, NULL, B, T, &loss));
    const float *tl = spectra_model_token_losses(m);
    double mean = 0;
    for (int i = 0; i < B * T; i++) {
        CHECK_NEAR(tl[i], keep[i], 1e-5);
        mean += keep[i];
    }
    CHECK_NEAR(loss, mean / (B * T), 1e-5);
    /* weights: sum w_i l_i / (B T); FreqNorm-style inverse frequencies are just weights */
    float w[B * T];
    double ws = 0;
    for (int i = 0; i < B * T; i++) {
        w[i] = (float)(1.0 / (1 + (i % 4)));
        ws += w[i] * keep[i];
    }
    CHECK_OK(spectra_model_forward(m, in, tg, w, B, T, &wloss));
    CHECK_NEAR(wloss, ws / (B * T), 1e-5);
    /* gradient accumulation: two identical forward/backward pairs give twice the grads */
    size_t n = spectra_model_num_params(m);
    float *g1 = malloc(n * sizeof *g1);
    spectra_model_zero_grad(m);
    CHECK_OK(spectra_model_forward(m, in, tg, w, B, T, NULL));
    CHECK_OK(spectra_model_backward(m));
    memcpy(g1, spectra_model_grads(m), n * sizeof *g1);
    CHECK_OK(spectra_model_forward(m, in, tg, w, B, T, NULL));
    CHECK_OK(spectra_model_backward(m));
    const float *g2 = spectra_model_grads(m);
    double gmax = 0, emax = 0;
    for (size_t i = 0; i < n; i++) {
        gmax = fmax(gmax, fabs(g1[i]));
        emax = fmax(emax, fabs(g2[i] - 2 * g1[i]));
    }
    CHECK(gmax > 0);
    CHECK_MSG(emax <= 1e-5 * gmax, "accumulated grads differ from 2x by %.3g (max %.3g)", emax, gmax);
    spectra_model_zero_grad(m);
    for (size_t i = 0; i < n; i++) CHECK(spectra_model_grads(m)[i] == 0.0f);
    /* a changed (smaller) shape reuses the buffer and still matches the reference */
    CHECK_OK(spectra_model_forward(m, in, tg, NULL, 1, 5, &loss));
    CHECK_NEAR(loss, ref_forward(&r, in, tg, NULL, 1, 5, NULL), 1e-5);
    CHECK_OK(spectra_model_forward(m, in, tg, NULL, 3, 1, &loss)); /* T = 1 */
    CHECK_NEAR(loss, ref_forward(&r, in, tg, NULL, 3, 1, NULL), 1e-5);
    /* growing past the reservation reallocates and still matches */
    size_t bytes = spectra_model_activation_bytes(m);
    CHECK_OK(spectra_model_reserve(m, 1, 4));
    CHECK(spectra_model_activation_bytes(m) == bytes); /* smaller: no reallocation */
    int32_t big_in[4 * 16], big_tg[4 * 16];
    random_tokens(big_in, 64, c.vocab_size);
    random_tokens(big_tg, 64, c.vocab_size);
    CHECK_OK(spectra_model_forward(m, big_in, big_tg, NULL, 4, 16, &loss));
    CHECK(spectra_model_activation_bytes(m) > bytes);
    CHECK_NEAR(loss, ref_forward(&r, big_in, big_tg, NULL, 4, 16, NULL), 1e-5);
    free(g1), free(lg), free(r.p);
    spectra_model_destroy(m);
}

/* The planned activation bytes equal what reserve allocates, for several configs and shapes
 * (tied and untied, GQA, explicit head_dim), and cover at least the B*T*V logits, the
 * per-layer residual streams and the MLP's gate/up outputs that the forward keeps; bad
 * input gives 0 and a message. */
static void test_activation_plan(void) {
    static const char *presets[] = {"tiny", "small", "tiny"}; /* the second tiny: tied, MHA */
    static const int shapes[][2] = {{1, 1}, {3, 7}, {8, 16}}; /* tiny's max_seq_len is 16 */
    for (int p = 0; p < 3; p++) {
        spectra_model_config c;
        CHECK_OK(spectra_model_config_from_preset(presets[p], &c));
        if (p == 0) c.head_dim = 6;
        if (p == 2) c.tied_embeddings = 1, c.n_kv_heads = c.n_heads;
        for (int s = 0; s < 3; s++) {
            const int B = shapes[s][0], T = shapes[s][1];
            size_t plan = spectra_model_config_activation_bytes(&c, B, T);
            const double N = (double)B * T, L = c.n_layers;
            double lower = 4 * (N * c.vocab_size + (2 * L + 1) * N * c.d_model + L * N * 3.0 * c.d_ff);
            CHECK_MSG(plan >= lower, "%s B=%d T=%d: planned %zu bytes < %.0f", presets[p], B, T, plan, lower);
            spectra_model *fresh = NULL;
            CHECK_OK(spectra_model_create(&fresh, &c, 1));
            if (!fresh) continue;
            CHECK_OK(spectra_model_reserve(fresh, B, T));
            CHECK_MSG(spectra_model_activation_bytes(fresh) == plan, "%s B=%d T=%d: reserve allocated %zu, planned %zu",
                      presets[p], B, T, spectra_model_activation_bytes(fresh), plan);
            spectra_model_destroy(fresh);
        }
        CHECK(spectra_model_config_activation_bytes(&c, 1, c.max_seq_len + 1) == 0);
        CHECK(strstr(spectra_last_error(), "max_seq_len") != NULL);
        CHECK(spectra_model_config_activation_bytes(&c, 0, 4) == 0);
        c.d_model = 0;
        CHECK(spectra_model_config_activation_bytes(&c, 1, 4) == 0);
    }
    CHECK(spectra_model_config_activation_bytes(NULL, 1, 1) == 0);
    CHECK(strstr(spectra_last_error(), "NULL") != NULL);
}

/* At init the logits are near zero, so the loss is near ln(vocab). */
static void test_init_loss(const char *preset, int B, int T) {
    spectra_model_config c;
    CHECK_OK(spectra_model_config_from_preset(preset, &c));
    spectra_model *m = NULL;
    CHECK_OK(spectra_model_create(&m, &c, 3));
    if (!m) return;
    int32_t *in = malloc((size_t)B * T * sizeof *in), *tg = malloc((size_t)B * T * sizeof *tg);
    random_tokens(in, (size_t)B * T, c.vocab_size);
    random_tokens(tg, (size_t)B * T, c.vocab_size);
    float loss = 0;
    CHECK_OK(spectra_model_forward(m, in, tg, NULL, B, T, &loss));
    CHECK_MSG(fabs(loss - log((double)c.vocab_size)) < 0.1, "%s: loss at init %.4f vs ln(V) %.4f",
              preset, (double)loss, log((double)c.vocab_size));
    free(in), free(tg);
    spectra_model_destroy(m);
}

int main(void) {
    spectra_rng_seed(&rng, 99);
    test_table();
    test_errors();
    test_outputs();
    test_activation_plan();
    test_init_loss("tiny", 4, 16);
    test_init_loss("small", 1, 64);

    spectra_model_config c;
    spectra_model_config_from_preset("tiny", &c);
    /* tiny as shipped: untied head, grouped KV (4 q / 2 kv heads), weighted loss; B*T
     * large enough that the kernels take their OpenMP paths */
    grad_check("tiny untied GQA weighted", c, 4, 16, 1, 100);
    /* tied head (tok_emb gets lookup + head gradients), plain MHA, uniform loss, an
     * explicit head_dim different from d_model / n_heads */
    c.tied_embeddings = 1;
    c.n_kv_heads = c.n_heads;
    c.head_dim = 6;
    c.n_layers = 1;
    grad_check("tiny tied MHA head_dim=6", c, 2, 7, 0, 50);
    return test_finish("test_model");
}
